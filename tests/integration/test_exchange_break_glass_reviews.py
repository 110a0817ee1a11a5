"""The break-the-glass review queue for a department's privacy officers, on SQLite and PostgreSQL:
each claim (phr.consent.break-glass) queued for the patient's custodian, sensitive claims first
then the oldest, overdue 72 hours after the claim by the service's clock, what was released and
kept back read from the ledger, one review recorded with the reviewer, its event and the
patient's notification."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.common import measures
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import FakeConsent, Letters, Pump
from services.exchange.adapters.tables import break_glass_reviews, notifications, outbox, processed_events
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer.handlers import HANDLERS
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from tests.conftest import not_a_privacy_officer
from tests.support.apps import Clock
from tests.support.metrics import value

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
PATIENT = "p-1"  # primary care holds the records


class Emergency(FakeConsent):
    """Consent as it answers an emergency department's claim: a break-the-glass permit that keeps
    the substance-use records back."""

    def decide(self, patient, actor, purpose, classes, bearer=None):
        self.calls.append((patient, actor, purpose, tuple(classes), bearer))
        return {"decision": "permit", "consent_id": None, "consent_version": None, "basis": "break-glass",
                "break_glass_id": "g-old", "obligations": [{"type": "redact", "labels": ["SUD"]},
                                                           {"type": "review"}]}


@pytest.fixture
def world(exchange):
    """The exchange's client and service, on a clock the test moves, with the patient index filled."""
    service = exchange.service
    service.flow.clock = clock = Clock()
    clock.now = T0 + timedelta(days=10)
    engine = exchange.engine
    index = IdempotentConsumer("exchange.records-index", engine, processed_events, HANDLERS, Letters())
    for patient, custodian in ((PATIENT, "primary-care"), ("p-2", "cardiology")):
        imported = new_event("phr.records.imported", "/services/records", patient, {
            "patient": patient, "custodian": custodian, "resource_count": 3,
            "resource_types": {"Observation": 3}, "imported_at": T0.isoformat()})
        assert index.handle("phr.records.v1", json.dumps(imported).encode()) == "applied"
    notify = IdempotentConsumer("exchange.notify", engine, processed_events, NOTIFY_HANDLERS, Letters())
    return exchange.client, service, clock, notify


def _claim(notify, grant_id, claimed_at, sensitive=(), patient=PATIENT, department="emergency", **extra):
    event = new_event("phr.consent.break-glass", "/services/consent", patient, {
        "grant_id": grant_id, "patient": patient, "department": department, "purpose": "ETREAT",
        "reason": f"Unconscious on arrival ({grant_id})", "granted_at": claimed_at.isoformat(),
        "expires_at": (claimed_at + timedelta(hours=1)).isoformat(),
        "sensitive": [{"label": label, "reason": f"Overdose suspected ({label})"} for label in sensitive],
        "obligations": [{"type": "notify"}, {"type": "review"}], **extra})
    raw = json.dumps(event).encode()
    assert notify.handle("phr.consent.v1", raw) == "applied"
    assert notify.handle("phr.consent.v1", raw) == "duplicate"


def _officer(mint, dept="primary-care", staff_id="po-1"):
    return mint.staff(dept=dept, roles=("privacy-officer",), staff_id=staff_id)


def _count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def test_the_queue_puts_sensitive_claims_first_then_the_oldest(world, mint):
    client, _service, _clock, notify = world
    _claim(notify, "g-old", T0)
    _claim(notify, "g-new-sensitive", T0 + timedelta(days=9), sensitive=("SUD",))
    _claim(notify, "g-mid", T0 + timedelta(days=3))
    _claim(notify, "g-old-sensitive", T0 + timedelta(days=2), sensitive=("PSY", "HIV"))
    page = client.get("/staff/v1/break-glass-reviews", headers=_officer(mint))
    assert page.status_code == 200, page.get_json()
    items = page.get_json()["items"]
    assert [i["id"] for i in items] == ["g-old-sensitive", "g-new-sensitive", "g-old", "g-mid"]
    assert [i["priority"] for i in items] == [True, True, False, False]
    first = items[0]
    assert first["department"] == {"department": "emergency", "display": "Emergency"}
    assert first["reason"] == "Unconscious on arrival (g-old-sensitive)"
    assert [(s["label"]["code"], s["label"]["display"], s["reason"]) for s in first["sensitive"]] == [
        ("PSY", "Mental health notes", "Overdose suspected (PSY)"),
        ("HIV", "HIV test results and care", "Overdose suspected (HIV)")]
    assert first["claimed_by"] is None and first["status"] == "open" and first["review"] is None
    two = client.get("/staff/v1/break-glass-reviews?limit=2", headers=_officer(mint)).get_json()
    rest = client.get(f"/staff/v1/break-glass-reviews?limit=2&cursor={two['next']}", headers=_officer(mint)).get_json()
    assert [i["id"] for i in two["items"] + rest["items"]] == [i["id"] for i in items] and rest["next"] is None


def test_a_claim_is_overdue_72_hours_after_it_was_made_by_the_services_clock(world, mint):
    client, _service, clock, notify = world
    _claim(notify, "g-1", T0)  # the event itself is dated now: the claim's own time counts
    clock.now = T0 + timedelta(hours=71, minutes=59)
    item = client.get("/staff/v1/break-glass-reviews/g-1", headers=_officer(mint)).get_json()
    assert item["overdue"] is False and item["waited"]["seconds"] == (71 * 60 + 59) * 60
    assert item["next_step"]["code"] == "review"
    assert item["due_at"] == (T0 + timedelta(hours=72)).isoformat()
    clock.now = T0 + timedelta(hours=72)
    item = client.get("/staff/v1/break-glass-reviews/g-1", headers=_officer(mint)).get_json()
    assert item["overdue"] is True and item["waited"]["text"] == "3 days"
    assert item["next_step"] == {"code": "review-now",
                                 "text": "This review is late. Read the reason and what was shared today."}
    spanish = client.get("/staff/v1/break-glass-reviews/g-1", headers={**_officer(mint), "Accept-Language": "es"})
    assert spanish.get_json()["waited"]["text"] == "3 días"


def test_the_person_who_claimed_is_shown_when_the_claim_names_them(world, mint):
    # phr.consent.break-glass names no person yet: a claimed_by {sub, fhirUser} in its data is
    # kept when it does (services/exchange/service_layer/reviews.py)
    client, _service, _clock, notify = world
    _claim(notify, "g-1", T0, claimed_by={"sub": "s-9", "fhirUser": "Practitioner/s-9"})
    item = client.get("/staff/v1/break-glass-reviews/g-1", headers=_officer(mint)).get_json()
    assert item["claimed_by"] == {"sub": "s-9", "fhirUser": "Practitioner/s-9"}


def test_what_was_released_under_the_claim_and_what_was_kept_back_are_read_from_the_ledger(world, mint):
    client, service, _clock, notify = world
    _claim(notify, "g-old", T0, sensitive=())
    service.flow.consent = Emergency()
    ask = {"patient": PATIENT, "purpose": "ETREAT", "resource_types": ["Observation", "Condition"],
           "reason": "Unconscious"}
    assert client.post("/exchange/v1/requests", json=ask, headers=mint.department("emergency")).status_code == 202
    assert [e["type"] for e in Pump(service, service.records, flow_handlers(service)).run()][-2:] == \
        ["phr.exchange.fulfilled", "phr.notify.added"]
    item = client.get("/staff/v1/break-glass-reviews/g-old", headers={**_officer(mint), "Accept-Language": "es"})
    body = item.get_json()
    assert body["released"]["count"] == 3 and len(body["released"]["entries"]) == 1
    entry = body["released"]["entries"][0]
    assert [r["code"] for r in entry["records"]] == ["Observation", "Condition"]
    assert entry["records"][0]["display"] == "Análisis de laboratorio"
    assert body["redacted"]["count"] == 1
    assert [(lab["code"], lab["display"]) for lab in body["redacted"]["labels"]] == [
        ("SUD", "Tratamiento por drogas y alcohol")]


def test_a_review_is_recorded_once_with_the_reviewer_its_event_and_the_patients_notice(world, mint):
    client, service, clock, notify = world
    _claim(notify, "g-1", T0, sensitive=("PSY",))
    _claim(notify, "g-2", T0 + timedelta(hours=1))
    resp = client.post("/staff/v1/break-glass-reviews/g-1", json={"outcome": "justified", "note": "  "},
                       headers=_officer(mint))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "reviewed" and body["next_step"]["code"] == "none" and body["overdue"] is False
    assert body["review"] == {"outcome": {"code": "justified", "text": "The emergency access was needed."},
                              "note": None, "reviewed_by": {"sub": "po-1", "fhirUser": "Practitioner/po-1"},
                              "reviewed_at": clock.now.isoformat()}
    with service.engine.connect() as conn:
        events = [json.loads(r.payload) for r in conn.execute(sa.select(outbox.c.payload))]
    reviewed = [e for e in events if e["type"] == "phr.exchange.break-glass-reviewed"]
    assert len(reviewed) == 1 and reviewed[0]["subject"] == PATIENT
    assert reviewed[0]["data"] | {"reviewed_at": None} == {
        "claim_id": "g-1", "patient": PATIENT, "department": "emergency", "custodian": "primary-care",
        "outcome": "justified", "note": None, "reviewed_by": {"sub": "po-1", "fhirUser": "Practitioner/po-1"},
        "reviewed_at": None, "claimed_at": T0.isoformat(), "sensitive_labels": ["PSY"]}
    again = client.post("/staff/v1/break-glass-reviews/g-1", json={"outcome": "not-justified", "note": "No"},
                        headers=_officer(mint, staff_id="po-2"))
    assert again.status_code == 409 and again.content_type.startswith("application/problem+json")
    assert client.get("/staff/v1/break-glass-reviews/g-1", headers=_officer(mint)).get_json()["review"][
        "reviewed_by"]["sub"] == "po-1"
    assert _count(service.engine, outbox, outbox.c.topic == "phr.exchange.v1") == 1
    opened = client.get("/staff/v1/break-glass-reviews?status=open", headers=_officer(mint)).get_json()["items"]
    done = client.get("/staff/v1/break-glass-reviews?status=reviewed", headers=_officer(mint)).get_json()["items"]
    assert [i["id"] for i in opened] == ["g-2"] and [i["id"] for i in done] == ["g-1"]
    me = {**mint.patient(PATIENT, sub="a-1", locale="es")}
    notes = client.get("/patient/v1/notifications", headers=me).get_json()["items"]
    shown = [n for n in notes if n["kind"] == "break-glass-justified"]
    assert [n["message"] for n in shown] == ["Revisamos el acceso de emergencia de Urgencias. Era necesario para atenderle."]


def test_a_claim_found_not_needed_needs_a_note_and_tells_the_patient_in_plain_words(world, mint):
    client, service, _clock, notify = world
    _claim(notify, "g-1", T0)
    for body in ({"outcome": "not-justified"}, {"outcome": "not-justified", "note": "   "},
                 {"outcome": "not-justified", "note": None}):
        resp = client.post("/staff/v1/break-glass-reviews/g-1", json=body, headers=_officer(mint))
        assert resp.status_code == 422 and resp.get_json()["fields"] == ["note"], body
    assert _count(service.engine, break_glass_reviews, break_glass_reviews.c.reviewed_at.is_not(None)) == 0
    resp = client.post("/staff/v1/break-glass-reviews/g-1", headers=_officer(mint),
                       json={"outcome": "not-justified", "note": "The patient was awake and could be asked."})
    assert resp.status_code == 200 and resp.get_json()["review"]["note"] == "The patient was awake and could be asked."
    notes = client.get("/patient/v1/notifications", headers=mint.patient(PATIENT, sub="a-1")).get_json()["items"]
    assert [n["message"] for n in notes if n["kind"] == "break-glass-not-justified"] == [
        "We checked the emergency access by Emergency. We found it was not needed. We are looking into it."]


def test_only_the_custodians_privacy_officers_see_a_claim(world, mint):
    client, service, _clock, notify = world
    _claim(notify, "g-1", T0)
    _claim(notify, "g-unknown", T0, patient="p-nobody-holds")
    for dept in ("emergency", "cardiology"):
        other = _officer(mint, dept=dept)
        assert client.get("/staff/v1/break-glass-reviews", headers=other).get_json()["items"] == []
        assert client.get("/staff/v1/break-glass-reviews/g-1", headers=other).status_code == 404
        resp = client.post("/staff/v1/break-glass-reviews/g-1", json={"outcome": "justified"}, headers=other)
        assert resp.status_code == 404 and resp.content_type.startswith("application/problem+json")
    assert [i["id"] for i in client.get("/staff/v1/break-glass-reviews", headers=_officer(mint)).get_json()["items"]] \
        == ["g-1"]
    assert client.get("/staff/v1/break-glass-reviews/no-such-claim", headers=_officer(mint)).status_code == 404
    assert client.post("/staff/v1/break-glass-reviews/no-such-claim", json={"outcome": "justified"},
                       headers=_officer(mint)).status_code == 404
    assert _count(service.engine, break_glass_reviews, break_glass_reviews.c.reviewed_at.is_not(None)) == 0


@pytest.mark.parametrize("method, path", [("get", "/staff/v1/break-glass-reviews"),
                                          ("get", "/staff/v1/break-glass-reviews/g-1"),
                                          ("post", "/staff/v1/break-glass-reviews/g-1")])
def test_a_token_without_the_privacy_officers_scope_is_refused(world, mint, method, path):
    client, service, _clock, notify = world
    _claim(notify, "g-1", T0)
    for who, headers in not_a_privacy_officer(mint, "primary-care", PATIENT).items():
        resp = getattr(client, method)(path, json={"outcome": "justified"}, headers=headers)
        assert resp.status_code == 403, who
    assert getattr(client, method)(path, json={"outcome": "justified"}).status_code == 401
    assert _count(service.engine, break_glass_reviews, break_glass_reviews.c.reviewed_at.is_not(None)) == 0


@pytest.mark.parametrize("body, status", [
    ("not json", 422), ("[1]", 422), ('"justified"', 422),
    (json.dumps({"outcome": "justified", "extra": 1}), 422),
    (json.dumps({"outcome": "maybe"}), 422), (json.dumps({}), 422),
    (json.dumps({"outcome": "not-justified", "note": "x" * 2001}), 422),
    (json.dumps({"outcome": "justified", "note": "x" * 100_000}), 413),
])
def test_a_broken_review_body_is_a_problem_that_changes_nothing(world, mint, body, status):
    client, service, _clock, notify = world
    _claim(notify, "g-1", T0)
    resp = client.post("/staff/v1/break-glass-reviews/g-1", data=body, content_type="application/json",
                       headers=_officer(mint))
    assert resp.status_code == status and resp.content_type.startswith("application/problem+json")
    assert _count(service.engine, break_glass_reviews, break_glass_reviews.c.reviewed_at.is_not(None)) == 0
    assert _count(service.engine, outbox, outbox.c.topic == "phr.exchange.v1") == 0
    assert _count(service.engine, notifications, notifications.c.kind.like("break-glass-%")) == 0


@pytest.mark.parametrize("query, field", [("?status=closed", "status"), ("?limit=0", "limit"),
                                          ("?cursor=abc", "cursor")])
def test_a_bad_query_is_a_422_naming_the_field(world, mint, query, field):
    client, _service, _clock, _notify = world
    resp = client.get(f"/staff/v1/break-glass-reviews{query}", headers=_officer(mint))
    assert resp.status_code == 422 and resp.get_json()["fields"] == [field]


def test_the_metrics_count_open_and_overdue_reviews_by_the_services_clock(world, mint):
    client, _service, clock, notify = world
    _claim(notify, "g-1", T0)
    _claim(notify, "g-2", T0 + timedelta(days=9))
    _claim(notify, "g-3", T0 + timedelta(days=1))
    client.post("/staff/v1/break-glass-reviews/g-3", json={"outcome": "justified"}, headers=_officer(mint))

    def gauge(state):  # the human measures, added up over the custodian departments
        name = {"open": "phr_break_glass_claims_open", "overdue": "phr_break_glass_reviews_overdue"}[state]
        measures.expire(client.application)  # read afresh, not the figures kept for a few seconds
        return value(client.get("/metrics").get_data(as_text=True), name)

    assert (gauge("open"), gauge("overdue")) == (2, 1)
    clock.now = T0 + timedelta(days=9, hours=72)
    assert (gauge("open"), gauge("overdue")) == (2, 2)
