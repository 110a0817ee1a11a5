"""Operations of patients' own apps (SMART App Launch 2), served by the gateway itself: dynamic
registration (RFC 7591), OpenID Connect userinfo, and the patient's list of connected apps."""
from contracts.http import Operation, Response, path_param, problems
from contracts.schemas import oauth as o

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/oauth/register", "Register a patient's app (RFC 7591)", "auth",
              (Response(201, "The app's client id and its registered metadata.", o.ClientRegistrationSchema),
               Response(400, "invalid_redirect_uri or invalid_client_metadata (RFC 7591 section 3.2.2).",
                        o.OAuthErrorSchema),
               *problems(413, 429)),
              request=o.ClientRegistrationRequestSchema),
    Operation("get", "/oauth/userinfo", "Who the token's person is (OpenID Connect Core 5.3)", "auth",
              (Response(200, "The person's subject and FHIR resource.", o.UserInfoSchema),
               *problems(401, 403)),
              scopes=("openid",)),
    Operation("get", "/patient/v1/apps", "The apps the patient connected (the portal's token only)", "patient",
              (Response(200, "Every app, most recently used first.", o.ConnectedAppListSchema),
               *problems(401, 403)),
              scopes=("patient/Consent.s",)),
    Operation("delete", "/patient/v1/apps/{id}", "Disconnect an app: its tokens stop at once", "patient",
              (Response(204, "Disconnected; the gateway refused its tokens before this answer."),
               *problems(401, 403, 404)),
              scopes=("patient/Consent.d",), parameters=(path_param("id", "The app's client id."),)),
)
