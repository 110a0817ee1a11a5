"""The one release rule (domain.model.may_release) and the exchange flow on in-memory fakes."""
from datetime import datetime, timedelta, timezone

import pytest

from services.exchange.adapters.fakes import FakeConsent, FakeUnitOfWork
from services.exchange.domain import ledger as chain
from services.exchange.domain import model as m
from services.exchange.service_layer import queries
from services.exchange.service_layer.flow import Flow

START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def _permit(*redact: str) -> dict:
    return {"decision": "permit", "obligations": [{"type": "redact", "labels": list(redact)}] if redact else []}


@pytest.mark.parametrize("decision, prepared, refusal", [
    (_permit(), [], None),
    (_permit("PSY"), ["PSY"], None),
    (_permit(), ["PSY"], None),  # less left out now: what was prepared is still allowed
    (_permit("PSY"), ["PSY", "HIV"], None),
    (_permit("HIV"), ["PSY"], "consent-narrowed"),
    (_permit("PSY"), [], "consent-narrowed"),
    ({"decision": "deny", "obligations": []}, [], "consent-withdrawn"),
    ({"decision": "deny", "obligations": []}, ["PSY"], "consent-withdrawn"),
])
def test_a_fresh_decision_lets_prepared_records_go_only_if_it_asks_for_nothing_they_still_hold(
        decision, prepared, refusal):
    verdict = m.may_release(decision, prepared)
    assert verdict.refusal == refusal and bool(verdict) is (refusal is None)
    assert refusal is None or m.OUTCOMES[refusal] == m.DENIED


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture
def flow():
    consent = FakeConsent({("p-1", "cardiology"): [{"type": "redact", "labels": ["PSY"]}]})
    return Flow(consent, clock=Clock(), deadline=60, fetch_wait=5), FakeUnitOfWork(active={"cardiology"})


def _types(uow) -> list[str]:
    return [event["type"] for _topic, event in uow.published]


def _fetched(request_id: str) -> dict:
    return {"id": "e-2", "type": "phr.records.fetched", "data": {
        "request_id": request_id, "bundle_ref": "b-1", "resource_count": 3, "redacted_count": 1}}


def _until_fetch(flow, uow, patient="p-1") -> str:
    request_id = flow.submit(uow, patient, "cardiology", "TREAT", ["Observation"], "Chest pain")["id"]
    flow.on_requested(uow, {"id": "e-1", "type": "phr.exchange.requested", "data": {"request_id": request_id}})
    return request_id


def test_a_permitted_request_is_fetched_released_written_in_the_ledger_and_told_to_the_patient(flow):
    flow, uow = flow
    request_id = _until_fetch(flow, uow)
    req = uow.requests.get(request_id)
    assert (req.step, req.redact_labels) == (m.FETCH, ["PSY"])
    assert _types(uow) == ["phr.exchange.requested", "phr.records.fetch"]
    assert uow.published[1][1]["data"]["redact_labels"] == ["PSY"]
    flow.on_fetched(uow, _fetched(request_id))
    req = uow.requests.get(request_id)
    assert (req.status, req.outcome, req.ledger_seq) == (m.FULFILLED, "released", 1)
    # the release, then the patient's notice on its way to delivery outside the app
    assert _types(uow)[-2:] == ["phr.exchange.fulfilled", "phr.notify.added"]
    assert uow.published[-1][1]["data"]["kind"] == "disclosure"
    assert queries.verify_ledger(uow).valid and uow.ledger.head() == (1, uow.ledger.links()[0].hash)
    entries, more = queries.disclosures(uow, "p-1", 20, 0)
    assert not more and entries[0]["request_id"] == request_id and entries[0]["redacted_labels"] == ["PSY"]
    notes, _ = queries.notifications(uow, "p-1", 20, 0)
    assert [n.kind for n in notes] == ["disclosure"] and notes[0].params["resource_count"] == 3


def test_a_consent_narrowed_before_the_release_releases_nothing(flow):
    flow, uow = flow
    request_id = _until_fetch(flow, uow)
    flow.consent.permits[("p-1", "cardiology")] = [{"type": "redact", "labels": ["PSY", "HIV"]}]
    flow.on_fetched(uow, _fetched(request_id))
    req = uow.requests.get(request_id)
    assert (req.status, req.outcome) == (m.DENIED, "consent-narrowed")
    assert uow.ledger.links() == [] and queries.notifications(uow, "p-1", 20, 0) == ([], False)
    assert uow.published[-1][1]["data"]["reason_code"] == "consent-narrowed"


def test_a_duplicate_reply_changes_nothing(flow):
    flow, uow = flow
    request_id = _until_fetch(flow, uow)
    flow.on_fetched(uow, _fetched(request_id))
    published = len(uow.published)
    flow.on_fetched(uow, _fetched(request_id))
    assert len(uow.published) == published and len(uow.ledger.links()) == 1


def test_a_consent_service_away_is_asked_again_when_due_and_fails_closed_past_the_deadline(flow):
    flow, uow = flow
    flow.consent.down = True
    request_id = _until_fetch(flow, uow)
    req = uow.requests.get(request_id)
    assert (req.status, req.step, req.attempts) == (m.PENDING, m.DECIDE, 1)
    assert flow.sweep(uow.units()) == 0, "not due yet"
    flow.clock.now += timedelta(seconds=m.retry_delay(1))
    assert flow.sweep(uow.units()) == 1 and uow.requests.get(request_id).attempts == 2
    flow.clock.now = START + timedelta(seconds=61)
    flow.sweep(uow.units())
    req = uow.requests.get(request_id)
    assert (req.status, req.outcome) == (m.FAILED, "consent-unavailable")
    assert uow.ledger.links() == []


def test_ledger_entries_follow_each_other_in_one_chain(flow):
    flow, uow = flow
    flow.consent.permits[("p-2", "cardiology")] = []
    for patient in ("p-1", "p-2", "p-1"):
        flow.on_fetched(uow, _fetched(_until_fetch(flow, uow, patient)))
    links = uow.ledger.links()
    assert [link.seq for link in links] == [1, 2, 3] and links[0].prev_hash == chain.GENESIS
    assert [link.prev_hash for link in links[1:]] == [link.hash for link in links[:-1]]
    assert queries.verify_ledger(uow).valid
    page, more = queries.disclosures(uow, "p-1", 1, 0)
    assert more and page[0]["seq"] == 3
    assert queries.disclosures(uow, "p-1", 1, 1)[0][0]["seq"] == 1


def test_a_department_reads_only_its_own_requests(flow):
    flow, uow = flow
    request_id = _until_fetch(flow, uow)
    assert queries.request_for(uow, request_id, "cardiology").id == request_id
    assert queries.request_for(uow, request_id, "oncology") is None
    assert queries.request_for(uow, "nope", "cardiology") is None


def test_a_retry_by_the_sweeper_runs_inside_the_trace_the_request_was_made_in(flow):
    from contextlib import contextmanager

    flow, uow = flow
    flow.consent.down = True
    asked = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    request_id = flow.submit(uow, "p-1", "cardiology", "TREAT", ["Observation"], None, traceparent=asked)["id"]
    assert uow.requests.get(request_id).traceparent == asked
    flow.on_requested(uow, {"id": "e-1", "type": "phr.exchange.requested", "data": {"request_id": request_id}})
    resumed = []

    @contextmanager
    def resume(traceparent):
        resumed.append(traceparent)
        yield

    flow.clock.now += timedelta(seconds=m.retry_delay(1))
    assert flow.sweep(uow.units(), resume=resume) == 1
    assert resumed == [asked]
