"""Department staff sign in through the authorization server (gateway/authz/staff_login.py):
the console's client, a password, then a second factor; tokens that carry the person, their
department and the scopes of their roles; refresh tokens that stop with the account or the
department. On SQLite and PostgreSQL."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from contracts.vocabulary import EMERGENCY_SCOPE, ROLE_SCOPES
from gateway import schema, storage
from gateway.accounts.staff import PHR_ADMIN
from gateway.accounts.staff_store import StaffStore
from gateway.authz.oauth import unverified_claims
from gateway.directory.store import DirectoryStore
from tests.support.gateway import bearer, hidden_fields, pkce
from tests.support.staff import (PASSWORD, code_from, console_directory, console_params,
                                 gateway_staff_store, password_step, person, refresh_staff,
                                 second_step, staff_tokens, token_for, totp_code)


@pytest.fixture
def gateway_config(gateway_config, database_url):
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def clock(monkeypatch):
    """The stores' clock (storage.now): a test moves it on by whole TOTP time steps."""
    import time
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def directory(engine) -> DirectoryStore:
    return console_directory(engine)


@pytest.fixture
def staff(engine, directory, clock) -> StaffStore:
    return gateway_staff_store(engine)


def sign_in(client, username, secret, clock, scope=None) -> dict:
    return staff_tokens(client, username, secret, clock, scope)


# -- the sign-in -------------------------------------------------------------------------------------
def test_a_right_password_alone_gives_a_second_step_and_no_code(client, staff, directory, clock):
    account, _secret, _codes = person(staff, directory, clock)
    page, _verifier = password_step(client, account.username)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="code"' in html and 'aria-describedby="code-hint"' in html
    assert "Location" not in page.headers
    with client.application.extensions["gateway"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.auth_codes)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.tokens)).scalar() == 0


def test_a_ticket_of_the_second_step_cannot_stand_for_the_last_one(client, staff, directory, clock):
    account, _secret, _codes = person(staff, directory, clock)
    page, _verifier = password_step(client, account.username)
    form = {**hidden_fields(page.get_data(as_text=True)), "step": "done"}
    resp = client.post("/oauth/authorize", data=form)
    assert resp.status_code == 400 and code_from(resp) is None


def test_a_wrong_password_is_refused_in_the_same_words_as_a_patients(client, staff, directory, clock):
    account, _secret, _codes = person(staff, directory, clock)
    page, _verifier = password_step(client, account.username, "not the password")
    assert page.status_code == 400
    assert "The username or password is not right." in page.get_data(as_text=True)
    assert 'aria-describedby="login-error"' in page.get_data(as_text=True)


def test_a_valid_code_gives_a_token_for_the_person_their_department_and_roles(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock, roles=("clinician", "admin"))
    tokens = sign_in(client, account.username, secret, clock)
    claims = unverified_claims(tokens["access_token"])
    assert claims["sub"] == account.id and claims["dept"] == "cardiology"
    assert claims["role"] == ["clinician", "admin"] and claims["client_id"] == "phr-console"
    assert claims["fhirUser"] == f"Practitioner/{account.practitioner}"
    scopes = set(claims["scope"].split())
    assert set(ROLE_SCOPES["clinician"].split()) | set(ROLE_SCOPES["admin"].split()) <= scopes
    assert EMERGENCY_SCOPE not in scopes  # cardiology may not claim emergencies
    others = set(ROLE_SCOPES["privacy-officer"].split() + ROLE_SCOPES["records-officer"].split())
    # what only those roles hold (a clinician reads the department's notices too: user/Communication.rs)
    assert not scopes & (others - set(ROLE_SCOPES["clinician"].split()) - set(ROLE_SCOPES["admin"].split()))
    assert "patient" not in claims and "patient" not in tokens
    assert tokens.get("refresh_token")


def test_a_wrong_code_and_a_replayed_code_are_refused(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock)
    page, _verifier = password_step(client, account.username)
    wrong = second_step(client, page, "000000" if totp_code(secret, clock["at"]) != "000000" else "111111")
    assert wrong.status_code == 400 and code_from(wrong) is None
    assert "That code is not right." in wrong.get_data(as_text=True)
    assert 'aria-describedby="code-hint code-error"' in wrong.get_data(as_text=True)
    right = second_step(client, wrong, totp_code(secret, clock["at"]))
    assert code_from(right)
    again, _verifier = password_step(client, account.username)
    replayed = second_step(client, again, totp_code(secret, clock["at"]))
    assert replayed.status_code == 400 and code_from(replayed) is None
    assert "That code was used already." in replayed.get_data(as_text=True)


def test_a_recovery_code_works_once(client, staff, directory, clock):
    account, _secret, codes = person(staff, directory, clock)
    page, verifier = password_step(client, account.username)
    code = code_from(second_step(client, page, codes[0].lower()))
    assert code and token_for(client, code, verifier).status_code == 200
    again, _verifier = password_step(client, account.username)
    refused = second_step(client, again, codes[0])
    assert refused.status_code == 400 and code_from(refused) is None


def test_a_pending_account_enrols_sees_its_recovery_codes_once_then_gets_a_code(client, staff, directory, clock):
    _invite, invite_code = staff.create_invite(PHR_ADMIN, "emergency", ("clinician",), "Dr. Vega",
                                               directory.active)
    enrolment = staff.redeem_invite(invite_code, "dr.vega", PASSWORD, directory.active)
    page, verifier = password_step(client, "dr.vega")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="step" value="enrol"' in html
    shown = re.search(r'<p class="secret" id="secret"><code>([A-Z2-7 ]+)</code>', html).group(1)
    assert shown.replace(" ", "") == enrolment.secret and "otpauth://totp/" in html
    assert '<svg role="img" focusable="false" ' in html  # the same key as a QR code to scan
    no_code = second_step(client, page, "")
    assert no_code.status_code == 400 and code_from(no_code) is None
    done = second_step(client, no_code, totp_code(shown.replace(" ", ""), clock["at"]))
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10 and code_from(done) is None
    assert "You will not see them again." in done.get_data(as_text=True)
    code = code_from(client.post("/oauth/authorize", data=hidden_fields(done.get_data(as_text=True))))
    tokens = token_for(client, code, verifier).json
    claims = unverified_claims(tokens["access_token"])
    assert claims["sub"] == enrolment.account.id and claims["dept"] == "emergency"
    assert EMERGENCY_SCOPE in claims["scope"].split()  # the emergency department's clinician


def test_a_disabled_account_cannot_sign_in_and_its_refresh_token_stops(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock, roles=("clinician",))
    tokens = sign_in(client, account.username, secret, clock)
    staff.disable(account.id, PHR_ADMIN, directory.active)
    assert refresh_staff(client, tokens["refresh_token"]).status_code == 400
    clock["at"] += 30
    page, _verifier = password_step(client, account.username)
    assert page.status_code == 403 and "This account is turned off." in page.get_data(as_text=True)
    resp = client.get("/fhir/Patient/p-1", headers=bearer(tokens["access_token"]))
    assert resp.status_code == 401  # revoked at once through the revocation list


def test_a_disabled_department_cannot_sign_in_and_its_refresh_token_stops(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock)
    tokens = sign_in(client, account.username, secret, clock)
    directory.disable("cardiology", "Closed.")
    assert refresh_staff(client, tokens["refresh_token"]).status_code == 400
    page, _verifier = password_step(client, account.username)
    assert page.status_code == 403 and "Your department cannot sign in here now." in page.get_data(as_text=True)
    with client.application.extensions["gateway"].engine.connect() as conn:
        row = conn.execute(sa.select(schema.tokens).where(schema.tokens.c.staff_id == account.id)).mappings().one()
    assert row["access_revoked"] and row["refresh_revoked"]


def test_a_refresh_gives_a_token_with_the_same_person_and_roles(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock, roles=("records-officer",))
    tokens = sign_in(client, account.username, secret, clock)
    fresh = refresh_staff(client, tokens["refresh_token"])
    assert fresh.status_code == 200, fresh.get_data(as_text=True)
    claims = unverified_claims(fresh.json["access_token"])
    assert claims["sub"] == account.id and claims["role"] == ["records-officer"]
    assert "user/Task.rus" in claims["scope"].split()


@pytest.mark.parametrize("dept, roles, emergency", [
    ("emergency", ("privacy-officer",), False),
    ("cardiology", ("clinician",), False),
    ("emergency", ("clinician",), True),
    ("emergency", ("admin",), False),
])
def test_only_a_clinician_of_a_department_that_may_claim_emergencies_gets_the_emergency_scope(
        client, staff, directory, clock, dept, roles, emergency):
    account, secret, _codes = person(staff, directory, clock, department=dept, roles=roles)
    scopes = unverified_claims(sign_in(client, account.username, secret, clock)["access_token"])["scope"].split()
    assert (EMERGENCY_SCOPE in scopes) is emergency
    for role in roles:
        assert set(ROLE_SCOPES[role].split()) <= set(scopes)


def test_a_patient_cannot_sign_in_with_the_console_and_staff_not_with_the_portal(client, engine, staff, directory, clock):
    from tests.support.gateway import authorize_params, make_account
    from gateway.admin.clients import ensure_portal_client
    from tests.support.gateway import REDIRECT_URI
    make_account(engine, username="ana")
    page, _verifier = password_step(client, "ana", "correct horse battery")
    assert page.status_code == 400 and code_from(page) is None
    account, _secret, _codes = person(staff, directory, clock)
    ensure_portal_client(engine, [REDIRECT_URI])
    _v, challenge = pkce()
    login = client.get("/oauth/authorize", query_string=authorize_params(challenge))
    resp = client.post("/oauth/authorize", data={**hidden_fields(login.get_data(as_text=True)),
                                                 "username": account.username, "password": PASSWORD})
    assert resp.status_code == 400 and 'name="decision"' not in resp.get_data(as_text=True)


def test_the_staff_pages_speak_spanish(client, staff, directory, clock):
    account, _secret, _codes = person(staff, directory, clock)
    verifier, challenge = pkce()
    params = console_params(challenge)
    page = client.get("/oauth/authorize", query_string=params, headers={"Accept-Language": "es"})
    assert page.headers["Content-Language"] == "es" and '<html lang="es"' in page.get_data(as_text=True)
    second = client.post("/oauth/authorize", headers={"Accept-Language": "es"},
                         data={**hidden_fields(page.get_data(as_text=True)),
                               "username": account.username, "password": PASSWORD})
    assert second.headers["Content-Language"] == "es"
    assert "Escriba su código" in second.get_data(as_text=True)


def test_wrong_passwords_and_wrong_codes_are_throttled_as_a_patients_passwords(client, app, staff, directory, clock):
    free = app.config["SIGNIN_FREE_FAILURES"]
    account, secret, _codes = person(staff, directory, clock)
    for _ in range(free):
        assert password_step(client, account.username, "not the password")[0].status_code == 400
    waiting, _verifier = password_step(client, account.username)  # even the right one waits now
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1
    assert "Too many tries to sign in." in waiting.get_data(as_text=True)

    other, secret, _codes = person(staff, directory, clock, username="dr.lee")
    page, _verifier = password_step(client, other.username)
    wrong = "000000" if totp_code(secret, clock["at"]) != "000000" else "111111"
    for _ in range(free):
        page = second_step(client, page, wrong)
        assert page.status_code == 400
    held = second_step(client, page, totp_code(secret, clock["at"]))
    assert held.status_code == 429 and code_from(held) is None and held.headers["Retry-After"]


def test_taking_the_departments_emergency_right_away_ends_its_clinicians_tokens(client, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock, department="emergency")
    tokens = sign_in(client, account.username, secret, clock)
    assert EMERGENCY_SCOPE in unverified_claims(tokens["access_token"])["scope"].split()
    names = directory.entry("emergency")["names"]
    directory.change("emergency", names, may_claim_emergencies=False, may_write_records=True)
    assert refresh_staff(client, tokens["refresh_token"]).status_code == 400
    clock["at"] += 30
    again = sign_in(client, account.username, secret, clock)
    assert EMERGENCY_SCOPE not in unverified_claims(again["access_token"])["scope"].split()

