"""The consent service knows departments from its copy of the directory (phr.directory.v1), on a
real database (SQLite and PostgreSQL) with real tokens: a department registered at runtime, a
disabled one, the oversight team, and who may break the glass."""
import json

import pytest
import sqlalchemy as sa
from werkzeug.test import Client
from werkzeug.wrappers import Response

from services.consent.adapters.tables import break_glass, consents, outbox
from tests.support.apps import Clock, behind_fast_path
from tests.support.consent import apply_directory, department, grant, patient
from tests.support.directory import event

PHYSIOTHERAPY = {"names": {"en": "Physiotherapy", "es": "Fisioterapia"}}
EMERGENCY = "system/Consent.r system/BreakGlass.c"
EXCHANGE = "exchange-service"


@pytest.fixture
def consent(service_apps, database_url):
    """The consent service, which also trusts the exchange service's client to ask for any department."""
    return service_apps.consent(database_url, clock=Clock(), decision_clients=(EXCHANGE,))


def question(actor: str, pid: str = "pat-1", purpose: str = "TREAT") -> dict:
    return {"patient": pid, "actor": actor, "purpose": purpose, "classes": ["Observation"]}


def exchange_asks(client, mint, actor: str) -> dict:
    """Ask as the exchange service does, on behalf of ACTOR (its token names no department)."""
    token = mint.token(scope="system/Consent.r", client_id=EXCHANGE, sub=EXCHANGE)
    resp = client.post("/consent/v1/decisions", json=question(actor), headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_department_registered_at_runtime_is_a_grantee_and_asks_for_decisions(consent, mint):
    client, engine = consent
    physio = department(mint, "physiotherapy", "system/Consent.r")
    unknown = client.post("/consent/v1/decisions", json=question("physiotherapy"), headers=physio)
    assert unknown.status_code == 401 and unknown.mimetype == "application/problem+json"
    assert grant(client, patient(mint), grantee="physiotherapy").status_code == 422

    apply_directory(consent, event("physiotherapy", **PHYSIOTHERAPY))
    created = grant(client, {**patient(mint), "Accept-Language": "es"}, grantee="physiotherapy")
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["grantee"] == {"kind": "department", "id": "physiotherapy", "display": "Fisioterapia"}
    assert body["agreed_text"]["text"].startswith("Permito que Fisioterapia")
    assert body["summary"].startswith("Fisioterapia")
    decision = client.post("/consent/v1/decisions", json=question("physiotherapy"), headers=physio)
    assert decision.status_code == 200 and decision.get_json()["consent_id"] == body["id"]
    listed = client.get("/patient/v1/consents", headers=patient(mint)).get_json()["items"]
    assert listed[0]["grantee"]["display"] == "Physiotherapy" and listed[0]["summary"].startswith("Physiotherapy")
    fhir = client.get("/fhir/Consent?patient=pat-1", headers=physio).get_json()
    (actor,) = fhir["entry"][0]["resource"]["provision"]["actor"]
    assert actor["reference"]["display"] == "Physiotherapy"
    assert client.get("/readyz").get_json()["facts"] == {"departments": 6}


def test_a_disabled_department_is_refused_its_token_its_grants_and_its_consents(consent, mint):
    client, engine = consent
    earlier = grant(client, patient(mint)).get_json()  # to cardiology, while it is active
    cardiology = department(mint)
    assert client.post("/consent/v1/decisions", json=question("cardiology"), headers=cardiology).status_code == 200
    assert exchange_asks(client, mint, "cardiology")["decision"] == "permit"

    apply_directory(consent, event("cardiology", status="disabled", version=2))
    through_fast_path = client.post("/consent/v1/decisions", json=question("cardiology"), headers=cardiology)
    view_alone = Client(behind_fast_path(consent.app), Response).post("/consent/v1/decisions", json=question("cardiology"),
                                                                 headers=cardiology)
    assert through_fast_path.status_code == 401 and through_fast_path.mimetype == "application/problem+json"
    assert through_fast_path.get_data() == view_alone.get_data()
    assert client.get("/fhir/Consent?patient=pat-1", headers=cardiology).status_code == 401
    assert exchange_asks(client, mint, "cardiology") == {"decision": "deny", "consent_id": None,
                                                         "consent_version": None, "obligations": []}
    refused = grant(client, {**patient(mint), "Accept-Language": "es"})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert (refused.get_json()["fields"], refused.get_json()["value"]) == (["grantee"], "cardiology")
    assert "el servicio no está activo" in refused.get_json()["detail"] and refused.get_json()["next_step"]
    assert rows(engine, consents) == rows(engine, outbox) == 1  # the earlier consent and its event only
    kept = client.get(f"/patient/v1/consents/{earlier['id']}", headers=patient(mint)).get_json()
    assert kept["grantee"]["display"] == "Cardiology"  # the patient still reads whom they shared with


def test_the_oversight_team_cannot_be_a_grantee(consent, mint):
    client, engine = consent
    for grantee in ("oversight", {"kind": "department", "id": "oversight"}):
        resp = grant(client, patient(mint), grantee=grantee)
        assert resp.status_code == 422 and resp.get_json()["fields"] == ["grantee"]
        assert "not a department that can receive records" in resp.get_json()["detail"]
    assert rows(engine, consents) == rows(engine, outbox) == 0
    assert exchange_asks(client, mint, "oversight")["decision"] == "deny"


@pytest.mark.parametrize("body", [{"patient": "pat-1", "reason": "Collapsed"}, {"patient": "pat-1"}, {}])
def test_a_department_without_the_right_cannot_break_the_glass_even_with_the_scope(consent, mint, body):
    client, engine = consent
    resp = client.post("/consent/v1/break-glass", json=body,
                       headers={**department(mint, "cardiology", EMERGENCY), "Accept-Language": "es"})
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["detail"] == "Su servicio no puede declarar una urgencia para un paciente."
    assert problem["next_step"].startswith("Pida permiso al paciente")
    assert rows(engine, break_glass) == rows(engine, outbox) == 0
    assert exchange_asks(client, mint, "cardiology")["decision"] == "deny"


@pytest.mark.parametrize("data", ["not json", '{"patient": "pat-1", "reason": "Collapsed", "purpose": "TREAT"}'])
def test_a_department_without_the_right_is_refused_before_its_claim_is_read(consent, mint, data):
    client, engine = consent
    resp = client.post("/consent/v1/break-glass", data=data,
                       headers={**department(mint, "primary-care", EMERGENCY), "Content-Type": "application/json"})
    assert resp.status_code == 403 and resp.get_json()["next_step"]
    assert rows(engine, break_glass) == rows(engine, outbox) == 0


def test_a_department_registered_with_the_right_breaks_the_glass_and_loses_it_with_its_entry(consent, mint):
    client, engine = consent
    apply_directory(consent, event("trauma", may_claim_emergencies=True))
    trauma = department(mint, "trauma", EMERGENCY)
    claimed = client.post("/consent/v1/break-glass", json={"patient": "pat-1", "reason": "Car crash"}, headers=trauma)
    assert claimed.status_code == 201, claimed.get_data(as_text=True)
    etreat = {**question("trauma"), "purpose": "ETREAT"}
    assert client.post("/consent/v1/decisions", json=etreat, headers=trauma).get_json()["decision"] == "permit"
    apply_directory(consent, event("trauma", may_claim_emergencies=False, version=2))
    assert client.post("/consent/v1/decisions", json=etreat, headers=trauma).get_json()["decision"] == "deny"
    again = client.post("/consent/v1/break-glass", json={"patient": "pat-2", "reason": "Car crash"}, headers=trauma)
    assert again.status_code == 403
    with engine.connect() as conn:
        assert [json.loads(r.payload)["type"] for r in conn.execute(sa.select(outbox))] == ["phr.consent.break-glass"]
