"""Operations of the exchange service for notices outside the app: a person's choices and addresses."""
from contracts.http import Operation, Response, path_param, problems
from contracts.schemas import notices as s

_LANG = ({"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
          "description": "en or es; else the token's locale claim."},)
_ADDRESS = (*_LANG, path_param("id", "The address's id."))
# Reading needs the write scope too: the addresses are contact details a patient's own app
# (read scopes only) must never see.
_READ = _WRITE = ("patient/Communication.u",)
PATH = "/patient/v1/notification-preferences"

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", PATH, "How my notices reach me: my choice per topic and my addresses", "patient",
              (Response(200, "Every topic with its channel, and my addresses.", s.NoticePreferencesSchema),
               *problems(401, 403)), scopes=_READ, parameters=_LANG, patient_facing=True),
    Operation("put", PATH, "Choose in-app only, email or text message for some topics", "patient",
              (Response(200, "The choices as now kept.", s.NoticePreferencesSchema),
               *problems(400, 401, 403, 413, 422)),
              request=s.ChoicesBodySchema, scopes=_WRITE, parameters=_LANG, patient_facing=True),
    Operation("post", f"{PATH}/addresses", "Add or change my email address or mobile number; a code is sent to it",
              "patient", (Response(201, "Kept, not confirmed yet: type the code sent to it.", s.AddressSchema),
                          *problems(400, 401, 403, 413, 422, 429, 503)),
              request=s.AddressBodySchema, scopes=_WRITE, parameters=_LANG, patient_facing=True),
    Operation("post", f"{PATH}/addresses/{{id}}/verify", "Confirm an address with the code sent to it",
              "patient", (Response(200, "Confirmed: notices may go to it now.", s.AddressSchema),
                          *problems(400, 401, 403, 404, 413, 422)),
              request=s.CodeBodySchema, scopes=_WRITE, parameters=_ADDRESS, patient_facing=True),
    Operation("post", f"{PATH}/addresses/{{id}}/resend", "Send a new code to an address", "patient",
              (Response(200, "A new code was sent.", s.AddressSchema), *problems(401, 403, 404, 429, 503)),
              scopes=_WRITE, parameters=_ADDRESS, patient_facing=True),
    Operation("delete", f"{PATH}/addresses/{{id}}", "Remove an address; topics sent to it go back to in-app only",
              "patient", (Response(204, "Removed."), *problems(401, 403, 404)),
              scopes=_WRITE, parameters=_ADDRESS, patient_facing=True),
)
