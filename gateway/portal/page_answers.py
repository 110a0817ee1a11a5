"""Asking people how a page went, lightly: "Was this page easy to understand?" on each portal page.

A small form at the foot of the page (base.html), no script: yes or no, and an optional short
comment. It is never required and never blocks anything: sending it only comes back to the page
with a thank-you line. What is kept is the page's route name (a closed set, so a URL with a
record's id never lands in the table), the page's language, the answer, the comment cut to
``COMMENT_LIMIT`` and the day; never the account, the patient or the address.

The counts per page, language and answer are the gateway's measure ``phr_page_answers``
(services/common/measures.py); the comments are shown only to quality staff, never with who wrote
them.

So that nobody can stuff the counts, a browser session's answers to one page are counted about
``PER_PAGE_A_DAY`` times a day, and one address's about ``PER_ADDRESS_AN_HOUR`` times an hour
(limits of gateway/proxy/ratelimit.py, shared by every gateway process when Redis is configured,
keyed by a hash of the session's form token, never stored). An answer over the limit, or sent
while the shared store is away, is thanked like any other but not counted: the form never
refuses or slows anyone.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, session

from gateway import schema as t
from gateway.portal.views import bp, local_path
from gateway.proxy.ratelimit import Limiter, Limits, LimitsUnavailable
from gateway.storage import TableStore
from services.common.i18n import SUPPORTED, N_, _, current_language
from services.common.measures import Measure

log = logging.getLogger(__name__)

#: The portal's pages that ask, by route name (the label ``page``), and only these.
PAGES = ("home", "activate", "records", "sharing", "access", "notifications", "settings",
         "signout", "corrections", "ask_correction", "correction", "sharing_requests",
         "sharing_request")
ANSWERS = ("yes", "no")
COMMENT_LIMIT = 300
THANKS = N_("Thank you for your answer. It helps us make these pages clearer.")
HELP = "Answers to 'Was this page easy to understand?' on the portal, by page, language and answer"
PER_PAGE_A_DAY = 3  # one session's answers to one page
PER_ADDRESS_AN_HOUR = 120  # one address's (a clinic's shared network: many people, so generous)


class PageAnswers(TableStore):
    """The answers, as counts and as comments; nothing that names who answered."""

    def add(self, page: str, language: str, answer: str, comment: str | None, day: dt.date) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(t.page_answers).values(
                id=secrets.token_hex(16), page=page, language=language, answer=answer,
                comment=(comment or "").strip()[:COMMENT_LIMIT] or None, day=day.isoformat()))

    def counts(self) -> list[tuple[str, str, str, int]]:
        """(page, language, answer, how many), for every combination answered at least once."""
        c = t.page_answers.c
        query = (sa.select(c.page, c.language, c.answer, sa.func.count())
                 .group_by(c.page, c.language, c.answer).order_by(c.page, c.language, c.answer))
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def comments(self, limit: int = 50) -> list[dict]:
        """The newest comments with their page, language, answer and day (never a person)."""
        c = t.page_answers.c
        query = (sa.select(c.page, c.language, c.answer, c.comment, c.day)
                 .where(c.comment.is_not(None)).order_by(c.day.desc(), c.id).limit(limit))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]


def measures(store: PageAnswers):
    """The provider of ``phr_page_answers{page,language,answer}`` over STORE."""
    def page_answers():
        return [Measure("phr_page_answers", HELP, n, {"page": page, "language": lang, "answer": answer})
                for page, lang, answer, n in store.counts()]
    return page_answers


def limits(store: Limits) -> tuple[Limiter, Limiter]:
    """The limits answers are counted under, in STORE: per session and page, per address."""
    return (store.limiter("page-answer", PER_PAGE_A_DAY, 86400),
            store.limiter("page-answer-address", PER_ADDRESS_AN_HOUR, 3600))


def _within_limits(page: str) -> bool:
    """Spend one answer of this session's on PAGE and one of the address's; False when either is
    spent up. The session is known by its form token (views.py checks it on every post)."""
    by_session, by_address = current_app.extensions["page_answer_limits"]
    mine = hashlib.sha256(str(session.get("csrf", "")).encode()).hexdigest()[:32]
    try:
        if by_session.take(f"{mine}:{page}") != 0:
            return False
        over = by_address.take(request.remote_addr or "?") != 0
    except LimitsUnavailable:  # fail closed, quietly: not counted (the limit logs the outage)
        return False
    if over:
        # behind a proxy PHR_TRUSTED_PROXIES does not count, every answer comes from one address,
        # and the counts would quietly fall short: say so where an operator looks
        log.warning("page answers from one address over %d an hour are not counted", PER_ADDRESS_AN_HOUR)
        return False
    return True


def asks(endpoint: str | None) -> str | None:
    """The page label of the portal's route ENDPOINT when its page asks, else None."""
    if endpoint and endpoint.startswith("portal.") and endpoint[len("portal."):] in PAGES:
        return endpoint[len("portal."):]
    return None


@bp.post("/portal/page-answer")
def page_answer():
    """Keep one answer to "Was this page easy to understand?" and go back to the page."""
    form = request.form
    back = local_path(form.get("next"), "/")
    page, answer = form.get("page"), form.get("answer")
    if page in PAGES and answer in ANSWERS:
        if _within_limits(page):
            lang = form.get("lang") if form.get("lang") in SUPPORTED else current_language().used
            current_app.extensions["gateway"].stores.page_answers.add(
                page, lang, answer, form.get("comment"), dt.date.today())
        flash(_(THANKS), "status")  # over the limit too: never a reason to stop or to try again
    # a send without an answer (or with a made-up page) changes nothing and blocks nothing
    return redirect(back, 303)
