"""Operations of correction requests after they are filed (records service): the custodian
department's records officers' worklist and answers, and the patient's statement of disagreement."""
from contracts.http import FHIR_ID_PATTERN, PAGE_PARAMS, Operation, Response, path_param, problems
from contracts.schemas import patient_records as p
from contracts.schemas import staff_records as s

_LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "en or es (the words of each item); else the token's locale, else en."}
_ID = path_param("id", "The correction request's id (its FHIR Task id).", FHIR_ID_PATTERN)
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "amend: the record's version the correction was made on, W/\"<versionId>\" "
                            "(412 when the record changed since)."}

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/staff/v1/corrections", "The department's correction requests, oldest first", "staff",
              (Response(200, "Each with the patient's words, the record, when asked, the due date and "
                             "the days left.", s.StaffCorrectionListSchema),
               *problems(401, 403, 422)),
              scopes=("user/Task.rs",),
              parameters=({"name": "status", "in": "query", "required": False,
                           "schema": {"type": "string", "enum": list(s.CORRECTION_STATES), "default": "open"},
                           "description": "open (waiting for an answer) or answered."}, *PAGE_PARAMS,
                          _LANGUAGE)),
    Operation("get", "/staff/v1/corrections/{id}", "One of the department's correction requests", "staff",
              (Response(200, "The request.", s.StaffCorrectionSchema), *problems(401, 403, 404)),
              scopes=("user/Task.r",), parameters=(_ID, _LANGUAGE)),
    Operation("post", "/staff/v1/corrections/{id}/accept",
              "Accept a correction request: amend the record or mark it entered in error", "staff",
              (Response(200, "Answered: the record's new version, the Task completed, a Provenance "
                             "naming the officer.", s.StaffCorrectionSchema),
               *problems(400, 401, 403, 404, 409, 412, 413, 422)),
              request=s.AcceptCorrectionSchema, scopes=("user/Task.u",), parameters=(_ID, _IF_MATCH, _LANGUAGE)),
    Operation("post", "/staff/v1/corrections/{id}/deny", "Deny a correction request, saying why", "staff",
              (Response(200, "Answered: the Task rejected with the reason, a Provenance naming the officer.",
                        s.StaffCorrectionSchema),
               *problems(400, 401, 403, 404, 409, 413, 422)),
              request=s.DenyCorrectionSchema, scopes=("user/Task.u",), parameters=(_ID, _LANGUAGE)),
    Operation("post", "/patient/v1/corrections/{id}/disagreement",
              "Disagree with a denied correction request, in my words", "patient",
              (Response(201, "Kept with the record (a FHIR DocumentReference) and sent with it.",
                        p.AmendmentCreatedSchema),
               *problems(401, 403, 404, 409, 413, 422)),
              request=p.DisagreementRequestSchema, scopes=("patient/Task.c",),
              parameters=(path_param("id", "The correction request's id (from /patient/v1/amendments)."),
                          _LANGUAGE),
              patient_facing=True),
)
