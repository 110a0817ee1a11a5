"""Consents, decisions and break-the-glass (docs/architecture.md, "Consent rules")."""
from marshmallow import INCLUDE, Schema, fields, validate

from contracts.limits import ID_MAX, REASON_MAX
from contracts.schemas.patient_facing import (CodedSchema, DisplayDateSchema, LanguageBlockSchema,
                                              StatusTextSchema)
from contracts.vocabulary import DEPARTMENT_ID_PATTERN, PURPOSES, RESOURCE_TYPES, SENSITIVE_LABELS

PURPOSE = validate.OneOf(PURPOSES)
CLASS = validate.OneOf(RESOURCE_TYPES + SENSITIVE_LABELS)
#: The shape of a department id. Which departments exist is data (the directory), so the
#: service checks that one is registered and may receive records, and answers 422 if not.
DEPARTMENT_ID = validate.Regexp(f"^{DEPARTMENT_ID_PATTERN}$", error="Not a department id.")


class PartySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["department", "proxy", "patient"]))
    id = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))


class GranteeSchema(PartySchema):
    display = fields.String(metadata={"description": "The grantee's name in the response language."})


class PeriodRequestSchema(Schema):
    start = fields.String(metadata={"description": "ISO 8601 date or date-time; default now."})
    end = fields.String(metadata={"description": "ISO 8601 date (to the end of that day, UTC) or date-time; "
                                                 "none = until revoked."})


class GrantConsentRequestSchema(Schema):
    """The patient (or a proxy, token claim ``act``) grants a department access."""

    grantee = fields.Raw(required=True, metadata={
        "description": "A department id (a clinical or research department registered in the "
                       f"directory and active) or {{kind, id}} (an id of at most {ID_MAX} characters)."})
    purposes = fields.List(fields.String(validate=PURPOSE), required=True,
                           metadata={"description": "HL7 PurposeOfUse codes."})
    classes = fields.List(fields.String(validate=CLASS), required=True, metadata={
        "description": "FHIR resource types and sensitivity labels (PSY, SUD, HIV, SEX, GDIS)."})
    period = fields.Nested(PeriodRequestSchema)
    notify = fields.Boolean(metadata={"description": "Notify the patient on every disclosure."})




class StatusSchema(StatusTextSchema):
    code = fields.String(required=True, validate=validate.OneOf(["active", "revoked", "expired"]))


class ConsentPeriodSchema(Schema):
    start = fields.Nested(DisplayDateSchema, required=True)
    end = fields.Nested(DisplayDateSchema, allow_none=True, required=True)


class AgreedTextSchema(Schema):
    language = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "The exact words shown to the patient."})
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 (hex) of ``text`` in UTF-8."})



class PatientConsentSchema(Schema):
    """One consent as the patient sees it, in plain words (contracts/PATIENT_FACING.md)."""

    id = fields.String(required=True)
    summary = fields.String(required=True)
    status = fields.Nested(StatusSchema, required=True)
    grantee = fields.Nested(GranteeSchema, required=True)
    purposes = fields.List(fields.Nested(CodedSchema), required=True)
    classes = fields.List(fields.Nested(CodedSchema), required=True)
    period = fields.Nested(ConsentPeriodSchema, required=True)
    notify = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    created = fields.Nested(DisplayDateSchema, required=True)
    created_by = fields.Nested(PartySchema, required=True)
    agreed_text = fields.Nested(AgreedTextSchema, required=True)
    revoked = fields.Nested(DisplayDateSchema)
    revoked_by = fields.Nested(PartySchema, allow_none=True)
    expired = fields.Nested(DisplayDateSchema)
    language = fields.Nested(LanguageBlockSchema)


class PatientConsentListSchema(Schema):
    items = fields.List(fields.Nested(PatientConsentSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class DecisionRequestSchema(Schema):
    """May ACTOR receive CLASSES of PATIENT's record for PURPOSE?"""

    patient = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    actor = fields.String(required=True, validate=DEPARTMENT_ID, metadata={
        "description": "The department asking: a department id registered in the directory (an "
                       "unknown one is a 422; a disabled one is answered deny)."})
    purpose = fields.String(required=True, validate=PURPOSE)
    classes = fields.List(fields.String(validate=CLASS), required=True)


class ObligationSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, validate=validate.OneOf(["redact", "audit", "notify", "review"]))
    labels = fields.List(fields.String(), metadata={"description": "For redact: labels to remove."})


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["permit", "deny"]))
    consent_id = fields.String(allow_none=True, required=True)
    consent_version = fields.Integer(allow_none=True, required=True)
    obligations = fields.List(fields.Nested(ObligationSchema), required=True)
    basis = fields.String(validate=validate.OneOf(["consent", "break-glass"]))
    break_glass_id = fields.String()


class SensitiveClaimSchema(Schema):
    """A sensitive label an emergency claim releases, with its own written reason."""

    label = fields.String(required=True, validate=validate.OneOf(SENSITIVE_LABELS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=REASON_MAX))


class BreakGlassRequestSchema(Schema):
    """An emergency claim (scope system/BreakGlass.c, which no wildcard scope covers)."""

    patient = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=REASON_MAX))
    purpose = fields.String(validate=validate.Equal("ETREAT"))
    minutes = fields.Integer(validate=validate.Range(1, 240),
                             metadata={"description": "How long the claim lasts: default 60, at most 240."})
    sensitive = fields.List(fields.Nested(SensitiveClaimSchema), metadata={
        "description": "Sensitive labels (PSY, SUD, HIV, SEX, GDIS) to release, each once with its own "
                       "reason; a claim naming any is reviewed first. Labels not named stay redacted."})


class BreakGlassSchema(Schema):
    id = fields.String(required=True)
    patient = fields.String(required=True)
    department = fields.String(required=True)
    purpose = fields.String(required=True)
    reason = fields.String(required=True)
    sensitive = fields.List(fields.Nested(SensitiveClaimSchema), required=True)
    granted_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    decision = fields.String(required=True)
    obligations = fields.List(fields.Nested(ObligationSchema), required=True)
