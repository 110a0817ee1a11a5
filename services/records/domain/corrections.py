"""Correction requests as the custodian department answers them (45 CFR 164.526), in pure code.

A patient's correction request is a FHIR R4 Task (code ``change``, focus = the record, owner =
the custodian department; services/records/service_layer/patient.py files it). A records
officer of the custodian answers it: amend the record, mark it entered in error, or deny the
request with a reason. Each answer is kept with the Task (status, businessStatus, output,
statusReason) and with a FHIR R4 Provenance naming the officer; after a denial the patient may
file one statement of disagreement, kept as a DocumentReference beside the record.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from contracts.schemas.staff_records import CORRECTION_ACTIONS, CORRECTION_STATES

#: 45 CFR 164.526(b)(2): a covered entity acts on a request for amendment no later than 60 days
#: after it receives it. (The one 30-day extension the rule allows, with a written notice to the
#: patient, is not modelled: the worklist shows the first deadline.)
ANSWER_WITHIN_DAYS = 60

#: Task.status of a request still waiting for the department's answer (FHIR R4 task-status).
OPEN = ("draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold")
#: Task.status once it was answered (completed: corrected; rejected: denied) or ended otherwise.
ANSWERED = ("completed", "rejected", "cancelled", "failed", "entered-in-error")
STATES = CORRECTION_STATES

#: How an officer may accept a request (POST .../accept {action}).
ACCEPT_ACTIONS = CORRECTION_ACTIONS

TASK_CHANGE = "change"
PHR_CS = "https://phr.example.org/fhir/CodeSystem"
OUTCOME_SYSTEM = f"{PHR_CS}/correction-outcome"
OUTCOMES = {"amend": "Record corrected", "entered-in-error": "Record marked as entered in error",
            "deny": "Request denied"}
DEPARTMENT_SYSTEM = "https://phr.example.org/departments"
STAFF_SYSTEM = "https://phr.example.org/staff"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DISAGREEMENT_TYPE = {"system": f"{PHR_CS}/document-type", "code": "statement-of-disagreement",
                     "display": "Statement of disagreement"}
CORRECTED_RECORD = {"text": "Corrected record"}
STATEMENT_OUTPUT = {"text": "Statement of disagreement"}

#: Where each kind of record says it was entered in error (FHIR R4): most resources in
#: ``status``; Condition and AllergyIntolerance in ``verificationStatus``, and then they must
#: not have a ``clinicalStatus`` (invariants con-5 and ait-2).
STATUS_IN_ERROR = frozenset({
    "Observation", "Immunization", "MedicationRequest", "MedicationStatement",
    "MedicationAdministration", "Procedure", "DiagnosticReport", "Encounter", "CarePlan",
    "ServiceRequest", "DocumentReference", "Claim", "ExplanationOfBenefit"})
VERIFICATION_IN_ERROR = {
    "Condition": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "AllergyIntolerance": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"}


class CannotMarkInError(Exception):
    """This kind of record has no way to say it was entered in error; correct it instead."""


@dataclass(frozen=True)
class Officer:
    """The member of staff who answers: the token's sub, its fhirUser and its department."""

    staff_id: str
    practitioner: str  # "Practitioner/<id>"
    department: str

    def as_data(self) -> dict:
        """The officer as events carry it (answered_by)."""
        return {"staff": self.staff_id, "practitioner": self.practitioner, "department": self.department}


@dataclass(frozen=True)
class Correction:
    """What the worklist needs of one correction request (read from its Task)."""

    id: str
    patient: str
    record: str  # "Type/id" (the Task's focus)
    what_is_wrong: str
    correction: str
    asked: datetime
    status: str
    by_caregiver: bool
    reason: str | None  # the department's reason, when denied
    outcome: str | None  # amend | entered-in-error | deny, once answered here
    statement: str | None  # "DocumentReference/<id>": the patient's statement of disagreement
    provenance: str | None = None  # "Provenance/<id>": the last answer's (Task.relevantHistory)

    @property
    def state(self) -> str:
        return "open" if self.status in OPEN else "answered"

    @property
    def due(self) -> date:
        return due_date(self.asked)


def is_correction(task: dict) -> bool:
    """Whether TASK is a correction request (FHIR Task with code ``change``)."""
    if task.get("resourceType") != "Task":
        return False
    codings = (task.get("code") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") == TASK_CHANGE for c in codings)


def correction_of(task: dict) -> Correction:
    """Read a correction request from its Task."""
    inputs = {(i.get("type") or {}).get("text"): i.get("valueString")
              for i in task.get("input") or [] if isinstance(i, dict)}
    patient = str((task.get("for") or {}).get("reference", "")).removeprefix("Patient/")
    tags = (task.get("meta") or {}).get("tag") or []
    outcome = next((c.get("code") for c in (task.get("businessStatus") or {}).get("coding") or []
                    if isinstance(c, dict) and c.get("system") == OUTCOME_SYSTEM), None)
    statement = next(((o.get("valueReference") or {}).get("reference") for o in task.get("output") or []
                      if isinstance(o, dict) and (o.get("type") or {}).get("text") == STATEMENT_OUTPUT["text"]),
                     None)
    return Correction(
        id=task["id"], patient=patient, record=str((task.get("focus") or {}).get("reference", "")),
        what_is_wrong=inputs.get("What is wrong") or "", correction=inputs.get("Correction asked for") or "",
        asked=parse_instant(task.get("authoredOn") or (task.get("meta") or {}).get("lastUpdated")),
        status=task.get("status") or "requested",
        by_caregiver=any(isinstance(t, dict) and t.get("code") == "entered-by-proxy" for t in tags),
        reason=(task.get("statusReason") or {}).get("text"), outcome=outcome, statement=statement,
        provenance=next((h.get("reference") for h in reversed(task.get("relevantHistory") or [])
                         if isinstance(h, dict) and h.get("reference")), None))


def parse_instant(value: str | None) -> datetime:
    """A FHIR dateTime as an aware UTC datetime (an unreadable or missing one: the epoch, so the
    request sorts first and shows as overdue rather than hiding)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def due_date(asked: datetime) -> date:
    """The last day to answer a request received at ASKED: 60 calendar days later (UTC)."""
    return asked.astimezone(timezone.utc).date() + timedelta(days=ANSWER_WITHIN_DAYS)


def days_left(due: date, today: date) -> int:
    """Whole days from TODAY to DUE: 0 on the due date, negative once overdue."""
    return (due - today).days


def in_state(items: list[Correction], state: str) -> list[Correction]:
    """The requests in STATE (open or answered), oldest first (ties by id, so pages are stable)."""
    return sorted((c for c in items if c.state == state), key=lambda c: (c.asked, c.id))


# -- answers ----------------------------------------------------------------------------------

def answered_task(task: dict, action: str, when: datetime, provenance_id: str,
                  reason: str | None = None, corrected: str | None = None) -> dict:
    """The Task once answered: completed (amend, entered-in-error) or rejected with REASON (deny),
    the outcome in businessStatus, the corrected version in output, and the Provenance in
    relevantHistory (FHIR R4 Task.relevantHistory: the Provenance of this Task's changes)."""
    new = {k: v for k, v in task.items() if k != "meta"}
    new["meta"] = {k: v for k, v in (task.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    new["status"] = "rejected" if action == "deny" else "completed"
    new["businessStatus"] = {"coding": [{"system": OUTCOME_SYSTEM, "code": action, "display": OUTCOMES[action]}],
                             "text": OUTCOMES[action]}
    new["lastModified"] = when.isoformat()
    if reason is not None:
        new["statusReason"] = {"text": reason}
    if corrected is not None:
        new["output"] = [*(task.get("output") or []), {"type": CORRECTED_RECORD,
                                                        "valueReference": {"reference": corrected}}]
    new["relevantHistory"] = [*(task.get("relevantHistory") or []), {"reference": f"Provenance/{provenance_id}"}]
    return new


def provenance(provenance_id: str, action: str, officer: Officer, department_name: str, when: datetime,
               task_ref: str, targets: list[str]) -> dict:
    """The FHIR R4 Provenance of an answer: TARGETS (the versions written) changed by the officer
    (agent.who, their Practitioner, with their staff id) on behalf of the department, at the
    patient's request, from the correction request TASK_REF (entity, role source)."""
    operation = {"amend": ("UPDATE", "revise"), "entered-in-error": ("NULLIFY", "nullify"),
                 "deny": ("UPDATE", "revise")}[action]
    return {
        "resourceType": "Provenance", "id": provenance_id,
        "target": [{"reference": t} for t in targets],
        "recorded": when.isoformat(),
        "activity": {"coding": [{"system": DATA_OPERATION, "code": operation[0], "display": operation[1]}],
                     "text": OUTCOMES[action]},
        "reason": [{"coding": [{"system": ACT_REASON, "code": "PATRQT", "display": "patient requested"}]}],
        "agent": [{"type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author", "display": "Author"}]},
                   "who": {"reference": officer.practitioner,
                           "identifier": {"system": STAFF_SYSTEM, "value": officer.staff_id}},
                   "onBehalfOf": {"identifier": {"system": DEPARTMENT_SYSTEM, "value": officer.department},
                                  "display": department_name}}],
        "entity": [{"role": "source", "what": {"reference": task_ref}}],
    }


def entered_in_error(resource: dict) -> dict:
    """RESOURCE marked as entered in error, or raise CannotMarkInError."""
    rtype = resource.get("resourceType")
    new = dict(resource)
    if rtype in STATUS_IN_ERROR:
        new["status"] = "entered-in-error"
    elif rtype in VERIFICATION_IN_ERROR:
        new.pop("clinicalStatus", None)
        new["verificationStatus"] = {"coding": [{"system": VERIFICATION_IN_ERROR[rtype],
                                                 "code": "entered-in-error", "display": "Entered in Error"}],
                                     "text": "Entered in error"}
    else:
        raise CannotMarkInError(rtype)
    return new


def new_id() -> str:
    return str(uuid.uuid4())


# -- statement of disagreement ----------------------------------------------------------------

def statement_id(task_id: str) -> str:
    """The id of the one statement a request may have: derived from the Task's id, so a second
    statement filed at the same moment collides on the primary key instead of being kept twice."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://phr.example.org/statement/{task_id}"))


def disagreement_document(task: dict, record: dict, statement: str, language: str, when: datetime,
                          caregiver: str | None = None) -> dict:
    """The patient's statement of disagreement as a FHIR R4 DocumentReference.

    Why a DocumentReference: the statement is a short document the patient writes in their own
    words, and 45 CFR 164.526(d) asks that it be kept with the record and sent with it. A
    DocumentReference carries the words (content.attachment, with its language and title), says
    who wrote them (author) and about what (context.related: the record and the request, any
    resource type), and any FHIR reader shows it; a Provenance says who changed what, not what
    someone said, and a Basic has no standard place for any of this. It carries the record's
    sensitivity labels, so it is redacted whenever the record is.
    """
    me = {"reference": f"Patient/{correction_of(task).patient}"}
    security = [s for s in (record.get("meta") or {}).get("security") or [] if isinstance(s, dict)]
    author = me if caregiver is None else {"identifier": {"system": "https://phr.example.org/caregivers",
                                                          "value": caregiver},
                                           "display": "A caregiver acting for the patient"}
    doc = {
        "resourceType": "DocumentReference", "id": statement_id(task["id"]),
        "meta": {"tag": [{"system": "https://phr.example.org/fhir/CodeSystem/record-source",
                          "code": "patient-reported", "display": "Patient-reported"}],
                 **({"security": security} if security else {})},
        "status": "current", "docStatus": "final",
        "type": {"coding": [DISAGREEMENT_TYPE], "text": DISAGREEMENT_TYPE["display"]},
        "subject": me, "date": when.isoformat(), "author": [author],
        "description": "The patient's statement of disagreement with a denied correction request.",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "language": language,
                                    "data": base64.b64encode(statement.encode("utf-8")).decode("ascii"),
                                    "title": "Statement of disagreement", "creation": when.isoformat()}}],
        "context": {"related": [{"reference": f"{record['resourceType']}/{record['id']}"},
                                {"reference": f"Task/{task['id']}"}]},
    }
    return doc


def is_statement(resource: dict) -> bool:
    """Whether RESOURCE is a statement of disagreement (disagreement_document)."""
    if resource.get("resourceType") != "DocumentReference":
        return False
    codings = (resource.get("type") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("system") == DISAGREEMENT_TYPE["system"]
               and c.get("code") == DISAGREEMENT_TYPE["code"] for c in codings)


def statement_about(doc: dict) -> str | None:
    """The record ("Type/id") a statement of disagreement is about."""
    for related in (doc.get("context") or {}).get("related") or []:
        ref = str((related or {}).get("reference", ""))
        if ref and not ref.startswith("Task/"):
            return ref
    return None


def statement_text(doc: dict) -> str:
    """The patient's words in a statement of disagreement."""
    for content in doc.get("content") or []:
        data = ((content or {}).get("attachment") or {}).get("data")
        if data:
            try:
                return base64.b64decode(data).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return ""
    return ""


def with_statements(resources: list[dict], statements: list[dict]) -> list[dict]:
    """RESOURCES in order, each followed by the statements of disagreement about it; a statement
    whose record is not among RESOURCES is left out (it travels with its record, never alone),
    and one already among RESOURCES is moved beside its record."""
    beside: dict[str, list[dict]] = {}
    for doc in statements:
        about = statement_about(doc)
        if about:
            beside.setdefault(about, []).append(doc)
    out, seen = [], set()
    for resource in resources:
        if is_statement(resource):
            continue
        out.append(resource)
        for doc in beside.get(f"{resource.get('resourceType')}/{resource.get('id')}", []):
            if doc["id"] not in seen:
                seen.add(doc["id"])
                out.append(doc)
    return out
