"""The portal's sharing requests: a department asks the patient to share, the patient says yes or no.

The pages read GET /patient/v1/sharing-requests and answer with .../approve or .../decline, as
the signed-in person, like every portal page. A yes sends the SHA-256 of the consent text the
page showed, so the consent granted is the one the patient read (a text that changed since is a
409, shown on the page). Who may answer is the API's rule for consents: a patient, or a
caregiver with the manage-consents right (patient/Consent.cruds), as on the sharing page.
"""
from __future__ import annotations

import re
from flask import abort, flash, request

from gateway.portal.client import ApiError, path_id
from gateway.portal.session import CONSENT_SCOPE, api, can
from gateway.portal.views import FORM_EXPIRED, bp, need, page, see_other
from services.common.i18n import N_, _

SHA256 = re.compile(r"^[0-9a-f]{64}$")
SAID_YES = N_("You said yes. {name} can now see these records. You can stop it at any time "
              "on the Sharing page.")
SAID_NO = N_("You said no. Nothing is shared. We told {name}.")


def _path(request_id: str, action: str = "") -> str:
    # The id is the visitor's: only an id goes into the API's path (a 404 page otherwise).
    if not path_id(request_id):
        abort(404)
    return f"/patient/v1/sharing-requests/{request_id}{action}"


@bp.app_template_global()
def open_sharing_requests() -> int:
    """How many requests wait for the signed-in person's answer (0 when they may not answer):
    the sharing and notifications pages link to the list only when some wait."""
    if not can(CONSENT_SCOPE):
        return 0
    try:
        answer = api("GET", "/patient/v1/sharing-requests")
    except ApiError:
        return 0  # the page around it still shows; the list page explains the problem
    # Only a link depends on it: an answer of another shape shows no link rather than no page.
    items = answer.get("items") if isinstance(answer, dict) else None
    return sum(1 for r in items or [] if isinstance(r, dict) and (r.get("status") or {}).get("code") == "pending")


@bp.get("/portal/sharing-requests")
def sharing_requests():
    """Departments' requests that I share: those waiting first, then the answered ones."""
    need(CONSENT_SCOPE)
    items = api("GET", "/patient/v1/sharing-requests")["items"]
    waiting = [r for r in items if r["status"]["code"] == "pending"]
    answered = [r for r in items if r["status"]["code"] != "pending"]
    return page("portal/sharing_requests.html", title=_("Requests to share"), waiting=waiting,
                answered=answered)


def _request_page(request_id: str, status: int = 200, error: str | None = None):
    found = api("GET", _path(request_id))
    return page("portal/sharing_request.html", status,
                title=_("{name} asks to see your records", name=found["department"]["display"]),
                r=found, error=error)


@bp.get("/portal/sharing-requests/<request_id>")
def sharing_request(request_id: str):
    """One request in full, with the exact consent a yes gives, and the two answers."""
    need(CONSENT_SCOPE)
    return _request_page(request_id)


def _answer(request_id: str, action: str, body: dict, said: str):
    """Send the answer, then say in plain words what it did (SAID); a refusal (already answered,
    expired, the text changed) shows on the request's page."""
    try:
        answered = api("POST", _path(request_id, action), json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return _request_page(request_id, exc.status, exc.text() or _("We could not save your answer."))
    flash(_(said, name=answered["department"]["display"]), "status")
    return see_other("portal.sharing_request", request_id=request_id)


@bp.post("/portal/sharing-requests/<request_id>/approve")
def approve_sharing_request(request_id: str):
    """Say yes: the department gets the consent whose text the page showed."""
    need(CONSENT_SCOPE)
    sha = request.form.get("text_sha256", "")
    if not SHA256.match(sha):  # a yes is to the text shown, always: without its hash, nothing is sent
        return _request_page(request_id, 400, _(FORM_EXPIRED))
    return _answer(request_id, "/approve", {"text_sha256": sha}, SAID_YES)


@bp.post("/portal/sharing-requests/<request_id>/decline")
def decline_sharing_request(request_id: str):
    """Say no: nothing is shared; the department is told."""
    need(CONSENT_SCOPE)
    return _answer(request_id, "/decline", {}, SAID_NO)
