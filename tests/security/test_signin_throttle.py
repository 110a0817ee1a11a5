"""Sign-in over real HTTP: growing delays instead of a lock a stranger can set off, the same
answers for known and unknown usernames, a bounded number of password checks per address, and
a browser that signed in before (its device cookie) kept out of a stranger's delays."""
from __future__ import annotations

import re
import time

import pytest
import requests

import gateway.storage
from gateway import schema
from gateway.admin.clients import ensure_portal_client
from gateway.accounts.devices import COOKIE, DeviceCookies
from gateway.portal.secret import load_or_create_session_key
from gateway.accounts.throttle import SignInPolicy, address_key, username_key
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


def open_form(gw: GatewayServer, address: str,
              s: requests.Session | None = None) -> tuple[requests.Session, dict]:
    """Open the portal's sign-in page from ADDRESS (in browser S, else a new one); return the
    session and the form's fields."""
    s = s or requests.Session()
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


def test_a_stranger_whose_address_budget_is_spent_does_not_push_the_victims_wait(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=2.0, signin_checks_per_minute=5)
    open_account(gw)
    for _ in range(5):  # the stranger's whole budget of password checks
        assert sign_in(gw, PATIENT, "not her password", STRANGER).status_code == 400
    time.sleep(2.1)
    for _ in range(3):  # refused by the budget: not checked, and the username's wait stays over
        assert sign_in(gw, PATIENT, "another guess", STRANGER).status_code == 429
    assert signed_in(sign_in(gw, PATIENT, PASSWORD, PATIENT_HOME))


def _her_browser(gw: GatewayServer) -> requests.Session:
    """The patient's own browser, after she signed in once (it holds her device cookie)."""
    opened = open_form(gw, PATIENT_HOME)
    assert signed_in(send(gw, opened, PATIENT, PASSWORD))
    return opened[0]


def test_the_device_cookie_is_httponly_same_site_lax_and_sent_only_to_the_sign_in_form(make_gateway):
    gw = make_gateway()
    open_account(gw)
    resp = send(gw, open_form(gw, PATIENT_HOME), PATIENT, PASSWORD)
    attributes = [a.strip().lower() for a in resp.headers["Set-Cookie"].split(";")]
    assert attributes[0].startswith(COOKIE + "=") and PATIENT not in attributes[0]
    assert {"httponly", "samesite=lax", "path=/oauth/authorize",
            f"max-age={180 * 86400}"} <= set(attributes)
    assert "secure" not in attributes  # as the portal's session cookie: Secure with an https issuer
    assert "Set-Cookie" not in sign_in(gw, PATIENT, "not her password", PATIENT_HOME).headers


def _hold_at_the_cap(gw: GatewayServer) -> None:
    """A stranger's wrong tries put the patient's username at its longest wait."""
    for _ in range(5):
        assert sign_in(gw, PATIENT, "not her password", STRANGER).status_code == 400
    held = sign_in(gw, PATIENT, "not her password", STRANGER)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) == 300


def test_a_stranger_holding_a_username_at_the_cap_does_not_stop_the_users_own_browser(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=300.0)
    open_account(gw)
    browser = _her_browser(gw)
    _hold_at_the_cap(gw)
    # A browser she never signed in with waits like the stranger ...
    assert sign_in(gw, PATIENT, PASSWORD, PATIENT_HOME).status_code == 429
    # ... hers signs in at once, and again the next time.
    assert signed_in(send(gw, open_form(gw, PATIENT_HOME, browser), PATIENT, PASSWORD))
    assert signed_in(send(gw, open_form(gw, PATIENT_HOME, browser), PATIENT, PASSWORD))
    # The stranger is still held.
    assert sign_in(gw, PATIENT, PASSWORD, STRANGER).status_code == 429


def test_a_browser_with_too_many_wrong_tries_of_its_own_waits_like_any_other(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=300.0)
    open_account(gw)
    browser = _her_browser(gw)
    _hold_at_the_cap(gw)
    for _ in range(5):  # counted on the browser's own count, not the username's
        assert send(gw, open_form(gw, PATIENT_HOME, browser), PATIENT, "a typo").status_code == 400
    assert send(gw, open_form(gw, PATIENT_HOME, browser), PATIENT, PASSWORD).status_code == 429


def test_a_forged_expired_or_another_usernames_device_cookie_gets_no_exemption(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=300.0)
    open_account(gw)
    gw.activation_code("BCDE-FGHJ-KMNP", patient="p-10", birth_date="1970-01-01")
    ana = requests.post(gw.url + "/accounts/v1/activate", timeout=10, json={
        "code": "BCDE-FGHJ-KMNP", "birth_date": "1970-01-01", "username": "ana",
        "password": "another long passphrase"})
    assert ana.status_code == 201, ana.text
    anas_browser = open_form(gw, ELSEWHERE)
    assert signed_in(send(gw, anas_browser, "ana", "another long passphrase"))
    browser = _her_browser(gw)
    _hold_at_the_cap(gw)
    assert signed_in(send(gw, open_form(gw, PATIENT_HOME, browser), PATIENT, PASSWORD))

    real = browser.cookies.get(COOKIE, path="/oauth/authorize")
    user, nonce, stamp, mac = real.split(".")
    genuine_key = DeviceCookies(load_or_create_session_key(gw.app.extensions["gateway"].settings.var_dir))
    cookies = {
        "another username's": anas_browser[0].cookies.get(COOKIE, path="/oauth/authorize"),
        "another nonce": ".".join([user, ("x" if nonce[0] != "x" else "y") + nonce[1:], stamp, mac]),
        "a later time": ".".join([user, nonce, str(int(stamp) + 1), mac]),
        "another key": DeviceCookies(b"not the gateway's key" * 2).issue(PATIENT),
        "expired": genuine_key.issue(PATIENT, at=time.time() - 181 * 86400),
        "garbage": "x" * 5000,
    }
    for what, value in cookies.items():
        session, form = open_form(gw, PATIENT_HOME)
        resp = session.post(gw.url + "/oauth/authorize", timeout=30, allow_redirects=False,
                            data={**form, "username": PATIENT, "password": PASSWORD},
                            headers={"Cookie": f"{COOKIE}={value}"})
        assert resp.status_code == 429, what


def _join(gw: GatewayServer, code: str, password: str) -> requests.Response:
    return requests.post(gw.url + "/accounts/v1/activate", timeout=10,
                         headers={"X-Forwarded-For": STRANGER}, json={
                             "code": code, "birth_date": "1961-04-02", "username": "carla",
                             "password": password})


def test_guessing_a_caregivers_password_with_an_invite_code_is_throttled_like_signing_in(make_gateway):
    gw = make_gateway(SIGNIN_DELAY_BASE_SECONDS=300.0)
    open_account(gw)
    carla_password = "carla's own passphrase"
    assert _join(gw, gw.caregiver_invite("CDEF-GHJK-MNPQ", PATIENT), carla_password).status_code == 201
    stolen = gw.caregiver_invite("DEFG-HJKM-NPQR", PATIENT)
    for n in range(5):
        assert _join(gw, stolen, f"guess {n} of carla's password").status_code == 409
    held = _join(gw, stolen, carla_password)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) == 300
    assert "Too many password tries" in held.json()["detail"]
    # The guesses count as wrong sign-ins: her username waits at the sign-in form too.
    assert sign_in(gw, "carla", carla_password, PATIENT_HOME).status_code == 429


def test_guessing_a_caregivers_password_with_an_invite_code_spends_the_address_budget(make_gateway):
    gw = make_gateway(signin_checks_per_minute=3)
    open_account(gw)
    assert _join(gw, gw.caregiver_invite("CDEF-GHJK-MNPQ", PATIENT), "carla's own passphrase").status_code == 201
    stolen = gw.caregiver_invite("DEFG-HJKM-NPQR", PATIENT)
    assert [_join(gw, stolen, f"guess number {n}").status_code for n in range(4)] == [409, 409, 409, 429]


def test_first_tries_that_lose_the_race_to_insert_their_counter_still_count(make_gateway, database_url,
                                                                             monkeypatch):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one writer at a time in: no insert race")
    gw = make_gateway()
    store, policy, at = gw.stores.signin, SignInPolicy(check_burst=20), time.time()
    real_insert = gateway.storage.inserted

    def another_process_first(conn, table, **values):
        """Another gateway process commits the same first row between our read and insert."""
        monkeypatch.setattr(gateway.storage, "inserted", real_insert)
        if table is schema.signin_delays:
            store.signin_failed(values["key"], at, policy)
        else:
            store.take_signin_check(values["key"], at, policy)
        return real_insert(conn, table, **values)

    monkeypatch.setattr(gateway.storage, "inserted", another_process_first)
    store.signin_failed(username_key(PATIENT), at, policy)
    monkeypatch.setattr(gateway.storage, "inserted", another_process_first)
    store.take_signin_check(address_key(STRANGER), at, policy)
    with gw.app.extensions["gateway"].engine.connect() as conn:
        failures = conn.execute(schema.signin_delays.select()).one().failures
        tokens = conn.execute(schema.signin_budgets.select()).one().tokens
    assert failures == 2 and tokens == pytest.approx(18.0)
