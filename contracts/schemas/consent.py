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
    start_within_ms = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "On a permit: start acting on it (a subscription's notification) within this many "
                       "milliseconds of sending the question, or ask again. A revoke of the consent answers "
                       "only after twice this long, so nothing starts on this permit after the revoke returned."})


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
    claimed_by = fields.Nested(lambda: PersonSchema(), allow_none=True, required=True, metadata={
        "description": "The clinician who claimed it (POST /staff/v1/break-glass); null for the "
                       "department's own client."})
    sensitive = fields.List(fields.Nested(SensitiveClaimSchema), required=True)
    granted_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    decision = fields.String(required=True)
    obligations = fields.List(fields.Nested(ObligationSchema), required=True)


# -- sharing requests: a department's clinician asks a patient to share ---------------------------

SHARING_STATUSES = ("pending", "approved", "declined", "expired")
#: The longest consent a sharing request may ask for, in days (a year); an end date is bounded alike.
SHARING_MAX_DAYS = 366


class SharingPeriodRequestSchema(Schema):
    """How long the consent would last: DAYS from the patient's yes, or until END (one of them)."""

    days = fields.Integer(validate=validate.Range(1, SHARING_MAX_DAYS), strict=True,
                          metadata={"description": "Days from the moment the patient approves."})
    end = fields.String(validate=validate.Length(min=10, max=40), metadata={
        "description": "ISO 8601 date (to the end of that day, UTC) or date-time, within a year."})


class SharingRequestCreateSchema(Schema):
    """A clinician (scope user/SharingRequest.c) asks a patient to share some kinds of record with
    the clinician's department (the token's ``dept``), for one purpose, in their own words."""

    patient = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    classes = fields.List(fields.String(validate=CLASS), required=True, validate=validate.Length(min=1), metadata={
        "description": "FHIR resource types and sensitivity labels (PSY, SUD, HIV, SEX, GDIS)."})
    purposes = fields.List(fields.String(validate=PURPOSE), required=True, validate=validate.Length(equal=1),
                           metadata={"description": "Exactly one HL7 PurposeOfUse code."})
    period = fields.Nested(SharingPeriodRequestSchema, required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=REASON_MAX), metadata={
        "description": "Why, in plain words: shown to the patient as the clinician wrote it."})
    exchange_request = fields.String(allow_none=True, validate=validate.Length(min=1, max=ID_MAX), metadata={
        "description": "The denied exchange request this one follows, if any."})


class SharingAnswerRequestSchema(Schema):
    """The patient's approval; TEXT_SHA256, when sent, must be the consent text they read."""

    text_sha256 = fields.String(validate=validate.Regexp("^[0-9a-f]{64}$"), metadata={
        "description": "SHA-256 (hex) of the consent text shown; a text that changed since is a 409."})


class SharingStatusSchema(StatusTextSchema):
    code = fields.String(required=True, validate=validate.OneOf(SHARING_STATUSES))


class NamedPartySchema(Schema):
    id = fields.String(required=True)
    display = fields.String(required=True, metadata={"description": "Its name in the response language."})


class PersonSchema(Schema):
    sub = fields.String(required=True, metadata={"description": "The staff account id."})
    fhirUser = fields.String(allow_none=True, required=True, metadata={"description": "Practitioner/<id>."})


class SharingPeriodSchema(Schema):
    days = fields.Integer(allow_none=True, required=True)
    end = fields.Nested(DisplayDateSchema, allow_none=True, required=True)
    display = fields.String(required=True, metadata={"description": "How long, in words."})


class StaffSharingRequestSchema(Schema):
    """A department's sharing request as its staff see it, with its words in their language."""

    id = fields.String(required=True)
    patient = fields.String(required=True)
    department = fields.Nested(NamedPartySchema, required=True)
    requested_by = fields.Nested(PersonSchema, required=True)
    classes = fields.List(fields.Nested(CodedSchema), required=True)
    purposes = fields.List(fields.Nested(CodedSchema), required=True)
    period = fields.Nested(SharingPeriodSchema, required=True)
    reason = fields.String(required=True)
    exchange_request = fields.String(allow_none=True, required=True)
    status = fields.Nested(SharingStatusSchema, required=True)
    created = fields.Nested(DisplayDateSchema, required=True)
    expires = fields.Nested(DisplayDateSchema, required=True)
    answered = fields.Nested(DisplayDateSchema, allow_none=True, required=True)
    answered_by = fields.Nested(PartySchema, allow_none=True, required=True)
    consent_id = fields.String(allow_none=True, required=True)
    next_step = fields.String(required=True, metadata={"description": "What to do now, in words."})


class StaffSharingRequestListSchema(Schema):
    items = fields.List(fields.Nested(StaffSharingRequestSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class RoleSchema(Schema):
    code = fields.String(required=True, metadata={"description": "A staff role (contracts.vocabulary.STAFF_ROLES)."})
    display = fields.String(required=True)


class AskerSchema(Schema):
    role = fields.Nested(RoleSchema, allow_none=True, required=True)
    display = fields.String(required=True, metadata={"description": "Who asks, in words (a role, not a name)."})


class TheirWordsSchema(Schema):
    """The clinician's reason exactly as written: their words, not ours (not checked for reading level)."""

    intro = fields.String(required=True)
    quote = fields.String(required=True)


class PatientSharingRequestSchema(Schema):
    """A department's request, as the patient reads it (contracts/PATIENT_FACING.md)."""

    id = fields.String(required=True)
    summary = fields.String(required=True)
    status = fields.Nested(SharingStatusSchema, required=True)
    department = fields.Nested(NamedPartySchema, required=True)
    asked_by = fields.Nested(AskerSchema, required=True)
    classes = fields.List(fields.Nested(CodedSchema), required=True)
    purposes = fields.List(fields.Nested(CodedSchema), required=True)
    period = fields.Nested(SharingPeriodSchema, required=True)
    reason = fields.Nested(TheirWordsSchema, required=True)
    consent_text = fields.Nested(AgreedTextSchema, allow_none=True, required=True, metadata={
        "description": "The exact consent the patient would agree to, while the request is pending."})
    created = fields.Nested(DisplayDateSchema, required=True)
    expires = fields.Nested(DisplayDateSchema, required=True)
    answered = fields.Nested(DisplayDateSchema, allow_none=True, required=True)
    consent_id = fields.String(allow_none=True, required=True)
    next_step = fields.String(required=True)
    language = fields.Nested(LanguageBlockSchema)


class PatientSharingRequestListSchema(Schema):
    items = fields.List(fields.Nested(PatientSharingRequestSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class SharingApprovalSchema(PatientSharingRequestSchema):
    """An approved request with the consent it granted."""

    consent = fields.Nested(PatientConsentSchema, required=True)
