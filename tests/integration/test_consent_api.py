"""Consent service HTTP API on a real database (SQLite and PostgreSQL) with real tokens."""
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts.events import problems as event_problems
from contracts.schemas.consent import DecisionSchema, PatientConsentSchema
from services.common.config import load_settings
from services.consent.adapters.tables import outbox
from services.consent.service_layer import handlers
from tests.support.consent import department, grant, patient

EMERGENCY = "system/Consent.r system/BreakGlass.c"


def ask(client, mint, dept="cardiology", purpose="TREAT", classes=("Observation",), pid="pat-1"):
    resp = client.post("/consent/v1/decisions", headers=department(mint, dept, "system/Consent.r"),
                       json={"patient": pid, "actor": dept, "purpose": purpose, "classes": list(classes)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert DecisionSchema().validate(resp.get_json()) == {}
    return resp.get_json()


def events(engine):
    with engine.connect() as conn:
        found = [json.loads(r.payload) for r in conn.execute(sa.select(outbox).order_by(outbox.c.seq))]
    for event in found:
        assert event_problems(event) == []
    return found


def test_a_patient_grants_a_consent_and_sees_it_in_plain_words(consent, mint):
    client, engine = consent
    resp = grant(client, patient(mint), period={"end": "2030-03-03"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert PatientConsentSchema().validate(body) == {}
    assert body["summary"] == "Cardiology can see your lab results to treat you until March 3, 2030."
    assert body["status"] == {"code": "active", "status_text": "In effect"}
    assert body["created_by"] == {"kind": "patient", "id": "pat-1"}
    assert resp.headers["Content-Language"] == "en"
    listed = client.get("/patient/v1/consents", headers=patient(mint)).get_json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    one = client.get(f"/patient/v1/consents/{body['id']}", headers=patient(mint))
    assert one.status_code == 200 and one.get_json()["agreed_text"] == body["agreed_text"]
    (granted,) = events(engine)
    assert granted["type"] == "phr.consent.granted" and granted["subject"] == "pat-1"
    assert granted["data"]["text_sha256"] == body["agreed_text"]["sha256"]


def test_the_consent_text_is_rendered_in_spanish_for_a_spanish_speaker(consent, mint):
    client, _ = consent
    resp = grant(client, {**patient(mint), "Accept-Language": "es"}, period={"end": "2030-03-03"})
    body = resp.get_json()
    assert resp.headers["Content-Language"] == "es"
    assert body["agreed_text"]["language"] == "es"
    assert body["agreed_text"]["text"].startswith("Permito que Cardiología")
    assert "3 de marzo de 2030" in body["summary"]
    import hashlib
    assert hashlib.sha256(body["agreed_text"]["text"].encode()).hexdigest() == body["agreed_text"]["sha256"]


@pytest.mark.parametrize("change, field", [
    ({"grantee": "dermatology"}, "grantee"), ({"purposes": ["CURE"]}, "purposes"),
    ({"classes": ["Observation", "XXX"]}, "classes"), ({"period": {"end": "soon"}}, "period.end")])
def test_an_unknown_department_purpose_or_label_is_a_422_that_names_the_field(consent, mint, change, field):
    client, engine = consent
    resp = grant(client, patient(mint), **change)
    assert resp.status_code == 422
    assert resp.get_json()["fields"] == [field]
    assert resp.get_json()["next_step"]
    assert events(engine) == []


def test_revocation_takes_effect_before_the_call_returns_and_twice_is_harmless(consent, mint):
    client, engine = consent
    cid = grant(client, patient(mint)).get_json()["id"]
    assert ask(client, mint)["decision"] == "permit"
    first = client.delete(f"/patient/v1/consents/{cid}", headers=patient(mint))
    assert first.status_code == 200 and first.get_json()["status"]["code"] == "revoked"
    assert ask(client, mint) == {"decision": "deny", "consent_id": None, "consent_version": None,
                                 "obligations": []}
    again = client.delete(f"/patient/v1/consents/{cid}", headers=patient(mint))
    assert again.status_code == 200 and again.get_json()["version"] == 2
    assert [e["type"] for e in events(engine)] == ["phr.consent.granted", "phr.consent.revoked"]


def test_a_consent_made_or_revoked_by_a_proxy_is_recorded_as_the_proxys(consent, mint):
    client, engine = consent
    carer = patient(mint, act={"sub": "carer-7"})
    body = grant(client, carer).get_json()
    assert body["created_by"] == {"kind": "proxy", "id": "carer-7"}
    revoked = client.delete(f"/patient/v1/consents/{body['id']}", headers=carer).get_json()
    assert revoked["revoked_by"] == {"kind": "proxy", "id": "carer-7"}
    assert events(engine)[1]["data"]["revoked_by"] == {"kind": "proxy", "id": "carer-7"}


def test_a_decision_names_the_consent_and_redacts_labels_it_does_not_name(consent, mint):
    client, _ = consent
    cid = grant(client, patient(mint), classes=["Observation", "SUD"], notify=True).get_json()["id"]
    decision = ask(client, mint, classes=("Observation", "PSY"))
    assert decision["decision"] == "permit" and decision["consent_id"] == cid
    assert decision["consent_version"] == 1
    redact = next(o for o in decision["obligations"] if o["type"] == "redact")
    assert "PSY" in redact["labels"] and "SUD" not in redact["labels"]
    assert {"type": "audit"} in decision["obligations"]
    assert {"type": "notify", "target": "patient"} in decision["obligations"]
    assert ask(client, mint, dept="research")["decision"] == "deny"
    assert ask(client, mint, purpose="HRESCH")["decision"] == "deny"


def test_a_decision_with_an_unknown_code_is_a_422_naming_it(consent, mint):
    client, _ = consent
    resp = client.post("/consent/v1/decisions", headers=department(mint),
                       json={"patient": "pat-1", "actor": "cardiology", "purpose": "TREAT", "classes": ["ZZZ"]})
    assert resp.status_code == 422 and resp.get_json()["fields"] == ["classes"]


def test_an_expired_consent_never_permits_and_the_sweep_marks_it_and_announces_it(consent, mint, database_url):
    (client, engine), clock, app = consent, consent.service.clock, consent.app
    end = (clock.now + timedelta(days=1)).isoformat()
    grant(client, patient(mint), period={"end": end})
    assert ask(client, mint)["decision"] == "permit"
    clock.now += timedelta(days=2)
    assert ask(client, mint)["decision"] == "deny"  # before the sweep
    listed = client.get("/patient/v1/consents", headers=patient(mint)).get_json()["items"]
    assert listed[0]["status"]["code"] == "expired"
    svc = app.extensions["consent"]
    assert handlers.expire_due(svc.uow(), clock()) == 1
    assert handlers.expire_due(svc.uow(), clock()) == 0
    assert [e["type"] for e in events(engine)] == ["phr.consent.granted", "phr.consent.expired"]


def test_break_the_glass_gives_a_flagged_time_limited_permit(consent, mint):
    (client, engine), clock = consent, consent.service.clock
    em = department(mint, "emergency", EMERGENCY)
    refused = client.post("/consent/v1/break-glass", json={"patient": "pat-1"}, headers=em)
    assert refused.status_code == 422 and refused.get_json()["fields"] == ["reason"]
    resp = client.post("/consent/v1/break-glass", headers=em,
                       json={"patient": "pat-1", "reason": "Unconscious on arrival, no records"})
    assert resp.status_code == 201
    grant_ = resp.get_json()
    decision = ask(client, mint, dept="emergency", purpose="ETREAT")
    assert decision["decision"] == "permit" and decision["break_glass_id"] == grant_["id"]
    assert {"type": "notify", "target": "patient"} in decision["obligations"]
    assert ask(client, mint, dept="emergency", purpose="TREAT")["decision"] == "deny"
    assert ask(client, mint, dept="cardiology", purpose="ETREAT")["decision"] == "deny"
    clock.now += timedelta(minutes=61)
    assert ask(client, mint, dept="emergency", purpose="ETREAT")["decision"] == "deny"
    (event,) = events(engine)
    assert event["type"] == "phr.consent.break-glass" and event["data"]["reason"].startswith("Unconscious")


@pytest.mark.parametrize("scope", ["system/Consent.r", "system/Consent.cruds", "system/*.cruds"])
def test_break_the_glass_needs_its_own_scope_named_outright(consent, mint, scope):
    client, engine = consent
    resp = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", scope),
                       json={"patient": "pat-1", "reason": "x"})
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert events(engine) == []


def test_a_clinician_claims_an_emergency_in_person_and_the_claim_names_them(consent, mint):
    from contracts.schemas.consent import BreakGlassSchema

    client, engine = consent
    clinician = mint.staff("emergency", ("clinician",), "dr-vega", scope="user/BreakGlass.c user/Exchange.cr")
    resp = client.post("/staff/v1/break-glass", headers=clinician, json={
        "patient": "pat-1", "reason": "Confused and agitated on arrival",
        "sensitive": [{"label": "PSY", "reason": "Known psychiatric medication"}]})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert BreakGlassSchema().validate(body) == {}
    assert body["department"] == "emergency"
    assert body["claimed_by"] == {"sub": "dr-vega", "fhirUser": "Practitioner/dr-vega"}
    assert ask(client, mint, dept="emergency", purpose="ETREAT")["break_glass_id"] == body["id"]
    (event,) = events(engine)
    assert event["data"]["claimed_by"] == {"sub": "dr-vega", "fhirUser": "Practitioner/dr-vega"}
    by_client = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", EMERGENCY),
                            json={"patient": "pat-2", "reason": "Collapsed"})
    assert by_client.status_code == 201 and by_client.get_json()["claimed_by"] is None
    assert events(engine)[-1]["data"]["claimed_by"] is None


@pytest.mark.parametrize("who", ["privacy officer", "clinician without the emergency scope",
                                 "clinician of a department that may not claim", "department client"])
def test_only_a_clinician_holding_the_emergency_scope_of_a_department_that_may_claim_can_claim_in_person(
        consent, mint, who):
    client, engine = consent
    headers = {
        "privacy officer": mint.staff("emergency", ("privacy-officer",), "po-1"),
        "clinician without the emergency scope": mint.staff("emergency", ("clinician",), "dr-1"),
        # a token naming the scope, of a department whose directory entry says no: refused all the same
        "clinician of a department that may not claim": mint.staff("cardiology", ("clinician",), "dr-2",
                                                                    scope="user/BreakGlass.c"),
        "department client": department(mint, "emergency", EMERGENCY),
    }[who]
    resp = client.post("/staff/v1/break-glass", headers=headers, json={"patient": "pat-1", "reason": "x"})
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert events(engine) == []


def test_a_second_claim_by_the_same_claimant_while_theirs_is_in_force_answers_it_and_records_nothing(consent, mint):
    from contracts.schemas.consent import BreakGlassSchema

    (client, engine), clock = consent, consent.service.clock
    em = department(mint, "emergency", EMERGENCY)
    first = client.post("/consent/v1/break-glass", headers=em, json={"patient": "pat-1", "reason": "Collapsed"})
    again = client.post("/consent/v1/break-glass", headers=em, json={
        "patient": "pat-1", "reason": "Still collapsed", "sensitive": [{"label": "HIV", "reason": "r"}]})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json() and again.get_json()["sensitive"] == []
    assert BreakGlassSchema().validate(again.get_json()) == {}
    other = client.post("/consent/v1/break-glass", headers=em, json={"patient": "pat-2", "reason": "Collapsed"})
    assert other.status_code == 201
    clock.now += timedelta(minutes=60)  # the first claim has ended: a new one is a new grant
    later = client.post("/consent/v1/break-glass", headers=em, json={"patient": "pat-1", "reason": "Back"})
    assert later.status_code == 201 and later.get_json()["id"] != first.get_json()["id"]
    assert [e["type"] for e in events(engine)] == ["phr.consent.break-glass"] * 3


def test_a_second_clinicians_claim_while_a_colleagues_is_in_force_is_their_own_and_names_them(consent, mint):
    client, engine = consent
    scope = "user/BreakGlass.c"
    vega = mint.staff("emergency", ("clinician",), "dr-vega", scope=scope)
    okafor = mint.staff("emergency", ("clinician",), "dr-okafor", scope=scope)
    first = client.post("/staff/v1/break-glass", headers=vega, json={"patient": "pat-1", "reason": "Collapsed"})
    second = client.post("/staff/v1/break-glass", headers=okafor, json={"patient": "pat-1", "reason": "Seizure"})
    again = client.post("/staff/v1/break-glass", headers=okafor, json={"patient": "pat-1", "reason": "Again"})
    by_client = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", EMERGENCY),
                            json={"patient": "pat-1", "reason": "Triage system"})
    assert (first.status_code, second.status_code, again.status_code, by_client.status_code) == (201, 201, 200, 201)
    assert second.get_json()["id"] != first.get_json()["id"] and again.get_json()["id"] == second.get_json()["id"]
    assert second.get_json()["claimed_by"]["sub"] == "dr-okafor" and second.get_json()["reason"] == "Seizure"
    claimed = [(e["data"]["claimed_by"] or {}).get("sub") for e in events(engine)]
    assert claimed == ["dr-vega", "dr-okafor", None]  # one event (so one notice, one review) each


@pytest.mark.parametrize("minutes", [0, 241, 1440, "60"])
def test_a_claim_longer_than_four_hours_is_a_422_naming_minutes(consent, mint, minutes):
    client, engine = consent
    resp = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", EMERGENCY),
                       json={"patient": "pat-1", "reason": "Collapsed", "minutes": minutes})
    assert resp.status_code == 422 and resp.get_json()["fields"] == ["minutes"]
    assert events(engine) == []


def test_a_sensitive_label_named_with_a_reason_is_released_and_flagged_for_priority_review(consent, mint):
    client, engine = consent
    resp = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", EMERGENCY), json={
        "patient": "pat-1", "reason": "Collapsed", "minutes": 240,
        "sensitive": [{"label": "SEX", "reason": "Suspected ectopic pregnancy"}]})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    decision = ask(client, mint, dept="emergency", purpose="ETREAT", classes=("Procedure",))
    assert {"type": "redact", "labels": ["GDIS", "HIV", "PSY", "SUD"]} in decision["obligations"]
    (event,) = events(engine)
    assert event["data"]["sensitive"] == [{"label": "SEX", "reason": "Suspected ectopic pregnancy"}]
    review = next(o for o in event["data"]["obligations"] if o["type"] == "review")
    assert review["priority"] == "high" and review["labels"] == ["SEX"]
    refused = client.post("/consent/v1/break-glass", headers=department(mint, "emergency", EMERGENCY), json={
        "patient": "pat-2", "reason": "Collapsed", "sensitive": [{"label": "HIV"}]})
    assert refused.status_code == 422 and refused.get_json()["fields"] == ["sensitive"]


def test_two_claims_at_once_store_one_grant_and_both_answer_it(consent, mint):
    import threading

    engine, app = consent.engine, consent.app
    svc = app.extensions["consent"]
    barrier, answers = threading.Barrier(4), []

    def claim():
        barrier.wait()
        answers.append(handlers.break_the_glass(handlers.BreakTheGlass("pat-1", "emergency", "Collapsed"),
                                                svc.uow(), svc.clock(), svc.directory))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and len({g.id for g, _new in answers}) == 1
    assert sorted(new for _g, new in answers) == [False, False, False, True]
    assert len(events(engine)) == 1


def test_a_department_asking_about_another_gets_a_403_that_reveals_nothing(consent, mint):
    client, _ = consent
    grant(client, patient(mint))  # cardiology holds a consent; research must not learn it
    asks = lambda pid: client.post("/consent/v1/decisions", headers=department(mint, "research"), json={  # noqa: E731
        "patient": pid, "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]})
    held, none = asks("pat-1"), asks("pat-9")
    assert held.status_code == none.status_code == 403 and held.mimetype == "application/problem+json"
    strip = lambda r: {k: v for k, v in r.get_json().items() if k != "instance"}  # noqa: E731
    assert strip(held) == strip(none) and "consent_id" not in held.get_data(as_text=True)
    assert ask(client, mint, dept="research")["decision"] == "deny"  # about itself it may ask


def test_only_the_exchange_service_client_asks_about_any_department(consent, mint, tmp_path):
    client, app = consent.client, consent.app
    grant(client, patient(mint))
    body = {"patient": "pat-1", "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]}
    service = {"Authorization": f"Bearer {mint.token(scope='system/Consent.r', client_id='exchange-service', sub='exchange-service')}"}
    assert client.post("/consent/v1/decisions", headers=service, json=body).status_code == 403  # not configured
    svc = app.extensions["consent"]
    svc.settings = load_settings("consent", {"PHR_VAR_DIR": str(tmp_path), "EXCHANGE_CLIENT_ID": "exchange-service"},
                                 database_url=svc.settings.database_url, issuer=mint.issuer,
                                 audience=mint.audience, testing=True, contract_checks="enforce")
    resp = client.post("/consent/v1/decisions", headers=service, json=body)
    assert resp.status_code == 200 and resp.get_json()["decision"] == "permit"


def test_fhir_consent_search_is_valid_r4b_and_shows_the_callers_consents(consent, mint):
    from fhir.resources.R4B.bundle import Bundle

    client, _ = consent
    grant(client, patient(mint), classes=["Observation", "PSY"], period={"end": "2030-01-01"})
    grant(client, patient(mint), grantee="research", purposes=["HRESCH"])
    resp = client.get("/fhir/Consent?patient=pat-1", headers=department(mint))
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate(resp.get_json()) if hasattr(Bundle, "model_validate") \
        else Bundle.parse_obj(resp.get_json())
    assert bundle.total == 1
    res = resp.get_json()["entry"][0]["resource"]
    assert res["provision"]["securityLabel"][0]["code"] == "PSY"
    assert res["provision"]["purpose"][0]["code"] == "TREAT"
    assert client.get("/fhir/Consent", headers=department(mint)).status_code == 400


def test_an_unsupported_language_falls_back_to_english_and_offers_an_interpreter(consent, mint):
    client, _ = consent
    resp = grant(client, {**patient(mint), "Accept-Language": "pt-BR"})
    assert resp.status_code == 201 and resp.headers["Content-Language"] == "en"
    body = resp.get_json()
    assert body["language"]["fallback"] is True and body["language"]["interpreter"]["offered"]
    assert body["agreed_text"]["language"] == "en"
