"""What the portal keeps per browser: tokens and a CSRF token, in Flask's signed session cookie.

The cookie is signed (not readable by page scripts: HttpOnly; not sent cross-site: SameSite=Lax).
Access tokens live minutes; an expired one is refreshed once with the refresh token.
"""
from __future__ import annotations

import hmac
import secrets
import time

from flask import current_app, session

from gateway.portal.client import Portal, SignedOut, claims_of
from services.common.i18n import current_language

RECORDS_SCOPE, CONSENT_SCOPE = "patient/*.rs", "patient/Consent.cruds"


def portal() -> Portal:
    return current_app.extensions["portal"]


def csrf_token() -> str:
    """Return this session's form token, making one on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok(sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent) and hmac.compare_digest(expected, sent)


def sign_in(tokens: dict) -> None:
    """Keep the tokens of a fresh sign-in, with what the pages need to know about them."""
    claims = claims_of(tokens["access_token"])
    session.clear()
    session["tok"] = {"access": tokens["access_token"], "refresh": tokens.get("refresh_token"),
                      "exp": tokens["expires_at"], "scope": tokens.get("scope", ""),
                      "patient": tokens.get("patient") or claims.get("patient"),
                      "act": bool(claims.get("act"))}
    session.permanent = False


def sign_out() -> None:
    tok = session.get("tok") or {}
    if tok.get("refresh"):
        portal().revoke(tok["refresh"])
    session.clear()


def user() -> dict | None:
    return session.get("tok")


def can(scope: str) -> bool:
    tok = user()
    return bool(tok) and scope in tok["scope"].split()


def _refresh(key: str, client: Portal, tok: dict) -> dict:
    if not tok.get("refresh"):
        raise SignedOut(401)
    fresh = client.refresh(tok["refresh"])
    tok = {**tok, "access": fresh["access_token"], "exp": fresh["expires_at"],
           "refresh": fresh.get("refresh_token") or tok["refresh"]}
    session[key] = tok
    return tok


def call_as(key: str, client: Portal, method: str, path: str, **kw) -> dict:
    """Call the API as the person whose tokens the session keeps under KEY ("tok": the patient's,
    "staff": the console's), through CLIENT, in the page's language; an access token about to
    expire, or refused, is refreshed once. Tokens that no longer work are dropped: SignedOut."""
    tok = session.get(key)
    if not tok:
        raise SignedOut(401)
    lang = current_language().used
    try:
        if tok["exp"] < time.time() + 5:
            tok = _refresh(key, client, tok)
        try:
            return client.call(method, path, tok["access"], lang, **kw)
        except SignedOut:
            return client.call(method, path, _refresh(key, client, tok)["access"], lang, **kw)
    except SignedOut:
        session.pop(key, None)
        raise


def api(method: str, path: str, **kw) -> dict:
    """Call the patient API as the signed-in person, in the page's language."""
    return call_as("tok", portal(), method, path, **kw)

