"""What a report points at and links to, at the exchange, on SQLite and PostgreSQL: a triage link to
a break-the-glass review or a disclosure must name one the exchange knows of, of the report's
patient and of the department's patients; the assignee must be an active quality member of the
department; a patient's "wrong access" report must point at their own disclosure; and a report
routed to the patient's custodian closes when another department, the item's custodian, answers
the linked correction request. Every refusal is a 4xx problem+json that writes nothing."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import FakeConsent, Letters, Pump
from services.exchange.adapters.tables import ledger, processed_events
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from services.exchange.service_layer.reports import STAFF_HANDLERS
from tests.integration.test_exchange_reports import (OTHER, PATIENT, T0, WRONG_ITEM, _answered, _correction,
                                                     _events, _feed, _filed, _patient, _quality, _rows, _triage)
from tests.integration.test_exchange_reports import world  # noqa: F401 - the fixture this file builds on

NEIGHBOUR = "p-3"  # another of primary care's patients
WRONG_ACCESS = {"kind": "wrong-access", "text": "I do not know this clinic."}


@pytest.fixture
def linked(world, mint):
    """The reports world with p-3 indexed at primary care, one disclosure released for each of
    p-1, p-2 (cardiology's) and p-3, and the exchange's staff list: q-1 and q-2 primary care's
    quality team (q-2 disabled since), n-1 a primary care clinician, q-9 cardiology's quality.
    Return (client, service, index, {patient: disclosure seq})."""
    client, service, _clock, index = world
    _feed(index, "phr.records.v1", new_event("phr.records.imported", "/services/records", NEIGHBOUR, {
        "patient": NEIGHBOUR, "custodian": "primary-care", "resource_count": 1,
        "resource_types": {"Observation": 1}, "imported_at": T0.isoformat()}))
    service.flow.consent = FakeConsent(permits={(p, "research"): [] for p in (PATIENT, OTHER, NEIGHBOUR)})
    for patient in (PATIENT, OTHER, NEIGHBOUR):
        body = {"patient": patient, "purpose": "TREAT", "resource_types": ["Observation"], "reason": "Care"}
        assert client.post("/exchange/v1/requests", json=body, headers=mint.department("research")).status_code == 202
        Pump(service, service.records, flow_handlers(service)).run()
    with service.engine.connect() as conn:
        seqs = {r.patient: str(r.seq) for r in conn.execute(sa.select(ledger.c.seq, ledger.c.patient))}
    assert set(seqs) == {PATIENT, OTHER, NEIGHBOUR}
    staff = IdempotentConsumer("exchange.staff", service.engine, processed_events, STAFF_HANDLERS, Letters())
    for staff_id, dept, roles in (("q-1", "primary-care", ["quality"]), ("q-2", "primary-care", ["quality"]),
                                  ("n-1", "primary-care", ["clinician"]), ("q-9", "cardiology", ["quality"])):
        _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-activated", "/gateway", dept, {
            "department": dept, "staff_id": staff_id, "practitioner": staff_id, "roles": roles,
            "invite_id": f"i-{staff_id}", "activated_at": T0.isoformat()}))
    _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-disabled", "/gateway", "primary-care", {
        "department": "primary-care", "staff_id": "q-2", "disabled_by": "admin", "disabled_at": T0.isoformat()}))
    return client, service, index, staff, seqs


def _claim(service, grant_id, patient):
    notify = IdempotentConsumer("exchange.notify", service.engine, processed_events, NOTIFY_HANDLERS, Letters())
    _feed(notify, "phr.consent.v1", new_event("phr.consent.break-glass", "/services/consent", patient, {
        "grant_id": grant_id, "patient": patient, "department": "emergency", "purpose": "ETREAT",
        "reason": "Unconscious on arrival", "granted_at": T0.isoformat(),
        "expires_at": (T0 + timedelta(hours=1)).isoformat(), "sensitive": [],
        "obligations": [{"type": "notify"}, {"type": "review"}]}))


def _refused_and_unchanged(client, mint, service, report, body, field):
    before = client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint))
    resp = _triage(client, mint, report["id"], body)
    assert resp.status_code == 422, (body, resp.get_json())
    assert resp.content_type.startswith("application/problem+json") and resp.get_json()["fields"] == [field]
    after = client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint))
    assert after.headers["ETag"] == before.headers["ETag"] and after.get_json() == before.get_json()
    assert _events(service.engine, "phr.feedback.updated") == []


def test_a_link_to_a_break_glass_review_of_another_department_or_patient_or_unknown_is_refused(linked, mint):
    client, service, _index, _staff, _seqs = linked
    report = _filed(client, _patient(mint))
    _claim(service, "g-cardio", OTHER)  # reviewed by cardiology, p-2's custodian
    _claim(service, "g-neighbour", NEIGHBOUR)  # primary care's, but another patient
    _claim(service, "g-mine", PATIENT)
    for claim in ("g-cardio", "g-neighbour", "g-unknown"):
        _refused_and_unchanged(client, mint, service, report, {"links": {"break_glass_review": claim}},
                               "links.break_glass_review")
    done = _triage(client, mint, report["id"], {"links": {"break_glass_review": "g-mine"}})
    assert done.status_code == 200 and done.get_json()["links"]["break_glass_review"] == "g-mine"


def test_a_staff_report_links_any_review_of_the_departments_patients_but_not_another_departments(linked, mint):
    client, service, _index, _staff, _seqs = linked
    report = _filed(client, mint.staff("primary-care", ("clinician",), "n-1", scope="user/Report.cr"),
                    {"kind": "safety", "text": "The wrong patient's chart was opened."}, "/staff/v1/reports")
    _claim(service, "g-cardio", OTHER)
    _claim(service, "g-neighbour", NEIGHBOUR)
    _refused_and_unchanged(client, mint, service, report, {"links": {"break_glass_review": "g-cardio"}},
                           "links.break_glass_review")
    assert _triage(client, mint, report["id"], {"links": {"break_glass_review": "g-neighbour"}}).status_code == 200


def test_a_link_to_a_disclosure_of_another_department_or_patient_or_unknown_is_refused(linked, mint):
    client, service, _index, _staff, seqs = linked
    report = _filed(client, _patient(mint))
    for seq in (seqs[OTHER], seqs[NEIGHBOUR], "999999"):
        _refused_and_unchanged(client, mint, service, report, {"links": {"disclosure": seq}}, "links.disclosure")
    done = _triage(client, mint, report["id"], {"links": {"disclosure": seqs[PATIENT]}})
    assert done.status_code == 200 and done.get_json()["links"]["disclosure"] == seqs[PATIENT]


@pytest.mark.parametrize("who", ["q-9", "n-1", "q-2", "nobody"],
                         ids=["another-departments-quality", "no-quality-role", "disabled", "unknown"])
def test_a_report_is_assigned_only_to_an_active_quality_member_of_the_department(linked, mint, who):
    client, service, _index, _staff, _seqs = linked
    report = _filed(client, _patient(mint))
    _refused_and_unchanged(client, mint, service, report, {"assignee": {"sub": who}}, "assignee")
    done = _triage(client, mint, report["id"], {"assignee": {"sub": "q-1", "fhirUser": "Practitioner/q-1"}})
    assert done.status_code == 200 and done.get_json()["assignee"]["sub"] == "q-1"


def test_a_member_given_the_quality_role_later_may_be_assigned_and_one_who_loses_it_may_not(linked, mint):
    client, _service, _index, staff, _seqs = linked
    report = _filed(client, _patient(mint))

    def roles(staff_id, now, before):
        _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-roles-changed", "/gateway", "primary-care", {
            "department": "primary-care", "staff_id": staff_id, "roles": now, "previous_roles": before,
            "changed_by": "admin", "changed_at": T0.isoformat()}))
    roles("n-1", ["clinician", "quality"], ["clinician"])
    roles("q-1", ["clinician"], ["quality"])
    assert _triage(client, mint, report["id"], {"assignee": {"sub": "q-1"}}).status_code == 422
    assert _triage(client, mint, report["id"], {"assignee": {"sub": "n-1"}}).status_code == 200


def test_a_report_routed_to_the_patients_custodian_closes_when_the_items_custodian_answers(linked, mint):
    """p-1's index custodian is primary care; the item (and so the correction request) is
    cardiology's: the report goes to primary care, the request to cardiology, and cardiology's
    answer closes the report."""
    client, service, index, _staff, _seqs = linked
    report = _filed(client, _patient(mint), {**WRONG_ITEM, "correction_request": "Task/t-cardio-item"})
    assert _rows(service.engine)[0]["department"] == "primary-care"
    _correction(index, "Task/t-cardio-item", custodian="cardiology")
    _answered(index, "Task/t-cardio-item", custodian="cardiology", status="accepted")
    seen = client.get(f"/patient/v1/reports/{report['id']}", headers=_patient(mint)).get_json()
    assert seen["status"]["code"] == "closed"
    assert seen["note"] == "The team agreed your record was wrong. They will correct it."
    [closed] = _events(service.engine, "phr.feedback.closed")
    assert closed["data"]["department"] == "primary-care" and closed["data"]["correction_outcome"] == "accepted"


def test_a_staff_reports_linked_request_closes_it_only_with_its_departments_answer(linked, mint):
    client, _service, index, _staff, _seqs = linked
    report = _filed(client, mint.staff("primary-care", ("clinician",), "n-1", scope="user/Report.cr"),
                    {"kind": "system-problem", "text": "The allergy list showed twice."}, "/staff/v1/reports")
    _correction(index, "Task/t-pc")
    assert _triage(client, mint, report["id"], {"links": {"correction_request": "Task/t-pc"}}).status_code == 200
    _answered(index, "Task/t-pc", custodian="cardiology")  # not the request's department: ignored
    assert client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint)).get_json()["status"]["code"] \
        == "received"
    _answered(index, "Task/t-pc")
    assert client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint)).get_json()["status"]["code"] \
        == "closed"


def test_a_patient_pointing_at_another_patients_or_an_unknown_disclosure_is_refused_and_nothing_is_stored(linked,
                                                                                                          mint):
    client, service, _index, _staff, seqs = linked
    for seq in (seqs[OTHER], seqs[NEIGHBOUR], "999999"):
        resp = client.post("/patient/v1/reports", json={**WRONG_ACCESS, "about": {"disclosure": seq}},
                           headers=_patient(mint))
        assert resp.status_code == 422 and resp.content_type.startswith("application/problem+json")
        assert resp.get_json()["fields"] == ["about.disclosure"]
    assert _rows(service.engine) == [] and _events(service.engine, "phr.feedback.reported") == []
    mine = _filed(client, _patient(mint), {**WRONG_ACCESS, "about": {"disclosure": seqs[PATIENT]}})
    assert mine["about"] == {"disclosure": seqs[PATIENT]}


def test_a_staff_report_points_only_at_a_disclosure_of_the_departments_patients(linked, mint):
    client, service, _index, _staff, seqs = linked
    nurse = mint.staff("primary-care", ("clinician",), "n-1", scope="user/Report.cr")
    resp = client.post("/staff/v1/reports", json={**WRONG_ACCESS, "about": {"disclosure": seqs[OTHER]}},
                       headers=nurse)
    assert resp.status_code == 422 and resp.get_json()["fields"] == ["about.disclosure"]
    assert _rows(service.engine) == []
    _filed(client, nurse, {**WRONG_ACCESS, "about": {"disclosure": seqs[NEIGHBOUR]}}, "/staff/v1/reports")


def test_an_assignees_name_is_kept_only_when_it_is_the_assigners_own(linked, mint):
    client, _service, _index, staff, _seqs = linked
    _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-activated", "/gateway", "primary-care", {
        "department": "primary-care", "staff_id": "q-3", "practitioner": "Practitioner/q-3", "roles": ["quality"],
        "invite_id": "i-q-3", "activated_at": T0.isoformat()}))
    report = _filed(client, _patient(mint))
    # q-1 assigns q-3 under a name q-1 made up: the exchange cannot tell it is q-3's, so keeps none
    other = _triage(client, mint, report["id"], {"assignee": {"sub": "q-3", "fhirUser": "Practitioner/dr-famous"}})
    assert other.status_code == 200 and other.get_json()["assignee"] == {"sub": "q-3", "fhirUser": None}
    # "assign it to me": the name comes from q-1's own token, not from the body
    mine = _triage(client, mint, report["id"], {"assignee": {"sub": "q-1", "fhirUser": "Practitioner/dr-famous"}})
    assert mine.status_code == 200
    assert mine.get_json()["assignee"] == {"sub": "q-1", "fhirUser": "Practitioner/q-1"}  # the token's
