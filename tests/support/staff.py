"""Department staff in tests: TOTP codes computed from a secret at a given time, and a member of
staff taken through invite, redemption and enrolment (gateway/accounts/staff.py)."""
from __future__ import annotations

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
