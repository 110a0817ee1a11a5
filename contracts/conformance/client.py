"""Talk to a deployment as its clients do: department tokens, a patient's portal login, 429 retries."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from contracts.vocabulary import EMERGENCY_SCOPE, ROLE_SCOPES

TIMEOUT = 30
PATIENT_SCOPE = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c "
                 "patient/Task.c patient/Report.c patient/Communication.u")
#: The staff console's client and everything it may ask for; a token gets its person's roles' share.
CONSOLE_CLIENT_ID = "phr-console"
#: Every member of staff may report a problem and follow it (user/Report.cr, whatever their roles:
#: gateway/authz/departments.py STAFF_BASE_SCOPES), so the console asks for it too.
STAFF_SCOPE = " ".join(["openid fhirUser offline_access user/Report.cr", *ROLE_SCOPES.values(), EMERGENCY_SCOPE])


class LoginError(Exception):
    """A credential was refused or a login page did not behave as the contract says."""


class CodeRefused(LoginError):
    """The second factor's code was refused (the password was taken)."""


def claims_of(token: str) -> dict:
    """Return the claims of a JWT without checking its signature (to read exp, scope, dept)."""
    try:
        body = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return {}


def send(session: requests.Session, method: str, url: str, retries: int = 4, **kw) -> requests.Response:
    """Send one request; on 429 wait as Retry-After says (at most 5 s) and try again."""
    kw.setdefault("timeout", TIMEOUT)
    for attempt in range(retries + 1):
        resp = session.request(method, url, **kw)
        if resp.status_code != 429 or attempt == retries:
            return resp
        try:
            wait = min(float(resp.headers.get("Retry-After", "1")), 5.0)
        except ValueError:
            wait = 1.0
        time.sleep(max(wait, 0.2))
    return resp


def client_credentials(base_url: str, client_id: str, client_secret: str, scope: str | None = None) -> dict:
    """Ask for a token with client credentials (client_secret_basic); return the token response."""
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    resp = send(requests.Session(), "POST", f"{base_url}/oauth/token", data=data, auth=(client_id, client_secret))
    if resp.status_code != 200:
        raise LoginError(f"client {client_id}: token request answered {resp.status_code} {resp.text[:200]}")
    return resp.json()


class _FormReader(HTMLParser):
    """Read the first form of a page as a browser would submit it: action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._in_form = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self._in_form = a.get("action") or "", True
        elif tag == "input" and self._in_form and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _submit(session: requests.Session, page: requests.Response, values: dict) -> requests.Response:
    form = _FormReader()
    form.feed(page.text)
    if form.action is None:
        raise LoginError(f"no form on {page.url}")
    return send(session, "POST", urljoin(page.url, form.action), data={**form.fields, **values},
                allow_redirects=False)


def _pkce(client_id: str, redirect_uri: str, scope: str) -> tuple[dict, str]:
    """An authorization request with PKCE S256 (RFC 7636); return (its parameters, the verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return ({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
             "state": secrets.token_urlsafe(8), "code_challenge": challenge,
             "code_challenge_method": "S256"}, verifier)


def _code_for_token(s: requests.Session, base_url: str, resp: requests.Response, params: dict,
                    verifier: str, who: str) -> dict:
    """Read the code off the redirect to PARAMS' redirect_uri and trade it for tokens."""
    if resp.status_code not in (302, 303):
        raise LoginError(f"{who}: the sign-in answered {resp.status_code}, not a redirect")
    query = parse_qs(urlparse(resp.headers.get("Location", "")).query)
    if query.get("state") != [params["state"]] or not query.get("code"):
        raise LoginError(f"{who}: the redirect carried no code or the wrong state")
    token = send(s, "POST", f"{base_url}/oauth/token", data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": params["redirect_uri"], "client_id": params["client_id"], "code_verifier": verifier})
    if token.status_code != 200:
        raise LoginError(f"{who}: the code exchange answered {token.status_code} {token.text[:200]}")
    return token.json()


def sign_in_and_allow(s: requests.Session, authorize_url: str, username: str, password: str,
                      params: dict | None = None) -> requests.Response:
    """Open an authorization link as the patient's browser does, sign in on the login form and
    press Allow on the approval page; return the last answer (the redirect to the client)."""
    page = send(s, "GET", authorize_url, params=params)
    if page.status_code != 200:
        raise LoginError(f"the login page answered {page.status_code}")
    resp = _submit(s, page, {"username": username, "password": password})
    if resp.status_code == 200 and 'name="decision"' in resp.text:
        resp = _submit(s, resp, {"decision": "allow"})
    return resp


def patient_login(base_url: str, client_id: str, redirect_uri: str, username: str, password: str,
                  scope: str = PATIENT_SCOPE) -> dict:
    """Sign in through the HTML login form with authorization code + PKCE S256; return the token response."""
    params, verifier = _pkce(client_id, redirect_uri, scope)
    s = requests.Session()
    resp = sign_in_and_allow(s, f"{base_url}/oauth/authorize", username, password, params)
    return _code_for_token(s, base_url, resp, params, verifier, username)


def staff_login(base_url: str, username: str, password: str, second_factor, scope: str = STAFF_SCOPE,
                client_id: str = CONSOLE_CLIENT_ID) -> dict:
    """Sign a member of staff in as the staff console does: authorization code + PKCE S256 with
    the console's client, the password, then SECOND_FACTOR() (a code from their authenticator
    app, or a recovery code). The account must have set up its second step already. Return the
    token response: its scopes are those of the person's roles only."""
    params, verifier = _pkce(client_id, f"{base_url}/console/callback", scope)
    s = requests.Session()
    page = send(s, "GET", f"{base_url}/oauth/authorize", params=params)
    if page.status_code != 200:
        raise LoginError(f"the login page answered {page.status_code}")
    second = _submit(s, page, {"username": username, "password": password})
    if second.status_code != 200 or 'name="code"' not in second.text:
        raise LoginError(f"{username}: the password step answered {second.status_code}, "
                         "not the second-factor page (is the account set up?)")
    resp = _submit(s, second, {"code": second_factor()})
    if resp.status_code != 302 and 'name="code"' in resp.text:
        raise CodeRefused(f"{username}: the second-factor code was refused ({resp.status_code})")
    return _code_for_token(s, base_url, resp, params, verifier, username)


class Authenticator:
    """The codes a member of staff's authenticator app shows (TOTP, RFC 6238) from their key.
    The gateway takes each code once, so a second sign-in within one 30-second period waits
    for the next code, as a person would."""

    def __init__(self, secret: str):
        self.secret, self._used = secret, None

    def __call__(self) -> str:
        import pyotp
        if int(time.time() // 30) == self._used:
            time.sleep(30.5 - time.time() % 30)
        now = time.time()
        self._used = int(now // 30)
        return pyotp.TOTP(self.secret).at(now)

    def used_now(self) -> None:
        """Count this period's code as used (someone else may have used it: enrolment, say)."""
        self._used = int(time.time() // 30)


def staff_token(base_url: str, username: str, password: str, app: Authenticator) -> dict:
    """Sign a member of staff in with codes from APP; when the code is refused (it may have been
    used already in this period), once more with the next one. A refused password is not retried."""
    try:
        return staff_login(base_url, username, password, app)
    except CodeRefused:
        app.used_now()
        return staff_login(base_url, username, password, app)


@dataclass
class Identity:
    """One caller (a department, a patient, an oversight client) and how to get its token again."""

    kind: str                      # "department", "patient", "oversight", "admin" or "staff"
    label: str
    fetch: object                  # () -> token response dict
    named: str | None = None       # the department it acts as, when the credentials file names it
    #: (username, password) of a patient's portal account, for checks that sign in on the HTML
    #: pages themselves (a patient approving an app: contracts/conformance/apps.py)
    sign_in: tuple[str, str] | None = None
    _token: str | None = None
    _claims: dict | None = None

    @property
    def token(self) -> str:
        """Return a token valid for at least 30 more seconds, fetching a new one when needed."""
        if self._token is None or (self._claims or {}).get("exp", 0) < time.time() + 30:
            self._token = self.fetch()["access_token"]
            self._claims = claims_of(self._token)
        return self._token

    @property
    def claims(self) -> dict:
        self.token  # noqa: B018 - make sure they are loaded
        return self._claims or {}

    @property
    def scopes(self) -> list[str]:
        return str(self.claims.get("scope", "")).split()

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def patient(self) -> str | None:
        return self.claims.get("patient")

    @property
    def department(self) -> str | None:
        """The department it acts as: as the credentials file names it, else its token's claim
        (a client id given on the command line need not be the department's id)."""
        return self.named or self.claims.get("dept") or self.claims.get("client_id")


class Gateway:
    """The deployment under test: one origin, one session, 429s waited out."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def request(self, method: str, path: str, who: Identity | None = None, headers: dict | None = None,
                **kw) -> requests.Response:
        all_headers = {**(who.headers if who else {}), **(headers or {})}
        return send(self.session, method, self.base_url + path, headers=all_headers, **kw)

    def get(self, path: str, who: Identity | None = None, **kw) -> requests.Response:
        return self.request("GET", path, who, **kw)

    def post(self, path: str, who: Identity | None = None, **kw) -> requests.Response:
        return self.request("POST", path, who, **kw)

    def delete(self, path: str, who: Identity | None = None, **kw) -> requests.Response:
        return self.request("DELETE", path, who, **kw)
