"""Operations of the consent service: the patient's consents, decisions, break-the-glass, FHIR Consent."""
from contracts.http import FHIR_JSON, Operation, Response, path_param, problems
from contracts.schemas import OperationOutcomeProblemSchema
from contracts.schemas import consent as c
from contracts.schemas.fhir import ResourceSchema

_ID = (path_param("id", "The consent id."),)

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
    Operation("get", "/fhir/Consent", "The patient's consents naming the calling department (FHIR R4)", "fhir",
              (Response(200, "A searchset Bundle of Consent resources.", ResourceSchema, FHIR_JSON),
               *problems(400, 401, 403, schema=OperationOutcomeProblemSchema)),
              scopes=("system/Consent.r",),
              parameters=({"name": "patient", "in": "query", "required": True,
                           "schema": {"type": "string"}, "description": "The patient's FHIR id."},)),
)
