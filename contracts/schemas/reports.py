"""Reports (feedback and incidents): what a patient, a caregiver or a member of staff sends, what
they read back, and how quality staff triage one (docs/architecture.md, "Reports")."""
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from contracts.http import FHIR_ID_PART, FHIR_ID_PATTERN
from contracts.limits import ID_MAX
from contracts.schemas.patient_facing import DisplayDateSchema, LanguageBlockSchema
from contracts.vocabulary import (REPORT_KINDS, REPORT_STATUSES, REPORT_TEXT_MAX, REPORT_WORDS_MAX,
                                  RESOURCE_TYPES)



class AboutSchema(Schema):
    """What the report points at; which members a kind needs is said on `kind`."""

    resource_type = fields.String(validate=validate.OneOf(RESOURCE_TYPES),
                                  metadata={"description": "wrong-information: the record item's FHIR type."})
    id = fields.String(validate=validate.Regexp(FHIR_ID_PATTERN),
                       metadata={"description": "wrong-information: the record item's FHIR id."})
    page = fields.String(validate=validate.Length(min=1, max=200),
                         metadata={"description": "hard-to-understand: the page (its path)."})
    words = fields.String(validate=validate.Length(min=1, max=REPORT_WORDS_MAX),
                          metadata={"description": "hard-to-understand: the words that were hard to read."})
    disclosure = fields.String(validate=validate.Regexp(r"^[0-9]{1,12}$"),
                               metadata={"description": "wrong-access: the disclosure's id (its ledger entry): "
                                                        "the patient's own, or for staff one of the "
                                                        "department's patients."})


class ReportBodySchema(Schema):
    """A report: its kind, what it points at, and what happened in the reporter's words."""

    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS), metadata={
        "description": "wrong-information (about: resource_type, id), hard-to-understand (about: page, words), "
                       "wrong-access (about: disclosure), safety (staff only), system-problem."})
    text = fields.String(required=True, validate=validate.Length(min=1, max=REPORT_TEXT_MAX),
                         metadata={"description": "What happened, in the reporter's words."})
    about = fields.Nested(AboutSchema, load_default=dict)
    correction_request = fields.String(
        validate=validate.Regexp(f"^Task/{FHIR_ID_PART}$"), metadata={
            "description": "wrong-information from a patient: the correction request they filed for the same item "
                           "(Task/<id>); its answer closes the report."})
    anonymous = fields.Boolean(load_default=False, metadata={
        "description": "Staff only: store no identity, and the department only if 5 or more staff belong to it."})


class LinksSchema(Schema):
    correction_request = fields.String(
        allow_none=True, validate=validate.Regexp(f"^Task/{FHIR_ID_PART}$"),
        metadata={"description": "A correction request of the same department (Task/<id>)."})
    break_glass_review = fields.String(allow_none=True, validate=validate.Length(min=1, max=ID_MAX),
                                       metadata={"description": "A break-the-glass claim's id, on a patient of "
                                                                "the department (and the report's patient)."})
    disclosure = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9]{1,12}$"),
                               metadata={"description": "A disclosure's id (its ledger entry), of a patient of "
                                                        "the department (and the report's patient)."})


class StaffPersonSchema(Schema):
    sub = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    fhirUser = fields.String(allow_none=True, validate=validate.Length(max=100))


class TriageBodySchema(Schema):
    """A quality team member's change: status with a note in plain words, who is assigned, links.
    Send If-Match with the report's ETag: a change made since is refused (412)."""

    status = fields.String(validate=validate.OneOf(REPORT_STATUSES))
    note = fields.String(allow_none=True, validate=validate.Length(max=REPORT_TEXT_MAX),
                         metadata={"description": "In plain words: the reporter reads it."})
    assignee = fields.Nested(StaffPersonSchema, metadata={
        "description": "An active member of the department's quality team (sub: their staff id)."})
    links = fields.Nested(LinksSchema)

    @validates_schema
    def _something(self, data, **_kw):
        if not data:
            raise ValidationError("Say what to change.", "status")


class WordsSchema(Schema):
    """A code with its words (never the code alone)."""

    code = fields.String(required=True)
    text = fields.String(required=True)


class ReportSchema(Schema):
    """A report as its reporter follows it."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"description": "Read aloud, e.g. R-7KQ2-M9XD-4HTW."})
    kind = fields.Nested(WordsSchema, required=True)
    status = fields.Nested(WordsSchema, required=True)
    note = fields.String(allow_none=True, metadata={"description": "From the quality team, in plain words."})
    about = fields.Dict(required=True)
    comment = fields.String(required=True, metadata={"description": "What the reporter wrote."})
    received = fields.Nested(DisplayDateSchema, required=True)
    closed = fields.Nested(DisplayDateSchema, allow_none=True)


class AcknowledgementSchema(Schema):
    title = fields.String(required=True)
    message = fields.String(required=True)
    next_step = fields.String(required=True)


class FiledReportSchema(ReportSchema):
    acknowledgement = fields.Nested(AcknowledgementSchema, required=True)
    language = fields.Nested(LanguageBlockSchema)


class ReportPageSchema(Schema):
    items = fields.List(fields.Nested(ReportSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class StaffReportSchema(ReportSchema):
    """A report as quality staff triage it: who reported (nothing for an anonymous report), where
    it is routed, who is assigned, its links, and the version to send back in If-Match."""

    reporter = fields.Dict(required=True)
    department = fields.Dict(allow_none=True, required=True)
    assignee = fields.Nested(StaffPersonSchema, allow_none=True)
    links = fields.Nested(LinksSchema, required=True)
    version = fields.Integer(required=True)
    received_at = fields.String(required=True)
    acknowledged_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)


class StaffReportPageSchema(Schema):
    items = fields.List(fields.Nested(StaffReportSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class HardWordsSchema(Schema):
    language = fields.String(required=True, metadata={"description": "The language the reader read the page in."})
    page = fields.String(required=True, metadata={"description": "The page (its path)."})
    words = fields.String(required=True, metadata={"description": "The words, as first written."})
    count = fields.Integer(required=True, metadata={"description": "How many reports named them."})


class HardWordsPageSchema(Schema):
    """The words readers found hard, the most named first (the wording review's list)."""

    items = fields.List(fields.Nested(HardWordsSchema), required=True)
