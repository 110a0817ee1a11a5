"""Use cases of correction requests after they are filed: the custodian department's worklist
and answers (a records officer: accept by amending the record or marking it entered in error,
or deny with a reason), and the patient's statement of disagreement after a denial.

The rules (due dates, states, the FHIR shapes of each answer) are in
services/records/domain/corrections.py; a record changes here through the same steps as a FHIR
update (handlers.checked_update and handlers.store_update: validated, labelled, versioned, its
history kept), in one transaction with the Task, the Provenance and the event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa

from services.common import i18n
from services.common.directory import Directory
from services.common.envelope import new_event
from services.common.i18n import N_
from services.records.adapters import correction_queries as cq
from services.records.adapters import patient_queries as q
from services.records.adapters.repository import StoredResource
from services.records.domain import corrections as rules
from services.records.domain import plain_language as pl
from services.records.domain.bundle import InvalidBundle, patient_of, validate_resource
from services.records.domain.sensitivity import Labeller
from services.records.service_layer import handlers
from services.records.service_layer.patient import (YOUR_DETAILS, department_names, display_name,
                                                    translator)

SOURCE, TOPIC = handlers.SOURCE, handlers.TOPIC

# What the worklist says of each request, in the officer's language.
STATUS_WORDS = {
    "open": N_("Waiting for your answer"), "overdue": N_("Overdue"),
    "amend": N_("Record corrected"), "entered-in-error": N_("Marked as entered in error"),
    "deny": N_("Denied"), "completed": N_("Done"), "rejected": N_("Denied"),
    "cancelled": N_("Cancelled"), "failed": N_("Could not be done"),
    "entered-in-error-task": N_("Filed by mistake"),
}
NEXT_OPEN = N_("Read what the patient asked. Then correct the record, mark it as entered in "
               "error, or deny the request and say why.")
NEXT_OVERDUE = N_("This answer is late. Answer the patient today.")
NEXT_DONE = N_("Nothing more to do. The patient has been told.")
NEXT_DENIED = N_("Nothing more to do now. The patient may send a statement of disagreement.")
NEXT_STATEMENT = N_("The patient sent a statement of disagreement. It now goes with the record.")
OUTCOME_WORDS = {"amend": N_("Record corrected"), "entered-in-error": N_("Marked as entered in error"),
                 "deny": N_("Denied")}


class NotFound(Exception):
    """No correction request the caller may see has that id."""


class AlreadyAnswered(Exception):
    """The request was answered already (or ended): one answer per request."""


class NotDenied(Exception):
    """A statement of disagreement answers a denial; this request was not denied."""


class AlreadyFiled(Exception):
    """The request has its statement of disagreement already: one per request."""


class CannotMarkInError(Exception):
    """This kind of record has no way to say it was entered in error."""


class RecordGone(Exception):
    """The record the request is about is no longer the department's (or no longer there)."""


class Unchanged(Exception):
    """An amendment that is the record as it is: nothing would be corrected."""


class OtherPatient(Exception):
    """The corrected record would belong to another patient."""


# -- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """How to show items: the language, the day it is, the vocabulary and the directory."""

    lang: i18n.Language
    vocab: pl.Vocabulary
    directory: Directory
    today: date = field(default_factory=lambda: datetime.now(timezone.utc).date())


def list_corrections(uow, department: str, state: str, view: View, limit: int,
                     after: tuple[datetime, str] | None) -> tuple[list[dict], tuple[datetime, str] | None]:
    """One page of the department's correction requests in STATE (open or answered), oldest
    first, after the (asked, id) key AFTER when given; and the key of the page's last request
    when more follow. A key, not an offset: requests answered while an officer pages leave the
    open list without making the next page skip any. The state is read from each Task, so
    every Task of the department is read; only the page's are put in words."""
    with uow:
        tasks = [t for t in cq.tasks_of(uow.conn, department) if rules.is_correction(t.body())]
        found = rules.in_state([rules.correction_of(t.body()) for t in tasks], state)
        if after is not None:
            found = [c for c in found if (c.asked, c.id) > after]
        page = found[:limit]
        last = (page[-1].asked, page[-1].id) if len(found) > limit else None
        return _items(uow, page, department, view), last


def read_correction(uow, department: str, task_id: str, view: View) -> dict:
    """One of the department's correction requests; another department's is NotFound."""
    with uow:
        task = _department_task(uow, department, task_id)
        correction = rules.correction_of(task.body())
        item = _items(uow, [correction], department, view)[0]
        # The custodian's officer reads the record as it stands, to amend it or to see it is right.
        record = uow.resources.get(*_key(correction.record))
        item["resource"] = record.body() if record is not None else None
        return item


def _department_task(uow, department: str, task_id: str) -> StoredResource:
    task = uow.resources.get("Task", task_id)
    if task is None or task.custodian != department or not rules.is_correction(task.body()):
        raise NotFound(task_id)
    return task


def _items(uow, found: list[rules.Correction], department: str, view: View) -> list[dict]:
    keys = {_key(c.record) for c in found} | {("Patient", c.patient) for c in found}
    keys |= {_key(c.statement) for c in found if c.statement}
    keys |= {_key(c.provenance) for c in found if c.provenance}
    held = uow.resources.get_many(sorted(k for k in keys if k[0] and k[1]))
    return [staff_item(c, held, c.provenance, view) for c in found]


def _key(reference: str | None) -> tuple[str, str]:
    rtype, _, rid = str(reference or "").partition("/")
    return rtype, rid.split("/", 1)[0]


def staff_item(c: rules.Correction, held: dict, provenance_ref: str | None, view: View) -> dict:
    """One correction request as the worklist shows it, its words in VIEW's language."""
    lang = view.lang.used
    t, names = translator(lang), department_names(view.directory, lang)
    rtype, rid = _key(c.record)
    record = held.get((rtype, rid))
    patient = held.get(("Patient", c.patient))
    due = c.due
    left = rules.days_left(due, view.today)
    overdue = c.state == "open" and left < 0
    if c.state == "open":
        code = "overdue" if overdue else "open"
        next_step = NEXT_OVERDUE if overdue else NEXT_OPEN
    else:
        code = c.outcome or ("entered-in-error-task" if c.status == "entered-in-error" else c.status)
        next_step = NEXT_STATEMENT if c.statement else NEXT_DENIED if c.status == "rejected" else NEXT_DONE
    href = f"/staff/v1/corrections/{c.id}"
    answer = None
    if c.state == "answered":
        prov = held.get(_key(provenance_ref)) if provenance_ref else None
        answer = {"outcome": {"code": c.outcome or c.status,
                              "status_text": t(OUTCOME_WORDS.get(c.outcome or "", STATUS_WORDS.get(
                                  c.status, pl.UNKNOWN_STATUS)))},
                  "reason": c.reason, **_answerer(prov.body() if prov else None, lang)}
    statement = held.get(_key(c.statement)) if c.statement else None
    return {
        "id": c.id, "state": c.state,
        "status": {"code": code, "status_text": t(STATUS_WORDS.get(code, pl.UNKNOWN_STATUS))},
        "patient": {"id": c.patient, "name": display_name(patient.body()) if patient else ""},
        "record": {"reference": c.record, "type": rtype, "id": rid,
                   "title": _title(record, c.record, lang, view, t, names)},
        "what_is_wrong": c.what_is_wrong, "correction": c.correction,
        "requested_by": "caregiver" if c.by_caregiver else "patient",
        "asked": pl.long_date(c.asked.isoformat(), lang),
        "due": pl.long_date(due.isoformat(), lang),
        "days_left": left, "overdue": overdue,
        "next_step": t(next_step),
        "actions": ([{"action": "accept", "method": "POST", "href": f"{href}/accept"},
                     {"action": "deny", "method": "POST", "href": f"{href}/deny"}]
                    if c.state == "open" else []),
        "answer": answer,
        "disagreement": _statement(statement.body(), lang) if statement else None,
    }


def _title(record: StoredResource | None, reference: str, lang: str, view: View, t, names) -> str:
    if record is not None and pl.kind_of(record.body()):
        return pl.to_item(record.body(), record.custodian, lang, view.vocab, t, names)["title"]
    if record is not None and record.resource_type == "Patient":
        return t(YOUR_DETAILS)
    return reference


def _answerer(prov: dict | None, lang: str) -> dict:
    if prov is None:
        return {"answered_at": None, "answered_by": None}
    agent = (prov.get("agent") or [{}])[0]
    who = agent.get("who") or {}
    return {"answered_at": pl.long_date(prov.get("recorded"), lang),
            "answered_by": {"staff": (who.get("identifier") or {}).get("value"),
                            "practitioner": who.get("reference")}}


def _statement(doc: dict, lang: str) -> dict:
    return {"reference": f"DocumentReference/{doc['id']}", "statement": rules.statement_text(doc),
            "date": pl.long_date(doc.get("date"), lang)}


# -- answering --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accept:
    """Command: accept a correction request by amending the record or marking it entered in error."""

    task_id: str
    officer: rules.Officer
    action: str  # rules.ACCEPT_ACTIONS
    resource: dict | None = None  # the corrected resource (amend)
    if_match: str | None = None  # the record's version the officer corrected, when they say it


@dataclass(frozen=True)
class Deny:
    """Command: deny a correction request, with the reason in plain words."""

    task_id: str
    officer: rules.Officer
    reason: str


def accept(cmd: Accept, uow, view: View, labeller: Labeller | None = None,
           now: datetime | None = None) -> dict:
    """Change the record (a new version, as a FHIR update), complete the Task, keep a Provenance
    naming the officer, and queue phr.records.amendment-updated; return the answered item."""
    now = now or datetime.now(timezone.utc)
    with uow:
        task = _open_task(uow, cmd.officer.department, cmd.task_id)
        c = rules.correction_of(task.body())
        rtype, rid = _key(c.record)
        record = uow.resources.get(rtype, rid)
        if record is None or record.custodian != cmd.officer.department or record.patient_id != c.patient:
            raise RecordGone(c.record)
        if cmd.action == "amend":
            resource = handlers.checked_update(rtype, rid, cmd.resource, labeller)
        else:
            try:
                resource = rules.entered_in_error(record.body())
            except rules.CannotMarkInError:
                raise CannotMarkInError(rtype) from None
            problems = validate_resource(resource, rtype)
            if problems:  # the stored record was not valid R4 to begin with: say so, change nothing
                raise InvalidBundle(problems)
        if patient_of(resource) != c.patient:  # a correction never moves a record to another patient
            raise OtherPatient(c.record)
        stored = handlers.store_update(uow, record, resource, now, cmd.if_match)
        if stored is record and cmd.action == "amend":
            raise Unchanged(c.record)
        corrected = f"{rtype}/{rid}/_history/{stored.version_id}"
        return _answer(uow, task, c, cmd.action, cmd.officer, now, view, corrected=corrected)


def deny(cmd: Deny, uow, view: View, now: datetime | None = None) -> dict:
    """Reject the Task with the reason, keep a Provenance naming the officer, queue the event."""
    now = now or datetime.now(timezone.utc)
    with uow:
        task = _open_task(uow, cmd.officer.department, cmd.task_id)
        return _answer(uow, task, rules.correction_of(task.body()), "deny", cmd.officer, now, view,
                       reason=cmd.reason)


def _open_task(uow, department: str, task_id: str) -> StoredResource:
    task = _department_task(uow, department, task_id)
    if task.body().get("status") not in rules.OPEN:
        raise AlreadyAnswered(task_id)
    return task


def _answer(uow, task: StoredResource, c: rules.Correction, action: str, officer: rules.Officer,
            now: datetime, view: View, reason: str | None = None, corrected: str | None = None) -> dict:
    prov_id = rules.new_id()
    new_task = rules.answered_task(task.body(), action, now, prov_id, reason=reason, corrected=corrected)
    problems = validate_resource(new_task, "Task")
    if problems:  # a Task we cannot store valid (its import was odd): change nothing
        raise InvalidBundle(problems)
    stored_task = handlers.store_update(uow, task, new_task, now)
    department = view.directory.get(officer.department)
    name = department.name("en") if department is not None else officer.department
    targets = [t for t in (corrected, f"Task/{task.id}/_history/{stored_task.version_id}") if t]
    prov = rules.provenance(prov_id, action, officer, name, now, f"Task/{task.id}", targets)
    problems = validate_resource(prov, "Provenance")
    if problems:
        raise ValueError("; ".join(f"{p.expression}: {p.message}" for p in problems))
    prov["meta"] = {"versionId": "1", "lastUpdated": now.isoformat()}
    uow.resources.add(StoredResource("Provenance", prov_id, 1, now, c.patient, officer.department,
                                     content=prov))
    data = handlers.amendment_outcome(task.body(), stored_task.body(), officer.department, now)
    if data is not None:  # None only for a Task that names no patient: no one to tell
        data.update(answered_by=officer.as_data(), action=action)
        uow.publish(TOPIC, new_event("phr.records.amendment-updated", SOURCE, c.patient, data))
    answered = rules.correction_of(stored_task.body())
    held = uow.resources.get_many([_key(c.record), ("Patient", c.patient)])
    held[("Provenance", prov_id)] = StoredResource("Provenance", prov_id, 1, now, c.patient,
                                                   officer.department, content=prov)
    return staff_item(answered, held, f"Provenance/{prov_id}", view)


# -- the patient's statement of disagreement --------------------------------------------------

@dataclass(frozen=True)
class FileDisagreement:
    """Command: the patient disagrees with a denial and says why, in their words."""

    patient_id: str
    task_id: str
    statement: str
    language: str  # the language the patient wrote in (the negotiated one)
    proxy: str | None = None  # the caregiver's account id when a caregiver files it


def file_disagreement(cmd: FileDisagreement, uow, now: datetime | None = None) -> tuple[dict, dict, StoredResource]:
    """Keep the statement as a DocumentReference beside the record, link it from the Task, and
    queue phr.records.disagreement-filed; return (the Task, the statement, the record)."""
    now = now or datetime.now(timezone.utc)
    with uow:
        task = q.own_record(uow.conn, cmd.patient_id, cmd.task_id, "Task")
        if task is None or not rules.is_correction(task.body()):
            raise NotFound(cmd.task_id)
        c = rules.correction_of(task.body())
        if c.statement:
            raise AlreadyFiled(cmd.task_id)
        if c.status != "rejected":
            raise NotDenied(cmd.task_id)
        rtype, rid = _key(c.record)
        record = q.own_record(uow.conn, cmd.patient_id, rid, rtype)
        if record is None:
            raise NotFound(c.record)
        doc = rules.disagreement_document(task.body(), record.body(), cmd.statement, cmd.language, now,
                                          cmd.proxy)
        problems = validate_resource(doc, "DocumentReference")
        if problems:
            raise ValueError("; ".join(f"{p.expression}: {p.message}" for p in problems))
        doc["meta"].update(versionId="1", lastUpdated=now.isoformat())
        try:
            # Its id is the request's own (rules.statement_id): a second statement filed at the
            # same moment fails here on the primary key, and the transaction changes nothing.
            uow.resources.add(StoredResource("DocumentReference", doc["id"], 1, now, cmd.patient_id,
                                             task.custodian, content=doc))
        except sa.exc.IntegrityError:
            raise AlreadyFiled(cmd.task_id) from None
        body = task.body()
        new_task = {**{k: v for k, v in body.items() if k != "meta"},
                    "meta": {k: v for k, v in (body.get("meta") or {}).items()
                             if k not in ("versionId", "lastUpdated")},
                    "output": [*(body.get("output") or []),
                               {"type": rules.STATEMENT_OUTPUT,
                                "valueReference": {"reference": f"DocumentReference/{doc['id']}"}}]}
        stored_task = handlers.store_update(uow, task, new_task, now)
        uow.publish(TOPIC, new_event("phr.records.disagreement-filed", SOURCE, cmd.patient_id, {
            "patient": cmd.patient_id, "custodian": task.custodian, "task": f"Task/{task.id}",
            "record": c.record, "statement": f"DocumentReference/{doc['id']}",
            "filed_at": now.isoformat(), "by_caregiver": cmd.proxy is not None}))
    return stored_task.body(), doc, record

