"""Exchange requests between departments, the disclosure ledger, the patient's disclosures and
notifications (docs/architecture.md, "Consent rules")."""
from marshmallow import INCLUDE, Schema, fields, validate

from contracts.limits import ID_MAX
from contracts.schemas.patient_facing import CodedSchema, DisplayDateSchema, LanguageBlockSchema
from contracts.vocabulary import PURPOSES, RESOURCE_TYPES

STATUSES = ("pending", "fulfilled", "denied", "failed")


class ExchangeRequestSchema(Schema):
    """A department asks for some of a patient's records, for a purpose."""

    patient = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX),
                            metadata={"description": "The patient's FHIR id."})
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES),
                            metadata={"description": "HL7 PurposeOfUse code."})
    resource_types = fields.List(fields.String(validate=validate.OneOf(RESOURCE_TYPES)), required=True,
                                 validate=validate.Length(min=1, max=len(RESOURCE_TYPES)),
                                 metadata={"description": "FHIR resource types wanted."})
    reason = fields.String(validate=validate.Length(max=500), allow_none=True,
                           metadata={"description": "Why, in the requester's words (kept in the ledger)."})


class AcceptedSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class OutcomeSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable reason code (never translated)."})
    text = fields.String(required=True, metadata={"description": "The reason in words, in the negotiated language."})


class ExchangeStatusSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    outcome = fields.Nested(OutcomeSchema, required=True)
    patient = fields.String(required=True)
    purpose = fields.String(required=True)
    resource_types = fields.List(fields.String(), required=True)
    requested_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    consent = fields.Dict(allow_none=True, metadata={"description": "{id, version, basis} of the permit."})
    redacted = fields.Dict(allow_none=True, metadata={"description": "{labels, count}: what was left out."})
    resource_count = fields.Integer(allow_none=True)
    ledger_seq = fields.Integer(allow_none=True)
    bundle = fields.String(allow_none=True, metadata={"description": "Where to download, once fulfilled."})


class StaffMemberSchema(Schema):
    sub = fields.String(required=True, metadata={"description": "The staff account id (the token's sub)."})
    fhirUser = fields.String(allow_none=True, metadata={"description": "Practitioner/<id>."})


NEXT_STEPS = ("wait", "ask-patient-to-share", "ask-again", "try-again", "none")


class NextStepSchema(Schema):
    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True, validate=validate.OneOf(NEXT_STEPS),
                         metadata={"description": "What to do next (stable, never translated)."})
    text = fields.String(required=True, metadata={"description": "The next step in words, naming what was "
                                                                 "not shared and with whom."})
    patient = fields.String(metadata={"description": "ask-patient-to-share: whom to ask."})
    classes = fields.List(fields.String(), metadata={"description": "ask-patient-to-share: what to ask for."})
    purpose = fields.String(metadata={"description": "ask-patient-to-share: for what purpose."})
    exchange_request = fields.String(metadata={"description": "ask-patient-to-share: the request it follows."})


class StaffRequestSchema(ExchangeStatusSchema):
    """One of the department's exchange requests as its staff see it: the reason in words, who
    asked, and what to do next."""

    requested_by = fields.Nested(StaffMemberSchema, allow_none=True, required=True,
                                 metadata={"description": "The member of staff who asked; null when the "
                                                          "department's system did."})
    records = fields.List(fields.Nested(CodedSchema), required=True,
                          metadata={"description": "The kinds of record asked for, in words."})
    next_step = fields.Nested(NextStepSchema, required=True)


class StaffRequestPageSchema(Schema):
    items = fields.List(fields.Nested(StaffRequestSchema), required=True)
    next = fields.String(allow_none=True, required=True)


class LedgerProblemSchema(Schema):
    seq = fields.Integer(required=True)
    problem = fields.String(required=True, validate=validate.OneOf(
        ["missing", "broken-link", "altered", "head-mismatch"]))
    detail = fields.String(required=True)


class LedgerVerdictSchema(Schema):
    valid = fields.Boolean(required=True)
    entries = fields.Integer(required=True)
    head = fields.String(required=True, metadata={"description": "SHA-256 of the last entry."})
    problems = fields.List(fields.Nested(LedgerProblemSchema), required=True)
    checked = fields.Integer(metadata={"description": "Entries hashed by this verification."})
    after = fields.Integer(metadata={"description": "The checkpoint it started after (0: the whole chain)."})


class DepartmentSchema(Schema):
    department = fields.String(required=True)
    display = fields.String(required=True)


class PlainTextSchema(Schema):
    text = fields.String(required=True)


class DisclosureSchema(Schema):
    """One release of the patient's records, in plain words: who, what, when, why, which consent."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    recipient = fields.Nested(DepartmentSchema, required=True)
    purpose = fields.Nested(CodedSchema, required=True)
    records = fields.List(fields.Nested(CodedSchema), required=True)
    consent = fields.Dict(required=True, metadata={"description": "{id, version, text}: what allowed it."})
    withheld = fields.Dict(required=True, metadata={"description": "{count, text}: private records kept back."})
    emergency = fields.Boolean(required=True)


class DisclosurePageSchema(Schema):
    items = fields.List(fields.Nested(DisclosureSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class DeliverySchema(Schema):
    """How a notice went out beyond the app: by email or text message, and whether it arrived."""

    channel = fields.String(required=True, validate=validate.OneOf(("email", "sms")))
    status = fields.String(required=True, validate=validate.OneOf(("pending", "delivered", "dead")))
    attempts = fields.Integer(required=True)
    text = fields.String(required=True, metadata={"description": "How it went, in words."})


class NotificationSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(
        ["disclosure", "break-glass", "consent-granted", "consent-revoked", "consent-expired",
         "amendment-accepted", "amendment-rejected", "amendment-completed", "department-disabled",
         "break-glass-justified", "break-glass-not-justified", "sharing-requested", "sharing-approved",
         "sharing-declined", "report-closed", "receipt-revoked", "receipt-expired"]))
    title = fields.String(required=True)
    message = fields.String(required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    delivery = fields.List(fields.Nested(DeliverySchema), metadata={
        "description": "Each email or text message this notice was sent by (empty: in the app only)."})
    delivery_text = fields.String(metadata={"description": "How the notice reached the person, in words."})
    told = fields.List(fields.Nested(lambda: ToldSchema()), metadata={
        "description": "A receipt (receipt-revoked, receipt-expired) only: each department told that "
                       "the consent ended, and when."})


class ToldSchema(Schema):
    """A department told that a patient's consent ended, and when (a receipt's item)."""

    department = fields.Nested(DepartmentSchema, required=True)
    date = fields.Nested(DisplayDateSchema, required=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    next = fields.String(allow_none=True, required=True)
    language = fields.Nested(LanguageBlockSchema)


class StaffDisclosureSchema(Schema):
    """One release of records of a patient of the department, as its privacy officers read the
    ledger: who received what, when, why, on what basis, and who asked."""

    id = fields.String(required=True, metadata={"description": "The ledger entry's sequence number."})
    patient = fields.String(required=True)
    recipient = fields.Nested(DepartmentSchema, required=True)
    purpose = fields.Nested(CodedSchema, required=True)
    records = fields.List(fields.Nested(CodedSchema), required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    released_at = fields.DateTime(required=True)
    basis = fields.String(required=True, validate=validate.OneOf(("consent", "break-glass")))
    consent = fields.Dict(allow_none=True, required=True, metadata={"description": "{id, version} of a consent basis."})
    break_glass_id = fields.String(allow_none=True, required=True,
                                   metadata={"description": "The emergency claim it was released under."})
    withheld = fields.Integer(required=True, metadata={"description": "Private records kept back."})
    requested_by = fields.Nested(StaffMemberSchema, allow_none=True, required=True,
                                 metadata={"description": "The person who asked, when a person did."})
    ledger = fields.Dict(required=True, metadata={"description": "{seq, hash}: the entry in the hash chain."})


class StaffDisclosurePageSchema(Schema):
    items = fields.List(fields.Nested(StaffDisclosureSchema), required=True, metadata={"description": "Newest first."})
    next = fields.String(allow_none=True, required=True)


REVIEW_OUTCOMES = ("justified", "not-justified")
REVIEW_NEXT_STEPS = ("review", "review-now", "none")


class ReviewBodySchema(Schema):
    """A privacy officer's finding on a break-the-glass claim."""

    outcome = fields.String(required=True, validate=validate.OneOf(REVIEW_OUTCOMES),
                            metadata={"description": "Was the emergency access needed?"})
    note = fields.String(allow_none=True, validate=validate.Length(max=2000),
                         metadata={"description": "Why, in plain words; required for not-justified."})


class WaitedSchema(Schema):
    seconds = fields.Integer(required=True)
    text = fields.String(required=True, metadata={"description": "How long, in words."})


class ReleasedEntrySchema(Schema):
    ledger_seq = fields.Integer(required=True)
    request_id = fields.String(required=True)
    released_at = fields.String(required=True)
    records = fields.List(fields.Nested(CodedSchema), required=True,
                          metadata={"description": "The kinds of record released, in words."})
    resource_count = fields.Integer(required=True)
    redacted_count = fields.Integer(required=True)


class ReleasedSchema(Schema):
    count = fields.Integer(required=True, metadata={"description": "Records released under the claim."})
    entries = fields.List(fields.Nested(ReleasedEntrySchema), required=True,
                          metadata={"description": "The ledger entries flagged with this claim."})


class RedactedSchema(Schema):
    count = fields.Integer(required=True, metadata={"description": "Records kept back."})
    labels = fields.List(fields.Nested(CodedSchema), required=True,
                         metadata={"description": "The sensitive classes kept back, in words."})


class ClaimedLabelSchema(Schema):
    label = fields.Nested(CodedSchema, required=True)
    reason = fields.String(required=True, metadata={"description": "The claim's own reason for it."})


class ReviewOutcomeSchema(Schema):
    outcome = fields.Nested(OutcomeSchema, required=True)
    note = fields.String(allow_none=True, required=True)
    reviewed_by = fields.Nested(StaffMemberSchema, required=True)
    reviewed_at = fields.DateTime(required=True)


class ReviewNextStepSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(REVIEW_NEXT_STEPS))
    text = fields.String(required=True)


class BreakGlassReviewSchema(Schema):
    """A break-the-glass claim on one of the department's patients, for its privacy officers."""

    id = fields.String(required=True, metadata={"description": "The claim's id (its grant_id)."})
    patient = fields.String(required=True)
    department = fields.Nested(DepartmentSchema, required=True, metadata={"description": "Who claimed it."})
    claimed_by = fields.Nested(StaffMemberSchema, allow_none=True, required=True,
                               metadata={"description": "The person, when the claim names one."})
    claimed_at = fields.DateTime(required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    expires_at = fields.DateTime(allow_none=True, required=True)
    reason = fields.String(required=True, metadata={"description": "The claim's written reason, as written."})
    sensitive = fields.List(fields.Nested(ClaimedLabelSchema), required=True)
    priority = fields.Boolean(required=True, metadata={"description": "It named a sensitive class."})
    status = fields.String(required=True, validate=validate.OneOf(("open", "reviewed")))
    overdue = fields.Boolean(required=True, metadata={"description": "Not reviewed 72 hours after the claim."})
    due_at = fields.DateTime(required=True)
    waited = fields.Nested(WaitedSchema, required=True)
    released = fields.Nested(ReleasedSchema, required=True)
    redacted = fields.Nested(RedactedSchema, required=True)
    review = fields.Nested(ReviewOutcomeSchema, allow_none=True, required=True)
    next_step = fields.Nested(ReviewNextStepSchema, required=True)


class BreakGlassReviewPageSchema(Schema):
    items = fields.List(fields.Nested(BreakGlassReviewSchema), required=True)
    next = fields.String(allow_none=True, required=True)


# -- revocation receipts: a department's notices when a consent it received records under ended --
NOTICE_KINDS = ("consent-revoked", "consent-expired")
DELIVERY_STATES = ("pending", "delivered", "failed")


class NoticeReleaseSchema(Schema):
    """One release the ended consent covered (a ledger entry)."""

    request_id = fields.String(required=True)
    ledger_seq = fields.Integer(required=True)
    released_at = fields.DateTime(required=True)
    date = fields.Nested(DisplayDateSchema, required=True)
    records = fields.List(fields.Nested(CodedSchema), required=True)
    resource_count = fields.Integer(required=True)


class NoticeAttemptSchema(Schema):
    attempt = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    status_code = fields.Integer(allow_none=True, required=True,
                                 metadata={"description": "The receiver's HTTP status; null when none came "
                                                          "(no answer, or an address the outbound policy refuses)."})
    outcome = fields.String(required=True, validate=validate.OneOf(("delivered", "failed")),
                            metadata={"description": "delivered or failed; why a try failed is not told."})


class NoticeDeliverySchema(Schema):
    """The notice's signed webhook, when the department registered a URL."""

    status = fields.Dict(required=True, metadata={"description": "{code, display}: pending, delivered or failed, in words."})
    attempts = fields.Integer(required=True)
    delivered_at = fields.DateTime(allow_none=True, required=True)
    tries = fields.List(fields.Nested(NoticeAttemptSchema), metadata={"description": "One notice's page only."})


class DepartmentNoticeSchema(Schema):
    """A consent the department received records under has ended: which one, how, and the
    releases it covered, with its webhook delivery when there is one."""

    id = fields.String(required=True, metadata={"description": "Also the jti of the webhook's JWS."})
    kind = fields.String(required=True, validate=validate.OneOf(NOTICE_KINDS))
    title = fields.String(required=True)
    text = fields.String(required=True)
    patient = fields.String(required=True)
    consent = fields.Dict(required=True, metadata={"description": "{id, version, ended_at}: the consent that ended."})
    date = fields.Nested(DisplayDateSchema, required=True, metadata={"description": "When the department was told."})
    releases = fields.List(fields.Nested(NoticeReleaseSchema), required=True)
    webhook = fields.Nested(NoticeDeliverySchema, allow_none=True, required=True)


class DepartmentNoticePageSchema(Schema):
    items = fields.List(fields.Nested(DepartmentNoticeSchema), required=True, metadata={"description": "Newest first."})
    next = fields.String(allow_none=True, required=True)
