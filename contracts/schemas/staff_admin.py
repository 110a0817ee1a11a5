"""A department's staff as its admins see them (``/staff/v1/admin/``), and the first admin's
invite the platform's administrators create (``/admin/v1/departments/{id}/invites``).

Roles are contracts.vocabulary.STAFF_ROLES; each comes back with its words in the caller's
language, as does each account's status.
"""
from marshmallow import Schema, ValidationError, fields, validate

from contracts.http import FHIR_ID_PATTERN
from contracts.schemas.patient_facing import DisplayDateSchema, StatusTextSchema
from contracts.vocabulary import STAFF_ROLES

DISPLAY_NAME_MAX = 80
STAFF_STATUSES = ("pending", "active", "disabled")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Write some words, not only spaces.")


def _no_repeats(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Name each role once.")


def _roles(description: str):
    return fields.List(fields.String(validate=validate.OneOf(STAFF_ROLES)), required=True,
                       validate=[validate.Length(min=1, max=len(STAFF_ROLES)), _no_repeats],
                       metadata={"description": description, "example": ["clinician"]})


class StaffInviteRequestSchema(Schema):
    """Invite a person to the department's staff: their roles and the name others see."""

    roles = _roles("The person's roles: one or more of " + ", ".join(STAFF_ROLES) + ".")
    display_name = fields.String(required=True, validate=[
        validate.Length(min=1, max=DISPLAY_NAME_MAX), _not_blank], metadata={"example": "Dr. Ana Ruiz"})
    practitioner = fields.String(validate=validate.Regexp(FHIR_ID_PATTERN), metadata={
        "description": "The person's FHIR Practitioner id, when they have one (else one is made)."})


class StaffRolesSchema(Schema):
    """A person's roles, the whole set (``PUT``)."""

    roles = _roles("The roles the person has from now on (their live tokens end).")


class NoBodySchema(Schema):
    """An empty JSON object (or no body at all)."""


class StaffRoleSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(STAFF_ROLES))
    display = fields.String(required=True, metadata={"description": "The role in words.",
                                                     "example": "Clinician"})


class StaffAccountSchema(Schema):
    """One member of the department's staff."""

    id = fields.String(required=True, metadata={"description": "The staff account's id (the sub of its tokens)."})
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    practitioner = fields.String(required=True, metadata={"description": "fhirUser is Practitioner/<this>."})
    roles = fields.List(fields.Nested(StaffRoleSchema), required=True)
    status = fields.Nested(StatusTextSchema, required=True, metadata={
        "description": "pending (has not set up the second step yet), active or disabled."})


class StaffListSchema(Schema):
    department = fields.String(required=True)
    items = fields.List(fields.Nested(StaffAccountSchema), required=True)


class StaffInviteSchema(Schema):
    """An invite just made. ``invite_code`` is shown this once; give it to the person, who makes
    their account with it on the console's join page."""

    id = fields.String(required=True)
    department = fields.String(required=True)
    display_name = fields.String(required=True)
    roles = fields.List(fields.Nested(StaffRoleSchema), required=True)
    invite_code = fields.String(required=True, metadata={"example": "ABCD-EFGH-JKMN"})
    expires = fields.Nested(DisplayDateSchema, required=True)
