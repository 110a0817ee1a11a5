"""Reports: file one (its phr.feedback.reported event in the same transaction), follow it, triage
it, and close it when the correction request it is linked to is answered, telling the patient
(docs/architecture.md, "Reports")."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from services.common.envelope import new_event, new_traceparent
from services.common.i18n import N_, translate
from services.exchange.domain import reports as rules
from services.exchange.domain.reports import Report
from services.exchange.service_layer.flow import SOURCE, add_notification
from services.exchange.service_layer.unit_of_work import on

TOPIC = "phr.feedback.v1"


class NotFound(Exception):
    """No such report for the one asking."""


class BadLink(ValueError):
    """A link names something of another patient or department, or something unknown; FIELD says which."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def _subject(report: Report) -> str:
    return report.patient or report.id


def _reported(report: Report) -> dict:
    return new_event("phr.feedback.reported", SOURCE, _subject(report), {
        "report_id": report.id, "reference": report.reference, "kind": report.kind,
        # the words a reader found hard stay in the database, like the free text
        "about": {k: v for k, v in report.about.items() if k != "words"},
        "reporter": report.reporter(), "department": report.department, "language": report.language,
        "received_at": report.received_at.isoformat()})


def file(uow, kind: str, about: dict, text: str, language: str, now: datetime, *, patient: str | None = None,
         acting: str | None = None, staff: dict | None = None, department: str | None = None,
         anonymous: bool = False, correction_request: str | None = None) -> Report:
    """Store a report and its event; raise rules.Refused. A patient's (or caregiver's) report goes
    to the quality staff of the patient's custodian (the patient index); a member of staff's to
    their DEPARTMENT's; an anonymous one keeps no person, its department only where 5 or more
    staff belong to it now (domain/reports.py shown_department), only the day it came (its event's
    time too), and its event starts a trace of its own, not the request's."""
    reporter = rules.STAFF if staff else rules.CAREGIVER if acting else rules.PATIENT
    rules.check_reporter(kind, reporter, anonymous)
    if anonymous:
        reporter = rules.ANONYMOUS
    pointed = rules.check_about(kind, about)
    # a patient's own correction request for the item, filed with the report: kept as a link,
    # and it closes the report only when its answer names the same patient (on_amendment_answered)
    links = {"correction_request": correction_request} if correction_request and patient else {}
    with uow:
        _check_pointed(uow, pointed, patient, None if anonymous else department)
        if patient is not None:
            indexed = uow.patients.get(patient)
            # a patient not yet indexed has no custodian: the report waits unseen (it names the
            # patient, so it is never shown to every quality team as an anonymous one is) until
            # the patient's first import routes it (handlers.py on_records_imported)
            routed = indexed.custodian if indexed else None
        elif anonymous:
            routed = rules.shown_department(department, uow.staff_counts.count(department))
            staff = None
        else:
            routed = department
        report = Report(id=str(uuid.uuid4()), reference=rules.new_reference(), kind=kind, about=pointed,
                        text=text, reporter_kind=reporter, language=language,
                        received_at=rules.received_time(now, anonymous),
                        updated_at=rules.received_time(now, anonymous),
                        department=routed, patient=patient, acting=acting,
                        staff=staff["sub"] if staff else None, staff_user=staff.get("fhirUser") if staff else None,
                        staff_department=department if staff else None, links=links)
        uow.reports.add(report)
        event = _reported(report)
        if anonymous:
            # the event's time (its CloudEvents time, its outbox row and its Kafka timestamp) and
            # its trace would otherwise lead back to the request, and the request (its logs, the
            # gateway's session) to the person
            event["time"] = report.received_at.isoformat().replace("+00:00", "Z")
            uow.publish(TOPIC, event, traceparent=new_traceparent(), created_at=report.received_at)
        else:
            uow.publish(TOPIC, event)
    return report


def _check_pointed(uow, pointed: dict, patient: str | None, department: str | None) -> None:
    """Refuse a report pointing at a disclosure that is not the patient's own (a patient's or
    caregiver's report) or not of one of DEPARTMENT's patients (a named member of staff's), or
    that the ledger does not hold: the exchange keeps the ledger, so it can tell. An anonymous
    report is not checked here (it names no one to compare with).

    A record item ("wrong information") is not checked against the record: the exchange keeps no
    copy of the records, only the patient index. Its reference is checked for its form (a known
    FHIR type and id, contracts/schemas/reports.py AboutSchema) and kept as the patient's claim;
    records checks the item when the patient files the correction request for it (records
    answers 404 for an item not in the patient's record), and that request is what acts on it."""
    seq = pointed.get("disclosure")
    if not seq or (patient is None and department is None):
        return
    owner = uow.ledger.patient_of(int(seq))
    if patient is not None:
        allowed = owner == patient
    else:
        indexed = uow.patients.get(owner) if owner else None
        allowed = indexed is not None and indexed.custodian == department
    if not allowed:
        raise rules.Refused("disclosure")


def mine_as_patient(uow, patient: str, limit: int, offset: int) -> tuple[list[Report], bool]:
    with uow:
        return uow.reports.of_patient(patient, limit, offset)


def of_patient(uow, report_id: str, patient: str) -> Report:
    with uow:
        found = uow.reports.get(report_id)
    if found is None or found.patient != patient:
        raise NotFound(report_id)
    return found


def mine_as_staff(uow, staff: str, limit: int, offset: int) -> tuple[list[Report], bool]:
    with uow:
        return uow.reports.of_staff(staff, limit, offset)


def by_reference(uow, reference: str) -> Report:
    """The anonymous report of REFERENCE (how its reporter follows it); raise NotFound."""
    with uow:
        found = uow.reports.by_reference(rules.normal_reference(reference))
    if found is None or found.reporter_kind != rules.ANONYMOUS:
        raise NotFound(reference)
    return found


def _visible(report: Report | None, department: str) -> bool:
    """DEPARTMENT's report, or an anonymous one shown for no department (every quality team's)."""
    if report is None:
        return False
    return report.department == department or (report.department is None and report.reporter_kind == rules.ANONYMOUS)


def for_quality(uow, report_id: str, department: str) -> Report:
    """Report REPORT_ID as DEPARTMENT's quality staff see it; raise NotFound."""
    with uow:
        found = uow.reports.get(report_id)
    if not _visible(found, department):
        raise NotFound(report_id)
    return found


def queue(uow, department: str, kind: str | None, status: str | None, limit: int, offset: int):
    with uow:
        return uow.reports.queue(department, kind, status, limit, offset)


def hard_words(uow, department: str | None) -> list[rules.HardWords]:
    """The words readers found hard, counted by language and page: those DEPARTMENT's quality
    staff see, or every report's when DEPARTMENT is None (the wording review)."""
    with uow:
        return rules.hard_words(uow.reports.hard_words(department))


def _check_links(uow, report: Report, links: dict, department: str) -> None:
    """Refuse a link the exchange cannot vouch for: a correction request it has not heard of
    (phr.records.amendment-requested) or of another patient or department; a break-the-glass
    review it has not queued (phr.consent.break-glass) or not DEPARTMENT's (the review queue's
    rule: the claim's patient is DEPARTMENT's in the patient index) or of another patient; a
    disclosure (ledger entry) that is not of one of DEPARTMENT's patients (the staff ledger's
    rule) or of another patient. The report's patient is compared only when it has one (a staff
    report names none)."""
    mine = (lambda patient: not report.patient or patient == report.patient)
    task = links.get("correction_request")
    if task:
        known = uow.corrections.get(task)
        if known is None or known[1] != department or not mine(known[0]):
            raise BadLink("links.correction_request")
    claim = links.get("break_glass_review")
    if claim:
        review = uow.reviews.get(claim, department)
        if review is None or not mine(review.patient):
            raise BadLink("links.break_glass_review")
    seq = links.get("disclosure")
    if seq:
        patient = uow.ledger.patient_of(int(seq))
        indexed = uow.patients.get(patient) if patient else None
        if indexed is None or indexed.custodian != department or not mine(patient):
            raise BadLink("links.disclosure")


def _check_assignee(uow, assignee: dict | None, department: str, by: dict) -> dict | None:
    """Refuse an assignee who is not an active member of DEPARTMENT with the quality role, as the
    gateway's account events said (phr.accounts.staff-activated, -roles-changed, -disabled).
    Return the assignee to keep: their fhirUser only when it is BY's own, from BY's token; a
    fhirUser sent for someone else is not kept, as nothing here can tell it is theirs."""
    if assignee is None:
        return None
    sub = str(assignee.get("sub"))
    if not uow.staff_counts.has_role(sub, department, "quality"):
        raise BadLink("assignee")
    return {"sub": sub, "fhirUser": by.get("fhirUser") if sub == by.get("sub") else None}


def triage(uow, report_id: str, department: str, version: int | None, by: dict, now: datetime, **changes) -> Report:
    """Change a report as DEPARTMENT's quality team member BY ({sub, fhirUser}) who read VERSION
    (status, note, assignee, links), with its event (phr.feedback.closed when it closes); raise
    NotFound, BadLink (a link or the assignee refused), rules.Unconditional, rules.Stale, rules.Closed or rules.Backwards; nothing
    is written on a refusal."""
    with uow:
        before = uow.reports.get(report_id, lock=True)
        if not _visible(before, department):
            raise NotFound(report_id)
        _check_links(uow, before, changes.get("links") or {}, department)
        if "assignee" in changes:
            changes["assignee"] = _check_assignee(uow, changes["assignee"], department, by)
        after, changed = before.triage(version, now, **changes)
        if not changed:
            return before
        if not uow.reports.replace(before, after):
            raise rules.Stale(report_id)
        uow.publish(TOPIC, new_event("phr.feedback.updated", SOURCE, _subject(after), {
            "report_id": after.id, "reference": after.reference, "kind": after.kind,
            "department": after.department, "status": after.status, "previous_status": before.status,
            "assignee": {"sub": after.assignee, "fhirUser": after.assignee_user} if after.assignee else None,
            "links": after.links, "changed": changed, "updated_by": by, "updated_at": now.isoformat()}))
        if after.status == rules.CLOSED:
            _closed(uow, after, by)
    return after


def _closed(uow, report: Report, by: dict | None, outcome: str | None = None) -> None:
    uow.publish(TOPIC, new_event("phr.feedback.closed", SOURCE, _subject(report), {
        "report_id": report.id, "reference": report.reference, "kind": report.kind,
        "department": report.department, "links": report.links, "closed_by": by,
        "correction_outcome": outcome, "received_at": report.received_at.isoformat(),
        "closed_at": report.closed_at.isoformat()}))
    if report.patient:
        add_notification(uow, report.patient, "report-closed", f"report-closed:{report.id}", report.closed_at,
                         {"reference": report.reference})


#: FHIR Task.status of an answered correction request -> the note a linked report closes with.
CORRECTION_NOTES = {
    "accepted": N_("The team agreed your record was wrong. They will correct it."),
    "in-progress": N_("The team agreed your record was wrong. They will correct it."),
    "completed": N_("The team corrected your record. Thank you for telling us."),
    "rejected": N_("The team looked at your record and did not change it. You can tell them why you disagree."),
    "cancelled": N_("The correction request was stopped, so your record did not change."),
    "failed": N_("The correction request could not be done, so your record did not change."),
}


def _when(event: dict) -> datetime:
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return datetime.now(timezone.utc)


def on_amendment_requested(work, event: dict) -> None:
    """Keep whose correction request it is (a report is linked only to its department's)."""
    data = event["data"]
    on(work).corrections.add_once(str(data["task"]), str(data["patient"]), str(data["custodian"]))


def on_amendment_answered(work, event: dict) -> None:
    """Close the open reports linked to an answered correction request, with the outcome in each
    reporter's language, and tell the patient (phr.records.amendment-updated).

    Who answers is the custodian of the record item (records decides, phr.records.v1), which may
    not be the department the report was routed to (the patient's custodian in the patient index,
    chosen when the report is filed, before the exchange may even have heard of the request). So
    a patient's report closes when the answer names the same patient, whichever custodian gave it:
    only a request linked to that report and for that patient closes it, and another patient
    naming the same Task gains nothing. A staff report names no patient: its link was checked to
    be a request of the report's department at triage, and only that department's answer closes
    it."""
    data, uow = event["data"], on(work)
    message = CORRECTION_NOTES.get(str(data["status"]))
    if message is None:
        return
    now = _when(event)
    for report in uow.reports.linked_to(str(data["task"])):
        same = (report.patient == data.get("patient") if report.patient
                else report.department == data.get("custodian"))
        if not same:
            continue
        done = report.close_by_correction(translate(message, report.language), now)
        if uow.reports.replace(report, done):
            _closed(uow, done, None, str(data["status"]))


def on_staff_joined(work, event: dict) -> None:
    data = event["data"]
    on(work).staff_counts.joined(str(data["staff_id"]), str(data["department"]),
                                 [str(r) for r in data.get("roles") or []])


def on_staff_roles_changed(work, event: dict) -> None:
    data = event["data"]
    on(work).staff_counts.roles_changed(str(data["staff_id"]), str(data["department"]),
                                        [str(r) for r in data.get("roles") or []])


def on_staff_left(work, event: dict) -> None:
    data = event["data"]
    on(work).staff_counts.left(str(data["staff_id"]), str(data["department"]))


#: The staff consumer's routing table (phr.accounts.v1): how many staff each department has, and
#: each one's roles (who may be assigned a report).
STAFF_HANDLERS = {"phr.accounts.staff-activated": on_staff_joined,
                  "phr.accounts.staff-roles-changed": on_staff_roles_changed,
                  "phr.accounts.staff-disabled": on_staff_left}
