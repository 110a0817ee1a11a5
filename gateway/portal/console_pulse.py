"""The staff's weekly pulse in the console (gateway/portal/pulse.py): shown on the home page
until answered or put off for the week; never required, never in the way of work."""
from __future__ import annotations

from flask import flash, redirect, request

from gateway.portal.console import bp, me, stores
from gateway.portal.pulse import QUESTIONS, this_week
from gateway.portal.client import SignedOut
from services.common.i18n import N_, _

THANKS = N_("Thank you. Your answer is kept without your name.")
LATER = N_("We will not ask again this week.")


@bp.post("/console/pulse")
def pulse():
    """Keep this week's pulse (or "not this week") and go back to the home page."""
    tok = me()
    if tok is None:
        raise SignedOut(401)
    form = request.form
    answers = {q: form.get(q) if form.get(q) in QUESTIONS[q][1] else None for q in QUESTIONS}
    later = form.get("later") == "yes" or not any(answers.values())
    if tok.get("sub") and tok.get("dept"):
        if later:
            answers = dict.fromkeys(QUESTIONS)
        if stores().pulse.answer(tok["sub"], tok["dept"], this_week(), **answers):
            flash(_(LATER if later else THANKS), "status")
    return redirect("/console/", 303)
