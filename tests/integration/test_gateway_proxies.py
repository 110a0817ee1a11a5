"""Caregivers (proxies): invite, join, sign in with act and limited scopes, expiry, revocation."""
from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from gateway import schema
from gateway.admin.clients import ensure_portal_client
from gateway.accounts.caregivers import add_years
from services.common.db import transaction
from tests.support.gateway import (FULL_SCOPE, PASSWORD, REDIRECT_URI, authorize_params, bearer, caregiver,
                                   hidden_fields, invite, join, login_for_code, make_patient, pkce, refresh,
                                   sign_in)


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_patients_invite_lets_a_caregiver_sign_in_with_act_and_only_the_granted_scopes(client, engine):
    patient_account = make_patient(engine)
    patient = sign_in(client, engine)
    created = invite(client, patient["access_token"], name="Carla")
    assert created.status_code == 201, created.json
    grant = created.json
    assert grant["status"]["code"] == "invited" and grant["rights"][0]["code"] == "view-records"
    assert grant["summary"].startswith("Carla can see your health records until ")
    assert grant["expires_on"]["iso"] == add_years(dt.datetime.now(dt.timezone.utc).date(), 1).isoformat()

    joined = join(client, grant["invite_code"])
    assert joined.status_code == 201 and joined.json == {"username": "carla", "patient": "p-1"}
    tokens = sign_in(client, engine, username="carla")
    claims = claims_of(tokens["access_token"])
    with engine.connect() as conn:
        carla = conn.execute(sa.text("SELECT id, kind, patient FROM accounts WHERE username = 'carla'")).one()
        events = conn.execute(sa.text("SELECT action, actor_kind, actor FROM proxy_events "
                                      "ORDER BY id")).all()
    assert carla.kind == "caregiver" and carla.patient is None
    assert claims["act"] == {"sub": carla.id} and claims["sub"] == patient_account
    assert claims["patient"] == "p-1" and tokens["patient"] == "p-1" and "fhirUser" not in claims
    assert claims["scope"].split() == ["openid", "offline_access", "patient/*.rs"]
    assert [tuple(e) for e in events] == [("granted", "patient", patient_account),
                                          ("joined", "caregiver", carla.id),
                                          ("signed-in", "caregiver", carla.id)]


def test_a_view_only_caregiver_reads_records_but_gets_403_granting_a_consent(client, engine, upstream):
    _grant, tokens = caregiver(client, engine)
    headers = bearer(tokens["access_token"])
    assert client.get("/patient/v1/records", headers=headers).status_code == 200
    refused = client.post("/patient/v1/consents", json={"grantee": "cardiology"}, headers=headers)
    assert refused.status_code == 403 and "patient/Consent.c" in refused.headers["WWW-Authenticate"]
    assert refused.json["detail"] == "The patient has not given you the right to do this."
    assert refused.json["next_step"].startswith("Ask the patient to give you this right")
    assert [r["path"] for r in upstream.requests] == ["/patient/v1/records"]


def test_a_consent_managing_caregiver_may_grant_consents_but_not_read_the_record(client, engine, upstream):
    _grant, tokens = caregiver(client, engine, rights=("manage-consents",))
    headers = bearer(tokens["access_token"])
    assert claims_of(tokens["access_token"])["scope"].split() == [
        "openid", "offline_access", "patient/Consent.cruds"]
    assert client.post("/patient/v1/consents", json={}, headers=headers).status_code == 200
    assert client.get("/patient/v1/me", headers=headers).status_code == 403
    assert upstream.requests[0]["headers"]["Authorization"] == f"Bearer {tokens['access_token']}"


def test_a_caregiver_may_not_invite_list_or_revoke_caregivers(client, engine):
    grant, tokens = caregiver(client, engine, rights=("manage-consents", "view-records"))
    headers = bearer(tokens["access_token"])
    assert invite(client, tokens["access_token"]).status_code == 403
    assert client.get("/patient/v1/proxies", headers=headers).status_code == 403
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=headers).status_code == 403


def test_revoking_a_grant_stops_the_caregivers_token_at_the_gateway_and_any_refresh(client, engine):
    grant, tokens = caregiver(client, engine)
    headers = bearer(tokens["access_token"])
    assert client.get("/patient/v1/records", headers=headers).status_code == 200
    patient = sign_in(client, engine)["access_token"]

    revoked = client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient))
    assert revoked.status_code == 200 and revoked.json["status"]["code"] == "revoked"
    refused = client.get("/patient/v1/records", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json["detail"]
    assert refresh(client, tokens["refresh_token"]).status_code == 400
    again = client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient))
    assert again.status_code == 200 and again.json["status"]["code"] == "revoked"
    with engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action FROM proxy_events ORDER BY id")).scalars().all()
    assert actions.count("revoked") == 1


def test_a_revoked_caregiver_cannot_sign_in_again(client, engine):
    grant, _tokens = caregiver(client, engine)
    patient = sign_in(client, engine)["access_token"]
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient)).status_code == 200
    ensure_portal_client(engine, [REDIRECT_URI])
    _verifier, challenge = pkce()
    page = client.get("/oauth/authorize", query_string=authorize_params(challenge))
    form = hidden_fields(page.get_data(as_text=True))
    login = client.post("/oauth/authorize", data={**form, "username": "carla", "password": PASSWORD})
    assert login.status_code == 403 and "cannot act for anyone" in login.get_data(as_text=True)


def test_a_grant_ending_soon_caps_the_token_and_its_end_stops_access(client, engine):
    make_patient(engine)
    patient = sign_in(client, engine)["access_token"]
    created = invite(client, patient)
    assert join(client, created.json["invite_code"]).status_code == 201
    ends_at = int(time.time()) + 3
    with transaction(engine) as conn:
        conn.execute(sa.update(schema.proxy_grants).values(ends_at=ends_at))
    tokens = sign_in(client, engine, username="carla")
    assert claims_of(tokens["access_token"])["exp"] <= ends_at and tokens["expires_in"] <= 3
    headers = bearer(tokens["access_token"])
    assert client.get("/patient/v1/records", headers=headers).status_code == 200
    time.sleep(max(0.0, ends_at - time.time()) + 1.1)
    assert client.get("/patient/v1/records", headers=headers).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 400
    listed = client.get("/patient/v1/proxies", headers=bearer(patient))
    assert listed.json["items"][0]["status"]["code"] == "ended"


def test_a_guardians_rights_over_a_minor_end_on_the_eighteenth_birthday(client, engine, monkeypatch):
    today = dt.datetime.now(dt.timezone.utc).date()
    tomorrow = today + dt.timedelta(days=1)
    born = add_years(tomorrow, -18).isoformat()  # 17 years and 364 (or 365) days ago: 18 tomorrow
    make_patient(engine, birth_date=born)
    patient = sign_in(client, engine)["access_token"]
    created = invite(client, patient, relationship="guardian",
                     expires_on=add_years(today, 2).isoformat())
    assert created.status_code == 201, created.json
    grant = created.json
    assert grant["expires_on"]["iso"] == today.isoformat() and grant["limited_by_age"] is True
    assert grant["ends_at"] == f"{tomorrow.isoformat()}T00:00:00Z"
    assert grant["summary"].endswith("This ends when you turn 18.")
    assert join(client, grant["invite_code"], birth_date=born).status_code == 201
    tokens = sign_in(client, engine, username="carla")  # today the guardian still acts
    assert claims_of(tokens["access_token"])["exp"] <= int(
        dt.datetime.combine(tomorrow, dt.time(), dt.timezone.utc).timestamp())

    from gateway import storage
    monkeypatch.setattr(storage, "now", lambda: int(time.time()) + 86400)  # tomorrow
    listed = client.get("/patient/v1/proxies", headers=bearer(patient))
    assert listed.json["items"][0]["status"]["code"] == "ended"
    ensure_portal_client(engine, [REDIRECT_URI])
    _verifier, challenge = pkce()
    page = client.get("/oauth/authorize", query_string=authorize_params(challenge))
    form = hidden_fields(page.get_data(as_text=True))
    login = client.post("/oauth/authorize", data={**form, "username": "carla", "password": PASSWORD})
    assert login.status_code == 403


def test_an_adult_patient_cannot_name_a_guardian(client, engine):
    make_patient(engine)
    resp = invite(client, sign_in(client, engine)["access_token"], relationship="guardian")
    assert resp.status_code == 422 and resp.json["fields"] == ["relationship"]


def test_a_patient_cannot_see_or_revoke_another_patients_caregivers(client, engine):
    grant, tokens = caregiver(client, engine)
    make_patient(engine, username="bea", patient="p-2")
    bea = sign_in(client, engine, username="bea")["access_token"]
    listed = client.get("/patient/v1/proxies", headers=bearer(bea))
    assert listed.status_code == 200 and listed.json["items"] == []
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(bea)).status_code == 404
    assert client.get("/patient/v1/records", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize("change,field", [
    ({"rights": []}, "rights"), ({"rights": ["fly"]}, "rights"), ({"rights": "view-records"}, "rights"),
    ({"relationship": "friend"}, "relationship"), ({"expires_on": "soon"}, "expires_on"),
    ({"expires_on": "2020-01-01"}, "expires_on"), ({"name": ""}, "name"),
    ({"expires_on": add_years(dt.date.today(), 6).isoformat()}, "expires_on"),
])
def test_bad_invites_are_422_naming_the_field(client, engine, change, field):
    make_patient(engine)
    resp = invite(client, sign_in(client, engine)["access_token"], **change)
    assert resp.status_code == 422 and resp.json["fields"] == [field]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM proxy_grants")).scalar() == 0


def test_a_patient_token_without_consent_scope_cannot_invite(client, engine):
    make_patient(engine)
    token = sign_in(client, engine, scope="openid offline_access patient/*.rs")["access_token"]
    assert invite(client, token).status_code == 403


def test_an_invite_needs_the_patients_birth_date_and_works_once(client, engine):
    make_patient(engine)
    code = invite(client, sign_in(client, engine)["access_token"]).json["invite_code"]
    wrong = join(client, code, birth_date="1980-05-18")
    assert wrong.status_code == 400 and wrong.json["type"].endswith("activation-failed")
    assert join(client, code).status_code == 201
    assert join(client, code, username="someone").status_code == 410


def test_an_existing_caregiver_links_a_second_patient_and_picks_one_with_a_patient_hint(client, engine):
    caregiver(client, engine)
    make_patient(engine, username="bea", patient="p-2", birth_date="2001-02-03")
    created = invite(client, sign_in(client, engine, username="bea")["access_token"])
    assert join(client, created.json["invite_code"], birth_date="2001-02-03").status_code == 201
    assert join(client, created.json["invite_code"], username="ana").status_code == 410  # used

    first = sign_in(client, engine, username="carla")
    assert claims_of(first["access_token"])["patient"] == "p-1"  # the grant joined first
    verifier, challenge = pkce()
    params = {**authorize_params(challenge, scope=FULL_SCOPE), "patient": "p-2"}
    code = login_for_code(client, params, username="carla", password=PASSWORD)
    resp = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": REDIRECT_URI, "client_id": "phr-portal",
                                             "code_verifier": verifier})
    assert resp.status_code == 200 and claims_of(resp.json["access_token"])["patient"] == "p-2"


def test_the_patient_reads_the_invite_in_spanish(client, engine):
    make_patient(engine)
    token = sign_in(client, engine)["access_token"]
    resp = client.post("/patient/v1/proxies", json={"rights": ["view-records"], "relationship": "caregiver"},
                       headers={**bearer(token), "Accept-Language": "es"})
    assert resp.status_code == 201 and resp.headers["Content-Language"] == "es"
    assert " de " in resp.json["expires_on"]["display"]
    assert resp.json["rights"][0]["display"] == "Ver sus registros de salud"
    assert resp.json["summary"].startswith("Su cuidador puede ver")


def test_a_caregivers_token_is_stored_bound_to_its_grant_and_caregiver(client, engine):
    grant, tokens = caregiver(client, engine)
    claims = claims_of(tokens["access_token"])
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT account_id, grant_id, patient FROM tokens WHERE jti = :j"),
                           {"j": claims["jti"]}).one()
    assert (row.account_id, row.grant_id, row.patient) == (claims["act"]["sub"], grant["id"], "p-1")


def test_a_caregivers_refreshed_token_keeps_act_the_limited_scopes_and_the_grants_end(client, engine):
    grant, tokens = caregiver(client, engine)
    renewed = refresh(client, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.json
    before, after = claims_of(tokens["access_token"]), claims_of(renewed.json["access_token"])
    assert after["act"] == before["act"] and after["sub"] == before["sub"]
    assert after["scope"] == before["scope"] == "openid offline_access patient/*.rs"
    ends_at = dt.datetime.fromisoformat(grant["ends_at"].replace("Z", "+00:00")).timestamp()
    assert after["exp"] <= ends_at
    with engine.connect() as conn:
        refresh_end = conn.execute(sa.text("SELECT MAX(refresh_expires_at) FROM tokens")).scalar()
    assert refresh_end <= ends_at


def test_a_grant_that_reached_its_end_is_told_of_once_so_services_forget_the_caregiver(client, engine):
    from contracts.events import EventChecker
    from gateway.accounts.stores import GrantStore

    grant, _tokens = caregiver(client, engine)
    make_patient(engine, username="bea", patient="p-2")  # a grant of no one's, never joined: nothing to tell
    grants = GrantStore(engine, lambda _conn, _grant: None, EventChecker("enforce"))
    assert grants.announce_expired() == 0  # not ended yet
    with transaction(engine) as conn:
        conn.execute(sa.update(schema.proxy_grants).values(ends_at=int(time.time()) - 5))
    assert grants.announce_expired() == 1
    assert grants.announce_expired() == 0  # told once
    with engine.connect() as conn:
        ended = [json.loads(row.payload) for row in conn.execute(sa.select(schema.outbox))
                 if json.loads(row.payload)["type"] == "phr.accounts.proxy-ended"]
        caregiver_id = conn.execute(sa.select(schema.proxy_grants.c.caregiver_account_id)).scalar()
    assert [e["data"]["reason"] for e in ended] == ["expired"]
    assert ended[0]["data"]["grant_id"] == grant["id"] and ended[0]["data"]["caregiver"] == caregiver_id


def test_a_revoked_grant_is_not_told_of_again_when_its_end_passes(client, engine):
    from contracts.events import EventChecker
    from gateway.accounts.stores import GrantStore

    grant, _tokens = caregiver(client, engine)
    patient = sign_in(client, engine)["access_token"]
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient)).status_code == 200
    with transaction(engine) as conn:
        conn.execute(sa.update(schema.proxy_grants).values(ends_at=int(time.time()) - 5))
    assert GrantStore(engine, lambda _conn, _grant: None, EventChecker("enforce")).announce_expired() == 0
