"""The patient portal: server-rendered pages, no script needed, a client of the public API.

``init_app(app, settings)`` registers the pages, the session cookie (signed with a key made at
first start under the var dir) and the layout's shared context, which the OAuth login and
approval pages (gateway/authz/authorize.py) use too.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from markupsafe import Markup

from gateway.accounts.forwarded import AddressVoucher
from gateway.portal import prefs as preferences
from gateway.portal.client import Portal
from gateway.portal.session import CONSENT_SCOPE, RECORDS_SCOPE, can, csrf_token, user
from services.common.config import Settings
from services.common.i18n import Language, _
from services.common.problem import http_problem

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "portal" / "portal.css"
#: Paths whose pages the portal's layout frames (and whose language the visitor's choice sets):
#: the portal's, the sign-in pages and the staff console's (gateway/portal/console.py).
PAGES = ("/portal/", "/oauth/authorize", "/console/")


def init_app(app: Flask, settings: Settings) -> None:
    """Register the portal on APP; its API calls go to the gateway's public URL."""
    from gateway.authz.departments import CONSOLE_CLIENT_ID, CONSOLE_SCOPES
    from gateway.portal.console import bp as console_bp
    # The console's pages are split by work: each module adds its routes to the console's blueprint.
    from gateway.portal import console_records  # noqa: F401  (records officers' corrections)
    from gateway.portal import console_exchange  # noqa: F401  (clinicians' requests, emergency reviews)
    from gateway.portal import console_reports  # noqa: F401  (anyone reports; quality triages)
    from gateway.portal.views import bp
    # The portal's request pages add their routes to the portal's blueprint (one module each).
    from gateway.portal import apps, corrections, notices, reports, sharing_requests  # noqa: F401
    from gateway.portal import page_answers  # noqa: F401  ("Was this page easy to understand?")
    from gateway.portal import console_pulse  # noqa: F401  (the staff's weekly pulse)
    from gateway.portal import console_measures  # noqa: F401  (quality's and privacy officers' dashboard)

    app.register_error_handler(404, _page_or_problem)
    sessions = app.extensions["gateway"].session_keys  # gateway/portal/secret.py
    app.secret_key = sessions[0]
    app.config["SECRET_KEY_FALLBACKS"] = list(sessions[1:])  # cookies signed before a change of keys
    app.config.update(SESSION_COOKIE_NAME="phr_portal", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.issuer.startswith("https://"))
    app.extensions["portal"] = Portal(app.config.get("PORTAL_API_URL") or settings.issuer,
                                      AddressVoucher(*sessions))
    # Tries of an invite code per visitor's address, as many as activation codes get
    # (gateway/accounts/activation.py): a code cannot be guessed at speed.
    per_minute = app.config.get("ACTIVATION_ATTEMPTS_PER_MINUTE") or settings.activation_attempts_per_minute
    limits = app.extensions["gateway"].limits
    app.extensions["console_joins"] = limits.limiter("console-join", per_minute, 60)
    app.extensions["page_answer_limits"] = page_answers.limits(limits)  # the counts cannot be stuffed
    app.extensions["console"] = Portal(app.config.get("PORTAL_API_URL") or settings.issuer,
                                       AddressVoucher(*sessions), client_id=CONSOLE_CLIENT_ID,
                                       scopes=CONSOLE_SCOPES, callback="/console/callback")
    # Inlined into every page: one request on a slow line, and the login page's CSP
    # (style-src 'unsafe-inline', gateway/authz/authorize.py) allows no external stylesheet.
    css = Markup(STYLESHEET.read_text())
    app.register_blueprint(bp)
    app.register_blueprint(console_bp)

    @app.before_request
    def _choose_language():
        if not (request.path == "/" or request.path.startswith(PAGES)):
            return
        g.prefs = chosen = preferences.read(request)
        if chosen.lang:
            g.language = Language(chosen.lang, chosen.lang, False)
            # The approval page re-negotiates from Accept-Language (i18n.use_preferred): the
            # visitor's choice on this site stands in for the browser's header.
            request.environ["HTTP_ACCEPT_LANGUAGE"] = chosen.lang

    @app.context_processor
    def _layout():
        if not (request.path == "/" or request.path.startswith(PAGES)):
            return {}
        tok = user()
        return {"prefs": g.get("prefs") or preferences.read(request), "portal_css": css,
                "me": tok, "csrf_token": csrf_token,
                "can_records": can(RECORDS_SCOPE), "can_sharing": can(CONSENT_SCOPE),
                "can_corrections": can("patient/Task.c") and can(RECORDS_SCOPE),
                "can_report": can("patient/Report.c"),
                "can_notices": can("patient/Communication.u") and can(RECORDS_SCOPE),
                "can_caregivers": bool(tok) and not tok["act"] and can(CONSENT_SCOPE),
                "can_apps": bool(tok) and not tok["act"] and can(CONSENT_SCOPE),
                "here": request.path, "here_full": request.full_path.rstrip("?"),
                "asks_page": page_answers.asks(request.endpoint)}


def _page_or_problem(exc):
    """A 404 under /portal or /console is a person's: an error page in their language, even for
    an address no route matches (a blueprint's own handler sees only its routes' errors); any
    other 404 stays problem+json."""
    from gateway.portal import console, views  # as in init_app: the blueprints' modules import this one
    if _under(request.path, "/console"):
        return console.page("error.html", 404, title=_("Not found"), message=_(console.NOT_FOUND))
    if _under(request.path, "/portal"):
        return views.not_found(exc)
    return http_problem(exc)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
