"""Portal accounts: activation codes and activation (docs/architecture.md, "Security model")."""
from marshmallow import Schema, fields, validate

from contracts.http import FHIR_ID_PATTERN


class ActivationCodeRequestSchema(Schema):
    """A custodian department asks for a code for one of its patients."""

    patient = fields.String(required=True, validate=validate.Regexp(FHIR_ID_PATTERN, error="'patient' is not a FHIR id."),
                            metadata={"description": "The patient's FHIR id."})


class ActivationCodeSchema(Schema):
    code = fields.String(required=True, metadata={"example": "K7QD-2MX9-PLR4"})
    expires_at = fields.DateTime(required=True)
    patient = fields.String(required=True)


class ActivateRequestSchema(Schema):
    """The patient opens a portal account with the code, the birth date and a new password."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    birth_date = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$"),
                               metadata={"format": "date"})
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._@\-]{3,64}$"))
    # The minimum length is documented here and checked by the gateway, which explains it in
    # the patient's language ("Choose a password of at least 10 characters.").
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256),
                             metadata={"minLength": 10})


class ActivatedAccountSchema(Schema):
    username = fields.String(required=True)
    patient = fields.String(required=True)
