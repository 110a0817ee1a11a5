"""Operations of the patient's own record (records service): me, records, entries, amendments."""
from contracts.http import Operation, Response, path_param, problems
from contracts.schemas import patient_records as s

_LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "en or es; else the token's locale, else the patient's preferred language. "
                            "Other languages fall back to en with an interpreter offer."}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "An ETag from an earlier answer: 304 when nothing changed."}

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/patient/v1/me", "My details: name, preferred language, interpreter flag, proxies",
              "patient", (Response(200, "Who I am (ETag).", s.MeSchema), Response(304, "Not modified."),
                          *problems(401, 403, 404)),
              scopes=("patient/Patient.r",), parameters=(_LANGUAGE, _IF_NONE_MATCH), patient_facing=True),
    Operation("get", "/patient/v1/records", "My records in plain words, newest first, in pages", "patient",
              (Response(200, "One page: {items, next} (ETag).", s.RecordPageSchema),
               Response(304, "Not modified."), *problems(401, 403, 422)),
              scopes=("patient/*.rs",), patient_facing=True,
              parameters=(
                  {"name": "category", "in": "query", "required": False,
                   "schema": {"type": "string", "enum": list(s.RECORD_CATEGORIES)},
                   "description": "Only this kind of record."},
                  {"name": "limit", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                  {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "The `next` of the page before (opaque)."},
                  _LANGUAGE, _IF_NONE_MATCH)),
    Operation("get", "/patient/v1/records/{id}", "One of my records in plain words", "patient",
              (Response(200, "The record (ETag).", s.EntryCreatedSchema), Response(304, "Not modified."),
               *problems(401, 403, 404)),
              scopes=("patient/*.r",), patient_facing=True,
              parameters=(path_param("id", "An item's id (or its reference Type/id)."), _LANGUAGE, _IF_NONE_MATCH)),
    Operation("post", "/patient/v1/entries", "Add a home reading or a symptom note to my record", "patient",
              (Response(201, "Stored as a patient-reported FHIR Observation; the item.", s.EntryCreatedSchema),
               *problems(401, 403, 404, 422)),
              request=s.EntryRequestSchema, scopes=("patient/Observation.c",), parameters=(_LANGUAGE,),
              patient_facing=True),
    Operation("post", "/patient/v1/amendments", "Ask the custodian department to correct one of my records",
              "patient", (Response(201, "Stored as a FHIR Task (status requested).", s.AmendmentCreatedSchema),
                          *problems(401, 403, 404, 422)),
              request=s.AmendmentRequestSchema, scopes=("patient/Task.c",), parameters=(_LANGUAGE,),
              patient_facing=True),
    Operation("get", "/patient/v1/amendments", "My correction requests and where each one stands", "patient",
              (Response(200, "Newest first, status in words.", s.AmendmentListSchema), *problems(401, 403)),
              scopes=("patient/*.r",), parameters=(_LANGUAGE,), patient_facing=True),
)
