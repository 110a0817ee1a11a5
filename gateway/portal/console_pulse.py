"""The staff's weekly pulse in the console (gateway/portal/pulse.py): shown on the home page
until answered or put off for the week; never required, never in the way of work.

Unlike the console's other forms it calls no API, so it checks itself that the session's
tokens still stand (not revoked by a sign-out, a disabled account or department, not expired
beyond their refresh): a copy of an ended session's cookie answers nothing for anyone."""
from __future__ import annotations

from flask import flash, redirect, request, session

from gateway import storage
from gateway.portal.client import SignedOut, claims_of
from gateway.portal.console import bp, me, page, stores
from gateway.portal.pulse import QUESTIONS, this_week
from services.common.i18n import N_, _

THANKS = N_("Thank you. Your answer is kept without your name.")
LATER = N_("We will not ask again this week.")
NOT_AN_ANSWER = N_("We did not understand this answer. Load the page again and choose one of the answers.")


def _signed_in() -> dict:
    """The session's staff claims while its tokens stand, else SignedOut (the session forgotten)."""
    tok = me()
    jti = claims_of(tok.get("access") or "").get("jti") if tok else None
    record = stores().tokens.token_by_jti(str(jti)) if jti else None
    now = storage.now()
    alive = record is not None and record.staff_id == tok.get("sub") and not record.access_revoked and (
        record.expires_at > now or (not record.refresh_revoked and (record.refresh_expires_at or 0) > now))
    if not alive:
        session.pop("staff", None)
        raise SignedOut(401)
    return tok


@bp.post("/console/pulse")
def pulse():
    """Keep this week's pulse (or "not this week") and go back to the home page."""
    tok = _signed_in()
    form = request.form
    if any(form.get(q) and form.get(q) not in QUESTIONS[q][1] for q in QUESTIONS):
        return page("error.html", 400, title=_("Something went wrong"), message=_(NOT_AN_ANSWER))
    answers = {q: form.get(q) or None for q in QUESTIONS}
    later = form.get("later") == "yes" or not any(answers.values())
    if tok.get("sub") and tok.get("dept"):
        if later:
            answers = dict.fromkeys(QUESTIONS)
        if stores().pulse.answer(tok["sub"], tok["dept"], this_week(), **answers):
            flash(_(LATER if later else THANKS), "status")
    return redirect("/console/", 303)
