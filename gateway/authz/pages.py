"""What the authorization server's pages share: rendered in the negotiated language, labelled
with it (WCAG 3.1.1), never cached or framed; and the device cookie given after a right
password (gateway/accounts/devices.py)."""
from __future__ import annotations

from flask import Response, current_app, render_template

from gateway.accounts.devices import COOKIE as DEVICE_COOKIE, LIFETIME_SECONDS as DEVICE_LIFETIME
from gateway.accounts.devices import PATH as DEVICE_PATH, DeviceCookies
from services.common.i18n import current_language

PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                "Referrer-Policy": "no-referrer"}


def render_page(template: str, status: int = 200, **context) -> Response:
    """Render a page in the negotiated language, labelled with it (WCAG 3.1.1), never cached."""
    lang = current_language().used
    return Response(render_template(template, lang=lang, **context), status=status,
                    headers={**PAGE_HEADERS, "Content-Language": lang}, mimetype="text/html")


def trust_device(devices: DeviceCookies, page: Response, username: str) -> Response:
    """Give the browser a new device cookie for USERNAME (gateway/accounts/devices.py)."""
    page.set_cookie(DEVICE_COOKIE, devices.issue(username), max_age=DEVICE_LIFETIME,
                    path=DEVICE_PATH, httponly=True, samesite="Lax",
                    secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return page
