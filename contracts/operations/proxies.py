"""Operations of caregiver (proxy) access, served by the gateway itself (its accounts and caregivers)."""
from contracts.http import Operation, Response, path_param, problems
from contracts.schemas import proxies as p

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/patient/v1/proxies", "Give a caregiver limited rights until a date", "patient",
              (Response(201, "The grant and a one-time invite code for the caregiver.", p.ProxyInviteSchema),
               *problems(400, 401, 403, 409, 422)),
              request=p.ProxyInviteRequestSchema, scopes=("patient/Consent.c",), patient_facing=True),
    Operation("get", "/patient/v1/proxies", "The patient's caregivers in plain words", "patient",
              (Response(200, "Every grant, newest first.", p.ProxyListSchema), *problems(401, 403)),
              scopes=("patient/Consent.s",), patient_facing=True),
    Operation("delete", "/patient/v1/proxies/{id}", "Stop a caregiver's rights at once (again is harmless)",
              "patient",
              (Response(200, "The revoked grant; its tokens stopped working before this answer.",
                        p.ProxyGrantSchema), *problems(401, 403, 404)),
              scopes=("patient/Consent.d",), parameters=(path_param("id", "The grant id."),),
              patient_facing=True),
)
