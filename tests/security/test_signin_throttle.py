"""Sign-in over real HTTP: growing delays instead of a lock a stranger can set off, the same
answers for known and unknown usernames, and a bounded number of password checks per address
(issue 15, point 8)."""
from __future__ import annotations

import re
import time

import pytest
import requests

from gateway.admin import ensure_portal_client
from gateway.portal.client import Pkce
from tests.security.gateway_server import GatewayServer, error_text, hidden_fields

PATIENT, PASSWORD = "maria", "a long passphrase"
STRANGER, PATIENT_HOME, ELSEWHERE = "203.0.113.7", "198.51.100.2", "192.0.2.44"


@pytest.fixture
def make_gateway(tmp_path, database_url):
    """Start a gateway behind one trusted proxy (so tests can speak from several addresses)."""
    started = []

    def make(**overrides) -> GatewayServer:
        overrides.setdefault("trusted_proxies", 1)
        gw = GatewayServer(tmp_path / f"gw{len(started)}", database_url, **overrides).__enter__()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.__exit__(None, None, None)


def open_account(gw: GatewayServer) -> None:
    resp = requests.post(gw.url + "/accounts/v1/activate", timeout=10, json={
        "code": gw.activation_code(), "birth_date": "1961-04-02", "username": PATIENT,
        "password": PASSWORD})
    assert resp.status_code == 201, resp.text


def open_form(gw: GatewayServer, address: str) -> tuple[requests.Session, dict]:
    """Open the portal's sign-in page from ADDRESS; return the session and the form's fields."""
    s = requests.Session()
    s.headers["X-Forwarded-For"] = address
    pkce = Pkce.new()
    page = s.get(gw.url + "/oauth/authorize", timeout=10, params={
        "response_type": "code", "client_id": "phr-portal", "redirect_uri": gw.url + "/portal/callback",
        "scope": "openid fhirUser patient/*.rs", "state": pkce.state,
        "code_challenge": pkce.challenge, "code_challenge_method": "S256"})
    assert page.status_code == 200, page.text
    return s, hidden_fields(page.text)


def send(gw: GatewayServer, opened: tuple[requests.Session, dict], username: str,
         password: str) -> requests.Response:
    session, form = opened
    return session.post(gw.url + "/oauth/authorize", timeout=30, allow_redirects=False,
                        data={**form, "username": username, "password": password})


def sign_in(gw: GatewayServer, username: str, password: str, address: str) -> requests.Response:
    """Open the portal's sign-in page from ADDRESS and send the form."""
    return send(gw, open_form(gw, address), username, password)


def signed_in(resp: requests.Response) -> bool:
    return resp.status_code == 200 and 'name="decision" value="allow"' in resp.text


def test_a_strangers_wrong_passwords_do_not_stop_the_patient_signing_in_after_a_short_wait(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=1.0)
    open_account(gw)
    for _ in range(5):
        assert sign_in(gw, PATIENT, "not her password", STRANGER).status_code == 400
    waiting = sign_in(gw, PATIENT, PASSWORD, PATIENT_HOME)
    assert waiting.status_code == 429
    seconds = int(waiting.headers["Retry-After"])
    assert seconds <= 5 and f"Wait {seconds} seconds" in error_text(waiting.text)
    time.sleep(seconds)
    assert signed_in(sign_in(gw, PATIENT, PASSWORD, PATIENT_HOME))
    # The right password cleared the count: the stranger starts again from nothing.
    assert sign_in(gw, PATIENT, "not her password", STRANGER).status_code == 400


def test_a_try_during_the_wait_is_not_checked_and_does_not_lengthen_it(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=1.0)
    open_account(gw)
    for _ in range(5):
        sign_in(gw, PATIENT, "not her password", STRANGER)
    started = time.monotonic()
    for _ in range(3):
        assert sign_in(gw, PATIENT, PASSWORD, STRANGER).status_code == 429
    time.sleep(max(0.0, 1.1 - (time.monotonic() - started)))
    assert signed_in(sign_in(gw, PATIENT, PASSWORD, PATIENT_HOME))


def _answers(gw: GatewayServer, username: str, address: str) -> list[tuple]:
    """Seven wrong tries for USERNAME: what each answer says, with the username, the form's
    per-request values (state, PKCE challenge) and the seconds left (a clock) taken out."""
    answers = []
    for _ in range(7):
        resp = sign_in(gw, username, "not the password", address)
        page = re.sub(r'<input type="hidden"[^>]*>', "", resp.text).replace(username, "USERNAME")
        answers.append((resp.status_code, "Retry-After" in resp.headers,
                        re.sub(r"\d+", "N", error_text(resp.text)), re.sub(r"\d+", "N", page)))
    return answers


def test_known_and_unknown_usernames_get_the_same_answers(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=30.0)
    open_account(gw)
    known = _answers(gw, PATIENT, STRANGER)
    unknown = _answers(gw, "nobody-here", ELSEWHERE)
    assert [a[0] for a in known] == [400] * 5 + [429, 429]
    assert [a[:3] for a in known] == [a[:3] for a in unknown]
    assert [a[3] for a in known] == [a[3] for a in unknown]


def test_one_address_cannot_make_the_gateway_check_passwords_without_end(make_gateway):
    gw = make_gateway(signin_checks_per_minute=5)
    statuses = [sign_in(gw, f"guess-{n}", "some password", STRANGER).status_code for n in range(5)]
    assert statuses == [400] * 5
    over = sign_in(gw, "guess-5", "some password", STRANGER)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert "Too many tries to sign in" in error_text(over.text)
    assert sign_in(gw, "guess-6", "some password", ELSEWHERE).status_code == 400


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(make_gateway):
    gw = make_gateway(trusted_proxies=0, signin_checks_per_minute=3)
    statuses = [sign_in(gw, f"guess-{n}", "some password", f"192.0.2.{n}").status_code
                for n in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_tries_sent_together_after_a_wait_get_one_password_check_between_them(make_gateway):
    from concurrent.futures import ThreadPoolExecutor
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=2.0)
    open_account(gw)
    forms = [open_form(gw, f"192.0.2.{n}") for n in range(6)]
    for _ in range(5):
        sign_in(gw, PATIENT, "not her password", STRANGER)
    time.sleep(2.1)
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda opened: send(gw, opened, PATIENT, "a guess").status_code,
                                   forms))
    assert statuses == [400] + [429] * 5


def test_every_gateway_process_on_one_database_counts_the_same_wrong_tries(make_gateway):
    first = make_gateway(SIGNIN_DELAY_BASE_SECONDS=30.0)
    open_account(first)
    second = make_gateway(SIGNIN_DELAY_BASE_SECONDS=30.0)
    ensure_portal_client(second.app.extensions["gateway"].engine,
                         [gw.url + "/portal/callback" for gw in (first, second)])
    for _ in range(5):
        assert sign_in(first, PATIENT, "not her password", STRANGER).status_code == 400
    assert sign_in(second, PATIENT, PASSWORD, PATIENT_HOME).status_code == 429
