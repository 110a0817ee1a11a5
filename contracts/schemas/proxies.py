"""Caregivers (proxies): a patient's grant of limited, expiring rights, kept by the gateway."""
from marshmallow import Schema, fields, validate

from contracts.schemas.patient_facing import DisplayDateSchema, LanguageBlockSchema, StatusTextSchema

RIGHTS = ("view-records", "manage-consents", "request-corrections")
RELATIONSHIPS = ("caregiver", "guardian")


class ProxyInviteRequestSchema(Schema):
    """The patient invites a caregiver; only the patient's own token may (not one with ``act``)."""

    rights = fields.List(fields.String(validate=validate.OneOf(RIGHTS)), required=True,
                         validate=validate.Length(min=1, max=len(RIGHTS)), metadata={
                             "description": "view-records (patient/*.rs), manage-consents "
                                            "(patient/Consent.cruds), request-corrections "
                                            "(patient/Task.c: POST /patient/v1/amendments)."})
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS), metadata={
        "description": "guardian only for a patient under 18; the grant then ends by itself "
                       "the day before the 18th birthday."})
    expires_on = fields.Date(metadata={
        "description": "The last day of access (inclusive, UTC): from today up to 5 years; "
                       "default one year from today."})
    name = fields.String(validate=validate.Length(min=1, max=80),
                         metadata={"description": "The caregiver's name, as the patient wants to see it."})


class ProxyCodedSchema(Schema):
    code = fields.String(required=True)
    display = fields.String(required=True, metadata={"description": "The code in plain words."})


class ProxyStatusSchema(StatusTextSchema):
    code = fields.String(required=True, validate=validate.OneOf(["invited", "active", "revoked", "ended"]))




class ProxyGrantSchema(Schema):
    """One caregiver as the patient sees it (contracts/PATIENT_FACING.md)."""

    id = fields.String(required=True)
    name = fields.String()
    relationship = fields.Nested(ProxyCodedSchema, required=True)
    rights = fields.List(fields.Nested(ProxyCodedSchema), required=True)
    status = fields.Nested(ProxyStatusSchema, required=True)
    expires_on = fields.Nested(DisplayDateSchema, required=True,
                               metadata={"description": "The last day of access."})
    ends_at = fields.DateTime(required=True, metadata={"description": "The first instant without access."})
    limited_by_age = fields.Boolean(required=True, metadata={
        "description": "The patient's 18th birthday, not the chosen date, ends the grant."})
    summary = fields.String(required=True)
    language = fields.Nested(LanguageBlockSchema)


class ProxyInviteSchema(ProxyGrantSchema):
    """The new grant with its invite code, shown this once."""

    invite_code = fields.String(required=True, metadata={"example": "K7QD-2MX9-PLR4"})
    invite_expires_at = fields.DateTime(required=True)
    next_step = fields.String(required=True)


class ProxyListSchema(Schema):
    items = fields.List(fields.Nested(ProxyGrantSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)
