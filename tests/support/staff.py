"""Department staff in tests: TOTP codes computed from a secret at a given time, and a member of
staff taken through invite, redemption and enrolment (gateway/accounts/staff.py)."""
from __future__ import annotations

import time

import pyotp

from gateway.accounts.staff import PHR_ADMIN
from gateway.accounts.staff_store import StaffStore

PASSWORD = "a staff passphrase"


def totp_code(secret: str, at: float, steps: int = 0) -> str:
    """The code an authenticator app shows at AT (moved by STEPS time steps of 30 s)."""
    return pyotp.TOTP(secret).at(at, counter_offset=steps)


def everyone_active(_department: str) -> bool:
    return True


def enrolled(store: StaffStore, at: float, department: str = "cardiology",
             roles=("clinician",), username: str = "dr.ruiz", by: str = PHR_ADMIN,
             display_name: str = "Dr. Ruiz", department_active=everyone_active):
    """A member of staff through invite, redemption and enrolment with a code of AT (the test's
    clock); return (account, secret, recovery codes)."""
    _invite, code = store.create_invite(by, department, roles, display_name, department_active)
    enrolment = store.redeem_invite(code, username, PASSWORD, department_active)
    codes = store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, at),
                                    department_active)
    return store.account(account_id=enrolment.account.id), enrolment.secret, codes


# -- through the gateway's pages (gateway/authz/staff_login.py) ----------------------------------------
CONSOLE_REDIRECT = "http://gateway.test/console/callback"


def console_params(challenge: str, scope: str | None = None) -> dict:
    """An authorization request of the staff console (phr-console, PKCE S256)."""
    from gateway.authz.departments import CONSOLE_CLIENT_ID, CONSOLE_SCOPES
    return {"response_type": "code", "client_id": CONSOLE_CLIENT_ID, "redirect_uri": CONSOLE_REDIRECT,
            "scope": scope or CONSOLE_SCOPES, "state": "st", "code_challenge": challenge,
            "code_challenge_method": "S256"}


def code_from(resp) -> str | None:
    """The authorization code of a redirect to the console's callback, else None."""
    from urllib.parse import parse_qs, urlsplit
    if resp.status_code != 302 or not resp.headers["Location"].startswith(CONSOLE_REDIRECT):
        return None
    return parse_qs(urlsplit(resp.headers["Location"]).query).get("code", [None])[0]


def token_for(client, code: str, verifier: str):
    from gateway.authz.departments import CONSOLE_CLIENT_ID
    return client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CONSOLE_REDIRECT,
        "client_id": CONSOLE_CLIENT_ID, "code_verifier": verifier})


def refresh_staff(client, refresh_token: str):
    from gateway.authz.departments import CONSOLE_CLIENT_ID
    return client.post("/oauth/token", data={"grant_type": "refresh_token",
                                              "client_id": CONSOLE_CLIENT_ID,
                                              "refresh_token": refresh_token})


def console_directory(engine, departments=("cardiology", "emergency", "primary-care")):
    """The gateway's directory with the demo's DEPARTMENTS, and the console's client; return the
    directory's store."""
    from contracts.events import EventChecker
    from gateway.admin.clients import ensure_console_client, register_department
    from gateway.directory.store import DirectoryStore
    from tests.support.directory import entry
    fields = ("department", "names", "kind", "may_claim_emergencies", "may_write_records")
    for dept in departments:
        register_department(engine, {k: v for k, v in entry(dept).items() if k in fields})
    ensure_console_client(engine, [CONSOLE_REDIRECT])
    return DirectoryStore(engine, EventChecker("enforce"))


def gateway_staff_store(engine) -> StaffStore:
    """A staff store over the gateway's ENGINE that ends tokens as the gateway's does."""
    from contracts.events import EventChecker
    from gateway.authz.stores import TokenStore
    from tests.support.gateway import HASHER
    return StaffStore(engine, TokenStore.revoke_staff_tokens, EventChecker("enforce"), HASHER)


def person(staff: StaffStore, directory, clock: dict, **kw):
    """A member of staff enrolled at the CLOCK's time (then moved on one time step, so their
    enrolment's code is spent); return (account, secret, recovery codes)."""
    account, secret, codes = enrolled(staff, clock["at"], department_active=directory.active, **kw)
    clock["at"] += 30
    return account, secret, codes


def password_step(client, username, password=PASSWORD, scope=None):
    """The console's login page, then the password; return (the answer, the PKCE verifier)."""
    from tests.support.gateway import hidden_fields, pkce
    verifier, challenge = pkce()
    page = client.get("/oauth/authorize", query_string=console_params(challenge, scope))
    assert page.status_code == 200, page.get_data(as_text=True)
    form = hidden_fields(page.get_data(as_text=True))
    resp = client.post("/oauth/authorize", data={**form, "username": username, "password": password})
    return resp, verifier


def second_step(client, page, code):
    """Send CODE with the form of PAGE (the second-factor or enrolment page)."""
    from tests.support.gateway import hidden_fields
    return client.post("/oauth/authorize", data={**hidden_fields(page.get_data(as_text=True)), "code": code})


def staff_tokens(client, username, secret, clock, scope=None) -> dict:
    """Sign a member of staff in through the pages with a TOTP code of the CLOCK's time; return
    the token response."""
    page, verifier = password_step(client, username, scope=scope)
    assert page.status_code == 200 and 'name="step" value="second-factor"' in page.get_data(as_text=True)
    code = code_from(second_step(client, page, totp_code(secret, clock["at"])))
    assert code
    resp = token_for(client, code, verifier)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def console_session(gateway: str, username: str, secret: str, at: float, language: str = "en"):
    """A browser (requests, no script) signed in to the staff console at GATEWAY through its own
    sign-in link, login page and second-factor page, with a TOTP code of AT; return the session
    and the console's home page."""
    import requests
    from tests.support.gateway import hidden_fields
    s = requests.Session()
    s.headers["Accept-Language"] = language
    login = s.get(f"{gateway}/console/signin", timeout=30)
    assert login.status_code == 200, login.text
    second = s.post(login.url.split("?")[0], timeout=30,
                    data={**hidden_fields(login.text), "username": username, "password": PASSWORD})
    assert 'name="step" value="second-factor"' in second.text, second.text
    home = s.post(login.url.split("?")[0], timeout=30,
                  data={**hidden_fields(second.text), "code": totp_code(secret, at)})
    assert home.url.rstrip("/").endswith("/console"), (home.status_code, home.url)
    return s, home


# -- against a running stack (tests/support/stack.py), over real HTTP ----------------------------------
class StaffMember:
    """A member of staff of a running stack who joined with an invite code and set up the second
    step over plain HTTP, as a person does in the console's pages (gateway/portal/console.py)."""

    def __init__(self, gateway: str, username: str, name: str, secret: str, codes: list[str]):
        self.gateway, self.username, self.name = gateway, username, name
        self.secret, self.codes, self._used_step = secret, list(codes), None

    def second_factor(self) -> str:
        """This period's authenticator code; within a period already used, a recovery code (the
        gateway refuses a code twice)."""
        step = int(time.time() // 30)
        if step != self._used_step:
            self._used_step = step
            return pyotp.TOTP(self.secret).now()
        return self.codes.pop(0)

    def sign_in(self) -> dict:
        """Sign in as the console does (contracts/conformance/client.py staff_login); the token response."""
        from contracts.conformance.client import staff_login
        return staff_login(self.gateway, self.username, PASSWORD, self.second_factor)

    def headers(self, lang: str | None = None) -> dict:
        """Authorization headers with a fresh token (and Accept-Language LANG when given)."""
        headers = {"Authorization": f"Bearer {self.sign_in()['access_token']}"}
        if lang:
            headers["Accept-Language"] = lang
        return headers


def invite_over_http(stack, roles, name: str, department: str = "cardiology") -> str:
    """An invite code from the platform's administrators (POST /admin/v1/departments/{id}/invites)."""
    import requests
    admin = stack.credentials()["admin"]
    token = requests.post(f"{stack.gateway}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(admin["client_id"], admin["client_secret"]), timeout=30)
    assert token.status_code == 200, token.text
    made = requests.post(f"{stack.gateway}/admin/v1/departments/{department}/invites", timeout=30,
                         json={"roles": list(roles), "display_name": name},
                         headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert made.status_code == 201, made.text
    return made.json()["invite_code"]


def join_over_http(stack, username: str, roles, name: str = "Dr. Keys",
                   department: str = "cardiology") -> StaffMember:
    """A member of staff of DEPARTMENT with ROLES: invited, joined at /console/join and enrolled at
    their first sign-in (the key read off the enrolment page), all over HTTP."""
    import re

    import requests

    from tests.support.gateway import hidden_fields
    s = requests.Session()
    join = s.get(stack.gateway + "/console/join", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', join.text).group(1)
    joined = s.post(stack.gateway + "/console/join", timeout=30, data={
        "csrf_token": token, "code": invite_over_http(stack, roles, name, department),
        "username": username, "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    login = s.get(stack.gateway + "/console/signin", timeout=30)
    action = login.url.split("?")[0]
    enrol = s.post(action, timeout=30, data={**hidden_fields(login.text), "username": username,
                                             "password": PASSWORD})
    secret = re.search(r'id="secret"><code>([A-Z2-7 ]+)</code>', enrol.text).group(1).replace(" ", "")
    member = StaffMember(stack.gateway, username, name, secret, [])
    done = s.post(action, timeout=30, data={**hidden_fields(enrol.text), "code": member.second_factor()})
    member.codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.text)
    assert len(member.codes) == 10, done.text
    return member
