"""The directory of departments as its administrators see it (``/admin/v1/departments``).

A department's entry is the same here as in its phr.directory.v1 events
(contracts/events/phr.directory.department-registered.json): its id, its names by language,
its kind and what it may do, with a status and a version that grows with every change.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.limits import REASON_MAX
from contracts.vocabulary import DEPARTMENT_ID_PATTERN, DEPARTMENT_KINDS

#: A language tag as the events allow it (en, es, pt-BR ...), and the names every entry has.
LANGUAGE_TAG = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
REQUIRED_LANGUAGES = ("en", "es")
NAME_MAX, NAMES_MAX = 80, 20
STATUSES = ("active", "disabled")
ONLY_CLINICAL = "Only a clinical department may have this right."


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Write some words, not only spaces.")


def _names_have_required_languages(names: dict) -> None:
    missing = [lang for lang in REQUIRED_LANGUAGES if lang not in names]
    if missing:
        raise ValidationError(f"Give the name in {', '.join(missing)} too.")


NAMES = dict(
    keys=fields.String(validate=validate.Regexp(LANGUAGE_TAG, error="Not a language tag.")),
    values=fields.String(validate=[validate.Length(min=1, max=NAME_MAX), _not_blank]),
    validate=[validate.Length(max=NAMES_MAX),
              _names_have_required_languages],
    metadata={"description": "The department's display name by language tag: en and es at "
                             f"least, each 1 to {NAME_MAX} characters.",
              "example": {"en": "Physiotherapy", "es": "Fisioterapia"}})


def rights_problems(kind: str, may_claim_emergencies: bool, may_write_records: bool) -> dict:
    """The fields of a department of KIND that it may not have (field -> messages), else {}.

    Breaking the glass and writing records are clinical rights: a research department only
    receives records under consent, an oversight department sees reports only.
    """
    if kind == "clinical":
        return {}
    wrong = {"may_claim_emergencies": may_claim_emergencies, "may_write_records": may_write_records}
    return {name: [ONLY_CLINICAL] for name, given in wrong.items() if given}


class DepartmentRightsSchema(Schema):
    """The parts of an entry an administrator may change (``PUT``): the whole set, every time."""

    names = fields.Dict(required=True, **NAMES)
    may_claim_emergencies = fields.Boolean(required=True, metadata={
        "description": "Its clinicians may break the glass (system/BreakGlass.c). Clinical only."})
    may_write_records = fields.Boolean(required=True, metadata={
        "description": "It may add, change and delete FHIR records it holds (system/*.cud). Clinical only."})


class DepartmentRegistrationSchema(DepartmentRightsSchema):
    """Register a department: the id is for good (its OAuth client id and its tokens' ``dept``)."""

    department = fields.String(required=True, validate=validate.Regexp(
        f"^{DEPARTMENT_ID_PATTERN}$", error="Use 2 to 40 lower-case letters, digits and '-', "
                                            "starting with a letter."),
        metadata={"example": "physiotherapy"})
    kind = fields.String(required=True, validate=validate.OneOf(DEPARTMENT_KINDS), metadata={
        "description": "clinical: treats patients and exchanges records; research: receives "
                       "records for research under consent; oversight: reports only."})
    may_claim_emergencies = fields.Boolean(load_default=False, metadata={
        "description": "Its clinicians may break the glass (system/BreakGlass.c). Clinical only; "
                       "default false."})
    may_write_records = fields.Boolean(load_default=False, metadata={
        "description": "It may add, change and delete FHIR records it holds (system/*.cud). Clinical only; "
                       "default false."})

    @validates_schema
    def _rights_fit_the_kind(self, data: dict, **_kwargs) -> None:
        if "kind" in data:
            wrong = rights_problems(data["kind"], data.get("may_claim_emergencies", False),
                                    data.get("may_write_records", False))
            if wrong:
                raise ValidationError(wrong)


#: The longest webhook URL a department may register.
WEBHOOK_URL_MAX = 2000


def _plain_url(value: str | None) -> None:
    """A webhook URL names no user or password: a secret would travel in every event."""
    if value is not None and "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise ValidationError("Give the URL without a user name or password.")


class DepartmentWebhookSchema(Schema):
    """Where a department takes signed notices (revocation receipts); null removes it."""

    webhook_url = fields.Url(required=True, allow_none=True, schemes={"http", "https"}, require_tld=False,
                             validate=[validate.Length(max=WEBHOOK_URL_MAX), _plain_url], metadata={
                                 "description": "An http(s) URL the exchange POSTs a JWS (application/jose) "
                                                "to when a consent the department received records under "
                                                "ends; the signing key is in the gateway's /oauth/jwks. "
                                                "null: no webhook.",
                                 "example": "https://cardiology.example.org/phr/notices"})


class DisableDepartmentSchema(Schema):
    """Disable a department: its tokens stop at once and it gets no new ones."""

    reason = fields.String(required=True, validate=[validate.Length(min=1, max=REASON_MAX), _not_blank],
                           metadata={"description": "Why, in plain words (kept in the entry and "
                                                    "its event).",
                                     "example": "The clinic closed."})


class DepartmentEntrySchema(Schema):
    """A department's entry, as its last phr.directory.v1 event carried it."""

    department = fields.String(required=True, metadata={"example": "physiotherapy"})
    names = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    kind = fields.String(required=True, validate=validate.OneOf(DEPARTMENT_KINDS))
    may_claim_emergencies = fields.Boolean(required=True)
    may_write_records = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    version = fields.Integer(required=True, metadata={"description": "Grows with every change."})
    changed_at = fields.DateTime(required=True)
    reason = fields.String(metadata={"description": "Why it was disabled (a disabled entry only)."})
    webhook_url = fields.String(metadata={"description": "Where it takes signed notices, when it "
                                                         "registered a webhook."})


class RegisteredDepartmentSchema(DepartmentEntrySchema):
    """The new entry with its OAuth client's credentials, shown this once."""

    client_id = fields.String(required=True, metadata={
        "description": "The department's OAuth client (client credentials); the same as its id."})
    client_secret = fields.String(required=True, metadata={
        "description": "Shown once; only its hash is kept. Use it with client_secret_basic."})
    scope = fields.String(required=True, metadata={
        "description": "The scopes its client may ask for, from its kind and rights.",
        "example": "system/*.rs system/Exchange.cr system/Consent.r"})


class DepartmentListSchema(Schema):
    items = fields.List(fields.Nested(DepartmentEntrySchema), required=True,
                        metadata={"description": "Active and disabled departments, by id."})
    next = fields.String(allow_none=True, required=True,
                         metadata={"description": "The cursor of the next page (?cursor=), or null."})
