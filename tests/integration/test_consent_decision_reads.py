"""The decision path's raw-cursor reads return what the SQLAlchemy repositories return (SQLite and PostgreSQL)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.common.config import load_settings
from services.common.db import migrate
from services.consent import MIGRATIONS_DIR
from services.consent.bootstrap import bootstrap
from services.consent.domain import model
from services.consent.domain.model import Party
from services.consent.service_layer import handlers
from tests.support.directory import seed_directory

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)


@pytest.fixture
def svc(database_url, tmp_path):
    migrate(database_url, MIGRATIONS_DIR)
    service = bootstrap(load_settings("consent", {"PHR_VAR_DIR": str(tmp_path)}, database_url=database_url))
    seed_directory(service.engine)  # the demo's departments, as the worker keeps them
    yield service
    service.engine.dispose()


def _grant(svc, dept, classes, end=None, notify=False, patient="pat-1"):
    cmd = handlers.GrantConsent(patient, Party("department", dept), ["TREAT"], classes, None, end,
                                Party("patient", patient), "en", notify)
    return handlers.grant_consent(cmd, svc.uow(), NOW, lambda c: "text", svc.directory)


def test_the_decision_reads_return_what_the_repositories_return(svc):
    _grant(svc, "cardiology", ["Observation", "HIV"], end=NOW + timedelta(days=3), notify=True)
    _grant(svc, "cardiology", ["Condition"])
    revoked = _grant(svc, "cardiology", ["MedicationRequest"])
    handlers.revoke_consent(handlers.RevokeConsent("pat-1", revoked.id, Party("patient", "pat-1")), svc.uow(), NOW)
    _grant(svc, "primary-care", ["Observation"])
    _grant(svc, "cardiology", ["Observation"], patient="pat-2")
    # The claim is emergency's: cardiology may not claim emergencies (its directory entry).
    handlers.break_the_glass(handlers.BreakTheGlass("pat-1", "emergency", "unconscious on arrival"), svc.uow(), NOW,
                             svc.directory)
    later = NOW + timedelta(minutes=5)

    with svc.uow(write=False) as uow:
        consents = uow.consents.active_for("pat-1", "cardiology")
        grants = uow.grants.live_for("pat-1", "emergency", later)
    with svc.decision_uow() as fast:
        fast_consents = fast.consents.active_for("pat-1", "cardiology")
        fast_grants = fast.grants.live_for("pat-1", "emergency", later)

    assert len(consents) == 2 and len(grants) == 1
    key = lambda c: c.id  # noqa: E731 - the orders are the database's, not part of the contract
    assert sorted(fast_consents, key=key) == sorted(consents, key=key)
    assert fast_grants == grants
    assert all(c.created_at.tzinfo is not None for c in fast_consents)
    assert {c.notify for c in fast_consents} == {True, False}
    assert fast_grants[0].expires_at == NOW + timedelta(minutes=model.BREAK_GLASS_MINUTES)


def test_a_decision_read_sees_a_revocation_committed_just_before(svc):
    consent = _grant(svc, "cardiology", ["Observation"])
    question = handlers.AskDecision("pat-1", "cardiology", "TREAT", ["Observation"])
    assert handlers.decide(question, svc.decision_uow(), NOW, svc.directory).decision == "permit"
    handlers.revoke_consent(handlers.RevokeConsent("pat-1", consent.id, Party("patient", "pat-1")), svc.uow(), NOW)
    assert handlers.decide(question, svc.decision_uow(), NOW, svc.directory).decision == "deny"
