"""Operations of the consent service: the patient's consents, decisions, break-the-glass, FHIR Consent."""
from contracts.http import FHIR_JSON, PAGE_PARAMS, Operation, Response, path_param, problems
from contracts.schemas import OperationOutcomeProblemSchema
from contracts.schemas import consent as c
from contracts.schemas.fhir import ResourceSchema

_ID = (path_param("id", "The consent id."),)
_REQUEST_ID = (path_param("id", "The sharing request id."),)
_PAGE = (*PAGE_PARAMS,
         {"name": "status", "in": "query", "required": False,
          "schema": {"type": "string", "enum": list(c.SHARING_STATUSES)},
          "description": "Only the requests with this status now."})

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/patient/v1/consents", "The patient's consents in plain words", "patient",
              (Response(200, "Every consent, newest first.", c.PatientConsentListSchema),
               *problems(401, 403)), scopes=("patient/Consent.s",), patient_facing=True),
    Operation("post", "/patient/v1/consents", "Grant a department access to some data", "patient",
              (Response(201, "The consent, with its id and the exact text agreed.", c.PatientConsentSchema),
               *problems(401, 403, 422)),
              request=c.GrantConsentRequestSchema, scopes=("patient/Consent.c",), patient_facing=True),
    Operation("get", "/patient/v1/consents/{id}", "One of the patient's consents", "patient",
              (Response(200, "The consent.", c.PatientConsentSchema), *problems(401, 403, 404)),
              scopes=("patient/Consent.r",), parameters=_ID, patient_facing=True),
    Operation("delete", "/patient/v1/consents/{id}", "Revoke a consent at once (again is harmless)", "patient",
              (Response(200, "The revoked consent; it stopped counting before this answer.",
                        c.PatientConsentSchema), *problems(401, 403, 404)),
              scopes=("patient/Consent.d",), parameters=_ID, patient_facing=True),
    Operation("get", "/patient/v1/sharing-requests", "Departments' requests that the patient share records",
              "patient",
              (Response(200, "Requests waiting for an answer and those of the last 90 days, newest first, each "
                             "with the exact consent text it would grant.", c.PatientSharingRequestListSchema),
               *problems(401, 403)), scopes=("patient/Consent.s",), patient_facing=True),
    Operation("get", "/patient/v1/sharing-requests/{id}", "One department's request that the patient share",
              "patient", (Response(200, "The request, with the exact consent text it would grant while it waits.",
                                   c.PatientSharingRequestSchema), *problems(401, 403, 404)),
              scopes=("patient/Consent.r",), parameters=_REQUEST_ID, patient_facing=True),
    Operation("post", "/patient/v1/sharing-requests/{id}/approve",
              "Say yes: grant the consent the request asks for, with its text", "patient",
              (Response(201, "The request, approved, with the consent it granted.", c.SharingApprovalSchema),
               *problems(401, 403, 404, 409, 422)),  # 409: answered before, expired, or its text changed
              request=c.SharingAnswerRequestSchema, scopes=("patient/Consent.c",), parameters=_REQUEST_ID,
              patient_facing=True),
    Operation("post", "/patient/v1/sharing-requests/{id}/decline", "Say no: nothing is shared", "patient",
              (Response(200, "The request, declined.", c.PatientSharingRequestSchema),
               *problems(401, 403, 404, 409, 422)),
              scopes=("patient/Consent.c",), parameters=_REQUEST_ID, patient_facing=True),
    Operation("post", "/staff/v1/sharing-requests", "Ask a patient to share records with your department", "staff",
              (Response(201, "The request, waiting for the patient.", c.StaffSharingRequestSchema),
               *problems(401, 403, 409, 422)),  # 409: the same request waits already, or too many do
              request=c.SharingRequestCreateSchema, scopes=("user/SharingRequest.c",)),
    Operation("get", "/staff/v1/sharing-requests", "Your department's sharing requests", "staff",
              (Response(200, "Newest first, a page at a time.", c.StaffSharingRequestListSchema),
               *problems(401, 403, 422)), scopes=("user/SharingRequest.r",), parameters=_PAGE),
    Operation("get", "/staff/v1/sharing-requests/{id}", "One of your department's sharing requests", "staff",
              (Response(200, "The request.", c.StaffSharingRequestSchema), *problems(401, 403, 404)),
              scopes=("user/SharingRequest.r",), parameters=_REQUEST_ID),
    Operation("post", "/consent/v1/decisions", "May this department have this data for this purpose?", "consent",
              (Response(200, "permit or deny, the consent it rests on, and obligations.", c.DecisionSchema),
               *problems(401, 403, 422)),  # 403 also: ``actor`` names another department
              request=c.DecisionRequestSchema, scopes=("system/Consent.r",)),
    Operation("post", "/consent/v1/break-glass", "Claim an emergency: a time-limited, flagged permit", "consent",
              (Response(201, "The emergency grant and its obligations.", c.BreakGlassSchema),
               Response(200, "This department's claim for this patient already in force; nothing new "
                             "was recorded.", c.BreakGlassSchema),
               *problems(401, 403, 422)),
              request=c.BreakGlassRequestSchema, scopes=("system/BreakGlass.c",)),
    Operation("post", "/staff/v1/break-glass", "Claim an emergency in person: a clinician of the department",
              "consent",
              (Response(201, "The emergency grant, naming the clinician, and its obligations. A colleague's "
                             "claim in force does not stand for this one: each person's claim is their own.",
                             c.BreakGlassSchema),
               Response(200, "This clinician's own claim for this patient already in force; nothing new "
                             "was recorded.", c.BreakGlassSchema),
               *problems(401, 403, 422)),
              request=c.BreakGlassRequestSchema, scopes=("user/BreakGlass.c",)),
    Operation("get", "/fhir/Consent", "The patient's consents naming the calling department (FHIR R4)", "fhir",
              (Response(200, "A searchset Bundle of Consent resources.", ResourceSchema, FHIR_JSON),
               *problems(400, 401, 403, schema=OperationOutcomeProblemSchema, media_type=FHIR_JSON)),
              scopes=("system/Consent.r",),
              parameters=({"name": "patient", "in": "query", "required": True,
                           "schema": {"type": "string"}, "description": "The patient's FHIR id."},)),
)
