"""The patient's own record: who I am, my records in plain words, what I enter, corrections I ask for.

Shapes follow contracts/PATIENT_FACING.md. What a patient enters is stored as a FHIR R4
Observation tagged ``meta.tag`` = {system: https://phr.example.org/fhir/CodeSystem/record-source,
code: patient-reported}, with the patient as performer; a correction request is a FHIR R4 Task
(code ``change``, status ``requested``, focus = the record, owner = the custodian department).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from marshmallow import (INCLUDE, Schema, ValidationError, fields, validate, validates,
                         validates_schema)

from contracts.http import FHIR_ID_PART
from contracts.limits import TEXT_MAX
from contracts.schemas.patient_facing import DisplayDateSchema, LanguageBlockSchema, StatusTextSchema

ENTRY_KINDS = ("blood-pressure", "weight", "glucose", "symptom")
WEIGHT_UNITS = {"kg": (1, 500), "[lb_av]": (2, 1100)}
GLUCOSE_UNITS = {"mg/dL": (10, 1000), "mmol/L": (0.5, 55)}
RECORD_CATEGORIES = ("vital-signs", "laboratory", "surveys", "conditions", "immunizations",
                     "medications", "procedures", "encounters", "reports", "care-plans",
                     "patient-reported")


# -- shared pieces ----------------------------------------------------------------------------



class RecordQuantitySchema(Schema):
    class Meta:
        unknown = INCLUDE

    value = fields.Raw(metadata={"description": "A number (or absent for a coded answer)."})
    unit = fields.String(metadata={"description": "The UCUM unit as recorded, e.g. mm[Hg]."})
    display = fields.String(metadata={"example": "120 millimeters of mercury"})



class RecordCodingSchema(Schema):
    system = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    display = fields.String(allow_none=True)


class RecordSourceSchema(Schema):
    department = fields.String(required=True, metadata={"example": "physiotherapy"})
    display = fields.String(required=True, metadata={"example": "Physiotherapy"})


class StatementSchema(Schema):
    """My statement of disagreement, as kept with the record."""

    statement = fields.String(required=True, metadata={"description": "The patient's words, as sent."})
    date = fields.Nested(DisplayDateSchema, allow_none=True)
    request = fields.String(allow_none=True, metadata={"description": "The correction request's id."})
    explanation = fields.String(metadata={"description": "What happens to it, in plain words."})


class RecordItemSchema(Schema):
    """One clinical item in plain words (contracts/PATIENT_FACING.md "A clinical item")."""

    id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"example": "Observation/1"})
    kind = fields.String(required=True, metadata={"example": "vital-sign"})
    category = fields.String(required=True, validate=validate.OneOf(RECORD_CATEGORIES))
    title = fields.String(required=True)
    summary = fields.String(required=True, metadata={"description": "One plain sentence."})
    value = fields.Nested(RecordQuantitySchema, allow_none=True)
    components = fields.List(fields.Dict())
    date = fields.Nested(DisplayDateSchema, allow_none=True)
    status = fields.Nested(StatusTextSchema, required=True)
    code = fields.Nested(RecordCodingSchema, allow_none=True)
    source = fields.Nested(RecordSourceSchema, required=True)
    untranslated = fields.Boolean(metadata={"description": "True when a code or unit has no plain "
                                                           "name yet; the title shows its coded display."})
    patient_reported = fields.Boolean()
    note = fields.String(metadata={"description": "The patient's own words (symptom notes)."})
    disagreements = fields.List(fields.Nested(StatementSchema), metadata={
        "description": "My statements of disagreement about this record (one record page only)."})


class RecordPageSchema(Schema):
    items = fields.List(fields.Nested(RecordItemSchema), required=True)
    next = fields.String(allow_none=True, required=True, metadata={"description": "Opaque cursor."})
    language = fields.Nested(LanguageBlockSchema)


class PreferredLanguageSchema(Schema):
    code = fields.String(allow_none=True, metadata={"description": "BCP 47, from Patient.communication."})
    display = fields.String(allow_none=True)


class MeSchema(Schema):
    """Who the token's patient is, in the patient's words."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    birth_date = fields.Nested(DisplayDateSchema, allow_none=True)
    preferred_language = fields.Nested(PreferredLanguageSchema, required=True)
    interpreter_needed = fields.Boolean(required=True)
    proxies = fields.List(fields.Dict(), required=True)
    custodian = fields.Nested(RecordSourceSchema, allow_none=True)
    language = fields.Nested(LanguageBlockSchema)


# -- entries ------------------------------------------------------------------------------------

class EntryRequestSchema(Schema):
    """A home reading or a symptom note the patient enters."""

    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS))
    systolic = fields.Integer(strict=True, validate=validate.Range(50, 300),
                              metadata={"description": "blood-pressure: top number, mm[Hg]."})
    diastolic = fields.Integer(strict=True, validate=validate.Range(20, 200),
                               metadata={"description": "blood-pressure: bottom number, mm[Hg]."})
    value = fields.Float(allow_nan=False, metadata={"description": "weight or glucose."})
    unit = fields.String(validate=validate.Length(max=16),
                         metadata={"description": "weight: kg or [lb_av]; glucose: mg/dL or mmol/L."})
    note = fields.String(validate=validate.Length(min=1, max=TEXT_MAX),
                         metadata={"description": "symptom: what you feel, in your words."})
    when = fields.AwareDateTime(metadata={"description": "When it was measured (default: now)."})

    @validates("when")
    def _not_in_the_future(self, value, **_kw):
        # FHIR dateTime offsets are whole minutes within 14 hours; Python allows seconds, up to 24 hours.
        offset = value.utcoffset()
        if abs(offset) > timedelta(hours=14) or offset.seconds % 60:
            raise ValidationError("The time zone offset must be in whole minutes, between -14:00 and +14:00.")
        if value > datetime.now(timezone.utc) + timedelta(minutes=5):
            raise ValidationError("The time is in the future.")

    @validates_schema
    def _fields_of_the_kind(self, data, **_kw):
        kind = data.get("kind")
        needed = {"blood-pressure": ("systolic", "diastolic"), "weight": ("value", "unit"),
                  "glucose": ("value", "unit"), "symptom": ("note",)}.get(kind, ())
        errors = {name: ["This is needed for this kind of entry."] for name in needed if name not in data}
        if kind in ("weight", "glucose") and "unit" in data and "value" in data:
            units = WEIGHT_UNITS if kind == "weight" else GLUCOSE_UNITS
            if data["unit"] not in units:
                errors["unit"] = [f"Use one of: {', '.join(units)}."]
            else:
                low, high = units[data["unit"]]
                if not low <= data["value"] <= high:
                    errors["value"] = [f"The value must be between {low} and {high}."]
        if kind == "blood-pressure" and not errors and data["diastolic"] >= data["systolic"]:
            errors["diastolic"] = ["The bottom number must be lower than the top number."]
        if errors:
            raise ValidationError(errors)


# -- amendments ---------------------------------------------------------------------------------

class AmendmentRequestSchema(Schema):
    """Ask the custodian department to correct one of my records."""

    record_id = fields.String(required=True, validate=validate.Regexp(
        rf"^([A-Za-z]+/)?{FHIR_ID_PART}$", error="This is not the id of a record."),
        metadata={"description": "An item's `id` (or its `reference`, Type/id)."})
    what_is_wrong = fields.String(required=True, validate=validate.Length(min=1, max=TEXT_MAX))
    correction = fields.String(required=True, validate=validate.Length(min=1, max=TEXT_MAX))


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Write some words, not only spaces.")


class DisagreementRequestSchema(Schema):
    """Disagree with a denied correction request, in my own words (45 CFR 164.526(d)(1)(iii)).

    One statement per request (a second one is 409). It is kept as a FHIR R4 DocumentReference
    linked to the record (context.related) and sent with the record whenever it is shared.
    """

    statement = fields.String(required=True, validate=[validate.Length(min=1, max=TEXT_MAX), _not_blank],
                              metadata={"description": "Why I disagree, in my words."})


class AmendmentSchema(Schema):
    id = fields.String(required=True)
    record_id = fields.String(required=True)
    record = fields.String(required=True, metadata={"example": "Observation/1"})
    title = fields.String(required=True)
    summary = fields.String(required=True)
    what_is_wrong = fields.String(required=True)
    correction = fields.String(required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    status = fields.Nested(StatusTextSchema, required=True)
    source = fields.Nested(RecordSourceSchema, required=True)
    reason = fields.String(allow_none=True, metadata={"description": "The department's note, as written."})
    can_disagree = fields.Boolean(metadata={"description": "True when the request was denied and I "
                                                           "have not sent a statement of disagreement."})
    next_step = fields.String(allow_none=True)
    disagreement = fields.Nested(StatementSchema, allow_none=True)


class AmendmentCreatedSchema(AmendmentSchema):
    language = fields.Nested(LanguageBlockSchema)


class AmendmentListSchema(Schema):
    items = fields.List(fields.Nested(AmendmentSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class EntryCreatedSchema(RecordItemSchema):
    language = fields.Nested(LanguageBlockSchema)
