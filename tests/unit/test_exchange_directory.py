"""The exchange service and the directory of departments, on in-memory fakes: a disabled
department's pending requests are denied (domain.model.directory_refusal), and every name a
patient reads comes from the directory, in their language."""
from datetime import datetime, timezone

import pytest

from contracts.events import problems
from services.common import i18n
from services.common.directory import Department, Directory
from services.exchange.adapters.fakes import FakeConsent, FakeUnitOfWork
from services.exchange.domain import model as m
from services.exchange.domain.model import Notification
from services.exchange.entrypoints import patient as views
from services.exchange.entrypoints import wording as w
from services.exchange.service_layer import queries
from services.exchange.service_layer.flow import Flow
from tests.support.directory import DEMO_DEPARTMENTS, entry

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
HEART = Department("heart-east", {"en": "Heart clinic East", "es": "Clínica del corazón Este"}, "clinical")
DIRECTORY = Directory.of([HEART, *(Department.from_event_data(entry(d["department"])) for d in DEMO_DEPARTMENTS)])


def _closed(department: Department) -> Department:
    return Department(department.id, department.names, department.kind, active=False,
                      version=department.version + 1)


@pytest.fixture
def flow():
    consent = FakeConsent({("p-1", "cardiology"): [], ("p-1", "emergency"): []})
    return Flow(consent, clock=lambda: NOW), FakeUnitOfWork(active={"cardiology", "emergency"})


def _submit(flow, uow, requester="cardiology", patient="p-1") -> str:
    return flow.submit(uow, patient, requester, "TREAT", ["Observation"], None)["id"]


def _denied(uow) -> list[dict]:
    return [event for _topic, event in uow.published if event["type"] == "phr.exchange.denied"]


@pytest.mark.parametrize("status, active, refusal", [
    (m.PENDING, False, "department-disabled"),
    (m.PENDING, True, None),
    (m.FULFILLED, False, None),
    (m.DENIED, False, None),
])
def test_only_a_pending_request_of_a_department_that_is_not_active_is_refused(status, active, refusal):
    req = m.ExchangeRequest("r-1", "p-1", "cardiology", "TREAT", ["Observation"], None, status, m.DECIDE, 0,
                            NOW, NOW, NOW, [], [])
    assert m.directory_refusal(req, active) == refusal
    assert refusal is None or m.OUTCOMES[refusal] == m.DENIED


def test_disabling_a_department_denies_its_pending_requests_and_tells_each_patient(flow):
    flow, uow = flow
    waiting = [_submit(flow, uow), _submit(flow, uow, patient="p-2")]
    released = _submit(flow, uow)
    flow.on_requested(uow, {"data": {"request_id": released}})
    flow.on_fetched(uow, {"data": {"request_id": released, "bundle_ref": "b-1", "resource_count": 1,
                                   "redacted_count": 0}})
    other = _submit(flow, uow, requester="emergency")
    uow.departments.active.discard("cardiology")
    flow.on_department_changed(uow, _closed(DIRECTORY.get("cardiology")))
    assert [uow.requests.get(r).outcome for r in waiting] == ["department-disabled"] * 2
    assert uow.requests.get(released).outcome == "released"
    assert uow.requests.get(other).status == m.PENDING
    denied = _denied(uow)
    assert sorted(e["data"]["request_id"] for e in denied) == sorted(waiting)
    assert {e["data"]["reason_code"] for e in denied} == {"department-disabled"}
    assert [problems(e) for e in denied] == [[], []]
    for patient in ("p-1", "p-2"):
        notes, _ = queries.notifications(uow, patient, 20, 0)
        assert "department-disabled" in [n.kind for n in notes]
    assert uow.ledger.links()[0].seq == 1 and len(uow.ledger.links()) == 1, "a denial writes no ledger entry"


def test_a_department_changed_but_still_active_keeps_its_requests(flow):
    flow, uow = flow
    request_id = _submit(flow, uow)
    renamed = Department("cardiology", {"en": "Heart care", "es": "Cuidado del corazón"}, "clinical", version=2)
    flow.on_department_changed(uow, renamed)
    assert uow.requests.get(request_id).status == m.PENDING and _denied(uow) == []


def test_a_request_of_a_department_no_longer_active_is_denied_before_consent_is_asked(flow):
    flow, uow = flow
    request_id = _submit(flow, uow)
    uow.departments.active.discard("cardiology")  # disabled after it asked, before the worker decided
    flow.on_requested(uow, {"data": {"request_id": request_id}})
    assert uow.requests.get(request_id).outcome == "department-disabled"
    assert flow.consent.calls == [] and len(_denied(uow)) == 1


def test_a_request_of_a_department_disabled_while_records_prepared_them_is_not_released(flow):
    flow, uow = flow
    request_id = _submit(flow, uow)
    flow.on_requested(uow, {"data": {"request_id": request_id}})
    uow.departments.active.discard("cardiology")
    flow.on_fetched(uow, {"data": {"request_id": request_id, "bundle_ref": "b-1", "resource_count": 1,
                                   "redacted_count": 0}})
    assert uow.requests.get(request_id).outcome == "department-disabled" and uow.ledger.links() == []


@pytest.mark.parametrize("lang, name", [("en", "Heart clinic East"), ("es", "Clínica del corazón Este")])
def test_a_department_is_named_by_the_directory_in_the_patients_language(lang, name):
    assert w.department("heart-east", lang, DIRECTORY.name) == name
    ledger_entry = {"seq": 1, "recipient": "heart-east", "basis": "consent", "redacted_count": 0,
                    "resource_types": ["Observation"], "resource_count": 2, "purpose": "TREAT",
                    "released_at": NOW.isoformat(), "consent_id": "c-1", "consent_version": 1, "hash": "0" * 64}
    disclosure = views.disclosure(ledger_entry, lang, DIRECTORY.name)
    assert disclosure["recipient"] == {"department": "heart-east", "display": name}
    assert disclosure["title"].startswith(name)


def test_a_department_the_directory_never_held_is_named_by_its_id():
    assert w.department("gone-away", "es", DIRECTORY.name) == "gone-away"
    assert w.department(None, "en", DIRECTORY.name) == ""


@pytest.mark.parametrize("lang, title, message", [
    ("en", "A request for your records was stopped",
     "Heart clinic East asked for your records. It was closed before it got them, so nothing was shared."),
    ("es", "Se detuvo un pedido de sus registros",
     "Clínica del corazón Este pidió sus registros. Se cerró antes de recibirlos, así que no se compartió nada."),
])
def test_the_patient_reads_in_plain_words_that_a_closed_department_got_nothing(lang, title, message):
    note = Notification("n-1", "p-1", "department-disabled",
                        {"department": "heart-east", "purpose": "TREAT", "request_id": "r-1"}, NOW)
    shown = views.notification(note, lang, DIRECTORY.name)
    assert (shown["kind"], shown["title"], shown["message"]) == ("department-disabled", title, message)


def test_every_outcome_has_its_reason_in_words_in_english_and_spanish():
    for code in m.OUTCOMES:
        assert code in w.OUTCOMES, code
        english, spanish = w.outcome(code, "en")["text"], w.outcome(code, "es")["text"]
        assert english == w.OUTCOMES[code] and spanish != english, code
    assert w.outcome("department-disabled", "es")["text"] == (
        "Este departamento se cerró en el directorio, así que no se entregó nada.")
    assert i18n.translate(w.OUTCOMES["department-disabled"], "en") == (
        "This department was closed in the directory, so nothing was released.")


def test_every_kind_of_notice_is_a_kind_the_contract_allows_and_each_has_words():
    from contracts.schemas.exchange import NotificationSchema

    allowed = set(NotificationSchema().fields["kind"].validate.choices)
    assert set(w.NOTICES) == allowed
    for title, message in w.NOTICES.values():
        assert i18n.translate(title, "es") != title and i18n.translate(message, "es") != message
