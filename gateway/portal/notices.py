"""The portal's Notices page: how my notices reach me (in the app only, email or text message,
per topic) and my addresses, proved with a code before anything is sent to them.

The page calls /patient/v1/notification-preferences as the signed-in person (the patient, or a
caregiver for their own addresses). Reading needs what reading the notices needs
(patient/*.rs); changing needs patient/Communication.u (the portal has it; a caregiver with the
view-records right too). Every form posts and redirects (303); a form the API refused is shown
again with the API's words next to the field.
"""
from __future__ import annotations

from flask import flash, request
from werkzeug.datastructures import MultiDict

from gateway.portal.client import ApiError, path_id
from gateway.portal.session import RECORDS_SCOPE, api
from gateway.portal.views import API_DOWN, bp, need, page, see_other
from services.common.i18n import N_, _

NOTICE_SCOPE = "patient/Communication.u"
PREFS = "/patient/v1/notification-preferences"
CHANNEL_NAMES = {"in-app": N_("In the app only"), "email": N_("Email"), "sms": N_("Text message")}
ADDRESS_NAMES = {"email": N_("Email address"), "sms": N_("Mobile number")}


def _need() -> None:
    need(RECORDS_SCOPE)
    need(NOTICE_SCOPE)


def _page(status: int = 200, errors: dict | None = None, form=None):
    body = api("GET", PREFS)
    return page("portal/notices.html", status, title=_("Notices"), topics=body["topics"],
                addresses=body["addresses"], errors=errors or {}, form=form or MultiDict(),
                channel_names=CHANNEL_NAMES, address_names=ADDRESS_NAMES)


def _refused(exc: ApiError, field: str):
    """Show the page again with the API's explanation next to FIELD (a 4xx), else the error page."""
    if exc.status >= 500 and exc.status != 503 or exc.status in (401, 403, 404):
        raise exc
    return _page(400, {field: exc.text() or _(API_DOWN)}, request.form)


@bp.get("/portal/notices")
def notices():
    """My choices per topic and my addresses."""
    _need()
    return _page()


@bp.post("/portal/notices")
def choose():
    """Keep a channel for each topic."""
    _need()
    chosen = {t: request.form.get(f"topic-{t}", "") for t in ("record-seen", "emergency", "sharing", "account")}
    try:
        api("PUT", PREFS, json={"choices": {t: c for t, c in chosen.items() if c}})
    except ApiError as exc:
        return _refused(exc, "choices")
    flash(_("Your choices are saved."), "status")
    return see_other("portal.notices")


@bp.post("/portal/notices/addresses")
def add_address():
    """Add an email address or a mobile number; a code goes to it."""
    _need()
    channel = request.form.get("channel")
    if channel not in ADDRESS_NAMES:
        return _page(400, {"address-email": _("Choose email or text message.")}, request.form)
    field = f"address-{channel}"
    address = request.form.get(field, "").strip()[:254]
    if not address:
        return _page(400, {field: _("Type the address first.")}, request.form)
    try:
        api("POST", f"{PREFS}/addresses", json={"channel": channel, "address": address})
    except ApiError as exc:
        return _refused(exc, field)
    flash(_("We sent a code to {address}. Type it below to confirm.", address=address), "status")
    return see_other("portal.notices")


@bp.post("/portal/notices/addresses/<address_id>/verify")
def verify(address_id: str):
    """Confirm an address with its code."""
    _need()
    if not path_id(address_id):
        return page("error.html", 404, title=_("Not found"), message=_("We cannot find this address."))
    code = "".join(request.form.get(f"code-{address_id}", "").split())[:12]
    try:
        api("POST", f"{PREFS}/addresses/{address_id}/verify", json={"code": code})
    except ApiError as exc:
        return _refused(exc, f"code-{address_id}")
    flash(_("Your address is confirmed. Now choose what we send there."), "status")
    return see_other("portal.notices")


@bp.post("/portal/notices/addresses/<address_id>/resend")
def resend(address_id: str):
    _need()
    if not path_id(address_id):
        return page("error.html", 404, title=_("Not found"), message=_("We cannot find this address."))
    try:
        api("POST", f"{PREFS}/addresses/{address_id}/resend")
    except ApiError as exc:
        return _refused(exc, f"code-{address_id}")
    flash(_("We sent a new code."), "status")
    return see_other("portal.notices")


@bp.post("/portal/notices/addresses/<address_id>/remove")
def remove(address_id: str):
    _need()
    if not path_id(address_id):
        return page("error.html", 404, title=_("Not found"), message=_("We cannot find this address."))
    api("DELETE", f"{PREFS}/addresses/{address_id}")
    flash(_("We removed the address. Those notices now show in the app only."), "status")
    return see_other("portal.notices")
