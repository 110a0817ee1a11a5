"""The embedded broker is killed (SIGKILL) in the middle of a burst of grants, revokes,
break-the-glass claims and exchanges: its supervisor starts it again, empty, and afterwards
every patient notice, every equity projection update and every exchange is there exactly once
(issue 21; services/common/redelivery.py)."""
import json
import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from services.common.db import make_engine
from services.exchange.adapters.tables import equity_exchanges, ledger, notifications
from tests.support.client import demo_departments, demo_patient_headers
from tests.support.notices import emergency_department
from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available
from tests.support.stack import SERVICES, Stack

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"
CLASSES = ["Condition", "MedicationRequest", "AllergyIntolerance", "Procedure", "Immunization"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    # On PostgreSQL the relays claim their rows (services/common/outbox.py): sending again
    # must go through the claims and keep each patient's order.
    urls = {}
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
        urls = {name: create_postgres_database(f"phr_restart_{name}") for name in SERVICES}
    try:
        with Stack(tmp_path_factory.mktemp(f"broker-restart-{request.param}"), urls) as s:
            yield s
    finally:
        for url in urls.values():
            drop_postgres_database(url)


#: What the command line of Tansu holds, under its supervisor (python -m services.common.broker).
TANSU = "--storage-engine memory"


def _tansu(stack) -> int:
    [pid] = stack.pids(TANSU)
    return pid


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found is True:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {found}")
        time.sleep(1)


def test_killing_the_broker_mid_burst_loses_no_notice_projection_update_or_exchange(stack):
    people = [demo_patient_headers(stack, i, SCOPE) for i in range(3)]
    depts = demo_departments(stack)
    cardiology = depts["cardiology"]
    for _who, headers in people:  # what lets cardiology's exchanges through
        assert requests.post(f"{stack.gateway}/patient/v1/consents", headers=headers, timeout=30, json={
            "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]}).status_code == 201
    emergencies = [emergency_department(stack) for _ in range(3)]
    first_tansu = _tansu(stack)

    granted: dict[str, str] = {}  # consent id -> patient
    revoked: dict[str, str] = {}
    claims: list[tuple[str, str]] = []  # (patient, department)
    exchanges: list[str] = []
    errors: list[str] = []

    def burst():
        for round_ in range(len(CLASSES)):
            for i, (who, headers) in enumerate(people):
                patient = who["patient"]
                made = requests.post(f"{stack.gateway}/patient/v1/consents", headers=headers, timeout=60, json={
                    "grantee": "cardiology", "purposes": ["TREAT"], "classes": [CLASSES[round_]]})
                if made.status_code != 201:
                    errors.append(f"grant {made.status_code} {made.text[:200]}")
                    continue
                granted[made.json()["id"]] = patient
                if round_ % 2 == 0:
                    gone = requests.delete(f"{stack.gateway}/patient/v1/consents/{made.json()['id']}",
                                           headers=headers, timeout=60)
                    if gone.status_code != 200:
                        errors.append(f"revoke {gone.status_code} {gone.text[:200]}")
                    else:
                        revoked[made.json()["id"]] = patient
                asked = cardiology.post("/exchange/v1/requests", json={
                    "patient": patient, "purpose": "TREAT", "resource_types": ["Observation"]})
                if asked.status_code not in (200, 201, 202):
                    errors.append(f"exchange {asked.status_code} {asked.text[:200]}")
                else:
                    exchanges.append(asked.json()["id"])
                if round_ == i + 1:  # one claim per patient, spread over the burst
                    dept = emergencies[i]
                    claim = dept.post("/consent/v1/break-glass", json={"patient": patient, "reason": "Unconscious"})
                    if claim.status_code != 201:
                        errors.append(f"break-glass {claim.status_code} {claim.text[:200]}")
                    else:
                        claims.append((patient, dept.client_id))
                time.sleep(0.1)

    sender = threading.Thread(target=burst)
    sender.start()
    time.sleep(2.0)
    os.kill(first_tansu, signal.SIGKILL)  # the broker loses everything it held
    sender.join(timeout=300)
    assert not sender.is_alive() and not errors, errors
    _wait(lambda: stack.pids(TANSU) not in ([], [first_tansu]) or "not back", 60, "the broker did not come back")

    statuses: dict[str, str] = {}

    def all_done():
        statuses.update({i: cardiology.get(f"/exchange/v1/requests/{i}").json()["status"] for i in exchanges})
        return "pending" not in statuses.values() or Counter(statuses.values())
    _wait(all_done, 240, "exchanges still pending")
    assert set(statuses.values()) == {"fulfilled"}, statuses

    engine = make_engine(stack.database_url("exchange"))
    try:
        def notices():
            with engine.connect() as conn:
                rows = conn.execute(sa.select(notifications.c.patient, notifications.c.kind,
                                              notifications.c.params)).all()
            return [(r.patient, r.kind, json.loads(r.params)) for r in rows]

        def every_notice_there():
            found = notices()
            have_granted = Counter(p["consent_id"] for _, kind, p in found if kind == "consent-granted")
            have_revoked = Counter(p["consent_id"] for _, kind, p in found if kind == "consent-revoked")
            have_claims = Counter((patient, p["department"]) for patient, kind, p in found if kind == "break-glass")
            missing = {"granted": sorted(set(granted) - set(have_granted)),
                       "revoked": sorted(set(revoked) - set(have_revoked)),
                       "claims": sorted(set(claims) - set(have_claims))}
            return not any(missing.values()) or missing
        _wait(every_notice_there, 120, "notices missing")

        def projection_complete():
            with engine.connect() as conn:
                rows = conn.execute(sa.select(equity_exchanges.c.request_id, equity_exchanges.c.outcome)
                                    .where(equity_exchanges.c.request_id.in_(exchanges))).all()
            outcomes = dict(rows)
            return (len(rows) == len(exchanges) and set(outcomes.values()) == {"fulfilled"}) or \
                {i: outcomes.get(i) for i in exchanges if outcomes.get(i) != "fulfilled"}
        _wait(projection_complete, 120, "equity projection behind")

        time.sleep(5)  # whatever was sent twice has arrived by now, and must have changed nothing
        found = notices()
        counted = Counter((kind, p.get("consent_id") or p.get("department")) for _, kind, p in found
                          if kind in ("consent-granted", "consent-revoked", "break-glass"))
        assert all(n == 1 for n in counted.values()), [k for k, n in counted.items() if n > 1]
        with engine.connect() as conn:
            entries = conn.execute(sa.select(ledger.c.request_id).where(ledger.c.request_id.in_(exchanges))).scalars().all()
            projected = conn.execute(sa.select(sa.func.count()).select_from(equity_exchanges)
                                     .where(equity_exchanges.c.request_id.in_(exchanges))).scalar()
    finally:
        engine.dispose()
    assert sorted(entries) == sorted(exchanges), "one ledger entry per exchange"
    assert projected == len(exchanges)
    assert cardiology.get("/exchange/v1/ledger/verify").json()["valid"]
    assert "exited unasked" in stack.log_path.read_text(errors="replace")
