"""Operations of the exchange service: requests, Bundles, the ledger, disclosures, notifications."""
from contracts.http import FHIR_JSON, PAGE_PARAMS, Operation, Response, path_param, problems
from contracts.schemas import OperationOutcomeProblemSchema
from contracts.schemas import exchange as x
from contracts.schemas.fhir import ResourceSchema

_ID = (path_param("id", "The exchange request id."),)
_PAGE = (*PAGE_PARAMS,
         {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
          "description": "en or es; else the token's locale claim."})

_STAFF_PAGE = (*_PAGE[:2], {"name": "Accept-Language", "in": "header", "required": False,
                             "schema": {"type": "string"}, "description": "en or es."})

#: An earlier verdict's entries and head: only the entries after it are hashed (O(new entries)).
_CHECKPOINT = (
    {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
     "description": "The number of the last entry an earlier verification checked (its `entries`)."},
    {"name": "hash", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
     "description": "That entry's hash (the earlier verdict's `head`); required with after."})

_SUB_ID = (path_param("id", "The subscription id."),)
_FHIR_PROBLEMS = dict(schema=OperationOutcomeProblemSchema, media_type=FHIR_JSON)

OPERATIONS: tuple[Operation, ...] = (
    # FHIR R4 Subscription (rest-hook, id-only), served by the exchange at the FHIR API's path
    Operation("post", "/fhir/Subscription", "Subscribe to one patient's new or changed records of one type",
              "fhir",
              (Response(201, "The stored Subscription, active. Notifications carry ids only, and go out only "
                             "while the patient's consent lets the department see that type; each one is in "
                             "the disclosure ledger.", ResourceSchema, FHIR_JSON),
               Response(200, "The department held this same Subscription already (same patient, type, endpoint "
                             "and every other element): that one, as a conditional create that matched.",
                        ResourceSchema, FHIR_JSON),
               # 409: too many held, or one on the same patient, type and endpoint that differs elsewhere
               *problems(400, 401, 403, 409, 413, 422, **_FHIR_PROBLEMS)),
              request=ResourceSchema, request_media_type=FHIR_JSON, scopes=("system/Subscription.c",)),
    Operation("get", "/fhir/Subscription", "My department's subscriptions", "fhir",
              (Response(200, "A searchset Bundle, newest first.", ResourceSchema, FHIR_JSON),
               *problems(400, 401, 403, **_FHIR_PROBLEMS)),
              scopes=("system/Subscription.s",),
              parameters=({"name": "patient", "in": "query", "required": False, "schema": {"type": "string"},
                           "description": "Only those on this patient (id or Patient/id)."},
                          {"name": "_count", "in": "query", "required": False,
                           "schema": {"type": "integer", "minimum": 1, "maximum": 100}})),
    Operation("get", "/fhir/Subscription/{id}", "One of my department's subscriptions", "fhir",
              (Response(200, "The Subscription (header values are not shown).", ResourceSchema, FHIR_JSON),
               *problems(401, 403, 404, **_FHIR_PROBLEMS)),
              scopes=("system/Subscription.r",), parameters=_SUB_ID),
    Operation("delete", "/fhir/Subscription/{id}", "Stop one of my department's subscriptions", "fhir",
              (Response(204, "Stopped: nothing more is sent for it."),
               *problems(401, 403, 404, **_FHIR_PROBLEMS)),
              scopes=("system/Subscription.d",), parameters=_SUB_ID),
    Operation("post", "/exchange/v1/requests", "Ask for a patient's records, under their consent", "exchange",
              (Response(202, "Accepted: follow the status at /exchange/v1/requests/{id}.", x.AcceptedSchema),
               *problems(401, 403, 422)), request=x.ExchangeRequestSchema, scopes=("system/Exchange.c",)),
    Operation("get", "/exchange/v1/requests/{id}", "The status of one of my department's requests", "exchange",
              (Response(200, "pending, fulfilled, denied or failed, with the reason in words.",
                        x.ExchangeStatusSchema), *problems(401, 403, 404)),
              scopes=("system/Exchange.r",), parameters=_ID),
    Operation("get", "/exchange/v1/requests/{id}/bundle", "Download the released Bundle (decided afresh)",
              "exchange",
              (Response(200, "A collection Bundle, sensitive records redacted as the consent says.",
                        ResourceSchema, FHIR_JSON), *problems(401, 403, 404, 409, 410)),
              scopes=("system/Exchange.r",), parameters=_ID),
    Operation("get", "/exchange/v1/ledger/verify", "Check the disclosure ledger's hash chain", "oversight",
              (Response(200, "valid, or the entries that were edited or removed.", x.LedgerVerdictSchema),
               *problems(401, 403, 422)), scopes=("system/Exchange.r",), parameters=_CHECKPOINT),
    Operation("get", "/patient/v1/disclosures", "Who saw my records, when, why, under which consent",
              "patient", (Response(200, "One page, newest first.", x.DisclosurePageSchema), *problems(401, 403, 422)),
              scopes=("patient/AuditEvent.s",), parameters=_PAGE, patient_facing=True),
    Operation("get", "/patient/v1/notifications", "My notifications: disclosures, emergencies, consents",
              "patient", (Response(200, "One page, newest first.", x.NotificationPageSchema),
                          *problems(401, 403, 422)),
              scopes=("patient/Communication.s",), parameters=_PAGE, patient_facing=True),
    # department staff (a person signed in for their department: user/ scopes)
    Operation("get", "/staff/v1/inbox", "My department's exchange requests, with what to do next", "staff",
              (Response(200, "One page, newest first; each with its reason and next step in words.",
                        x.StaffRequestPageSchema), *problems(401, 403, 422)),
              scopes=("user/Exchange.r",), parameters=_STAFF_PAGE),
    Operation("get", "/staff/v1/inbox/notices",
              "Notices to my department: consents it received records under that ended (revoked or expired)",
              "staff", (Response(200, "One page, newest first; each with the releases the consent covered and "
                                      "its signed webhook's delivery, when the department registered a URL.",
                                 x.DepartmentNoticePageSchema), *problems(401, 403, 422)),
              scopes=("user/Communication.rs",), parameters=_STAFF_PAGE),
    Operation("get", "/staff/v1/inbox/notices/{id}", "One notice to my department, with each try of its webhook",
              "staff", (Response(200, "The notice.", x.DepartmentNoticeSchema), *problems(401, 403, 404)),
              scopes=("user/Communication.r",), parameters=_ID),
    Operation("post", "/staff/v1/requests", "Ask for a patient's records for my department", "staff",
              (Response(202, "Accepted: follow the status at /staff/v1/requests/{id}.", x.AcceptedSchema),
               *problems(401, 403, 422)), request=x.ExchangeRequestSchema, scopes=("user/Exchange.c",)),
    Operation("get", "/staff/v1/requests/{id}", "One of my department's exchange requests", "staff",
              (Response(200, "Its status, the reason and the next step in words.", x.StaffRequestSchema),
               *problems(401, 403, 404)), scopes=("user/Exchange.r",), parameters=_ID),
    Operation("get", "/staff/v1/break-glass-reviews", "Emergency claims on my department's patients, to review",
              "staff", (Response(200, "One page: claims that named a sensitive class first, then the oldest.",
                                 x.BreakGlassReviewPageSchema), *problems(401, 403, 422)),
              scopes=("user/BreakGlassReview.rs",),
              parameters=(*_STAFF_PAGE, {"name": "status", "in": "query", "required": False,
                                         "schema": {"type": "string", "enum": ["open", "reviewed"]},
                                         "description": "Only open or only reviewed claims (both when absent)."})),
    Operation("get", "/staff/v1/disclosures", "Every release of my department's patients' records (the ledger)",
              "staff", (Response(200, "One page, newest first.", x.StaffDisclosurePageSchema),
                        *problems(401, 403, 422)),
              scopes=("user/AuditEvent.rs",),
              parameters=(*_STAFF_PAGE, {"name": "patient", "in": "query", "required": False,
                                         "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                                         "description": "Only this patient's releases."})),
    Operation("get", "/staff/v1/break-glass-reviews/{id}", "One emergency claim, with what was released under it",
              "staff", (Response(200, "The claim, what was released and kept back, and its review.",
                                 x.BreakGlassReviewSchema), *problems(401, 403, 404)),
              scopes=("user/BreakGlassReview.r",), parameters=(path_param("id", "The claim's id."),)),
    Operation("post", "/staff/v1/break-glass-reviews/{id}", "Record whether an emergency claim was justified",
              "staff", (Response(200, "Recorded; the patient is told.", x.BreakGlassReviewSchema),
                        *problems(401, 403, 404, 409, 422)),
              request=x.ReviewBodySchema, scopes=("user/BreakGlassReview.u",),
              parameters=(path_param("id", "The claim's id."),)),
)
