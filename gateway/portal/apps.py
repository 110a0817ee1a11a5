"""The portal's Connected apps page: every app the patient approved, when it last got in, what
it may see in plain words, and Disconnect, which ends its access at once.

The page calls GET and DELETE /patient/v1/apps (gateway/authz/apps.py) as the signed-in patient;
a caregiver cannot connect apps (gateway/authz/authorize.py), so the page is the patient's only.
"When it last got in" is the last time the app got a token (a sign-in or a refresh), kept at
that moment: cheap, and an app reads with a token it got then.
"""
from __future__ import annotations

from datetime import datetime, timezone

from babel.dates import format_date
from flask import abort, flash

from gateway.authz.authorize import app_lines
from gateway.portal.client import ApiError
from gateway.portal.session import CONSENT_SCOPE, api, user
from gateway.portal.views import bp, need, page, see_other
from services.common.i18n import _, current_language

MAX_ID = 64  # the clients table's client_id


def _day(iso: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
    return format_date(moment, "long", locale=current_language().used)


def need_patient() -> None:
    need(CONSENT_SCOPE)
    if user()["act"]:
        abort(403)


@bp.get("/portal/apps")
def apps():
    """The apps the patient connected to their record."""
    need_patient()
    items = [{"id": a["id"], "name": a["name"], "lines": app_lines(a["scope"]),
              "approved": _day(a["approved_at"]), "last_used": _day(a["last_used_at"])}
             for a in api("GET", "/patient/v1/apps")["items"]]
    return page("portal/apps.html", title=_("Connected apps"), apps=items)


@bp.post("/portal/apps/<client_id>/disconnect")
def disconnect_app(client_id: str):
    """Disconnect one app: it cannot read the record any more, from now on."""
    need_patient()
    if not client_id or len(client_id) > MAX_ID or not client_id.replace("-", "").isalnum():
        abort(404)
    try:
        api("DELETE", f"/patient/v1/apps/{client_id}")
    except ApiError as exc:
        if exc.status == 404:
            abort(404)
        raise
    flash(_("The app is disconnected. It cannot read your record any more."), "status")
    return see_other("portal.apps")
