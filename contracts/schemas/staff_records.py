"""Correction requests as a custodian department's records officer sees and answers them
(``/staff/v1/corrections``, records service; scopes ``user/Task.rs`` and ``user/Task.u``).

A correction request is the FHIR R4 Task a patient filed (contracts/schemas/patient_records.py).
The custodian must act on it within 60 days of receipt (45 CFR 164.526(b)(2)): each item says
when it was asked, its due date and the days left (negative once overdue). An officer accepts it
(``amend``: the corrected resource, same type and id, stored as a new version as a FHIR update
is; or ``entered-in-error``: the record marked so) or denies it with a reason in plain words.
Each answer completes or rejects the Task and is kept as a FHIR R4 Provenance naming the
officer (agent.who = the token's fhirUser, onBehalfOf = the department), linked from
Task.relevantHistory. Item words come in the Accept-Language language (en, es).
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.limits import REASON_MAX
from contracts.schemas.patient_facing import DisplayDateSchema, LanguageBlockSchema, StatusTextSchema

#: How an officer accepts a request, and the worklist's two views.
CORRECTION_ACTIONS = ("amend", "entered-in-error")
CORRECTION_STATES = ("open", "answered")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Write some words, not only spaces.")


class AcceptCorrectionSchema(Schema):
    """Accept a correction request: amend the record, or mark it entered in error."""

    action = fields.String(required=True, validate=validate.OneOf(CORRECTION_ACTIONS))
    resource = fields.Dict(metadata={
        "description": "amend: the corrected FHIR R4 resource, the same type and id as the record "
                       "(validated as PUT /fhir/{type}/{id} validates). Not sent with entered-in-error."})

    @validates_schema
    def _resource_with_amend_only(self, data, **_kw):
        if data.get("action") == "amend" and "resource" not in data:
            raise ValidationError({"resource": ["Send the corrected resource to amend the record."]})
        if data.get("action") == "entered-in-error" and "resource" in data:
            raise ValidationError({"resource": ["Send no resource to mark the record as entered in error."]})


class DenyCorrectionSchema(Schema):
    """Deny a correction request; the reason is shown to the patient as written."""

    reason = fields.String(required=True, validate=[validate.Length(min=1, max=REASON_MAX), _not_blank],
                           metadata={"description": "Why, in plain words the patient can read."})


class CorrectionRecordSchema(Schema):
    reference = fields.String(required=True, metadata={"example": "Condition/1"})
    type = fields.String(required=True, metadata={"example": "Condition"})
    id = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "Its plain-language name."})


class CorrectionPatientSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class CorrectionActionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("accept", "deny")))
    method = fields.String(required=True)
    href = fields.String(required=True)


class CorrectionAnswererSchema(Schema):
    staff = fields.String(allow_none=True, metadata={"description": "The officer's staff account id."})
    practitioner = fields.String(allow_none=True, metadata={"example": "Practitioner/s-1"})


class CorrectionAnswerSchema(Schema):
    outcome = fields.Nested(StatusTextSchema, required=True)
    reason = fields.String(allow_none=True, metadata={"description": "The reason given for a denial."})
    answered_at = fields.Nested(DisplayDateSchema, allow_none=True)
    answered_by = fields.Nested(CorrectionAnswererSchema, allow_none=True)


class CorrectionStatementSchema(Schema):
    reference = fields.String(required=True, metadata={"example": "DocumentReference/1"})
    statement = fields.String(required=True, metadata={"description": "The patient's words."})
    date = fields.Nested(DisplayDateSchema, allow_none=True)


class StaffCorrectionSchema(Schema):
    """One correction request on the worklist."""

    id = fields.String(required=True, metadata={"description": "The Task's id."})
    state = fields.String(required=True, validate=validate.OneOf(CORRECTION_STATES))
    status = fields.Nested(StatusTextSchema, required=True)
    patient = fields.Nested(CorrectionPatientSchema, required=True)
    record = fields.Nested(CorrectionRecordSchema, required=True)
    what_is_wrong = fields.String(required=True, metadata={"description": "The patient's words."})
    correction = fields.String(required=True, metadata={"description": "The patient's words."})
    requested_by = fields.String(required=True, validate=validate.OneOf(("patient", "caregiver")))
    asked = fields.Nested(DisplayDateSchema, required=True)
    due = fields.Nested(DisplayDateSchema, required=True,
                        metadata={"description": "60 days after it was asked (45 CFR 164.526(b)(2))."})
    days_left = fields.Integer(required=True, metadata={"description": "Negative once overdue."})
    overdue = fields.Boolean(required=True)
    next_step = fields.String(required=True)
    actions = fields.List(fields.Nested(CorrectionActionSchema), required=True)
    answer = fields.Nested(CorrectionAnswerSchema, allow_none=True, required=True)
    disagreement = fields.Nested(CorrectionStatementSchema, allow_none=True, required=True)
    resource = fields.Dict(allow_none=True, metadata={
        "description": "GET of one request only: the record as it stands now (FHIR R4, with "
                       "meta.versionId for If-Match), the starting point of an amend; null if it is gone."})


class StaffCorrectionListSchema(Schema):
    items = fields.List(fields.Nested(StaffCorrectionSchema), required=True,
                        metadata={"description": "Oldest first, one page."})
    next = fields.String(allow_none=True, required=True,
                         metadata={"description": "The cursor of the next page; null on the last."})
    language = fields.Nested(LanguageBlockSchema)
