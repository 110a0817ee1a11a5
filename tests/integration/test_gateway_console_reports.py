"""The console's report form (gateway/portal/console_reports.py) over real HTTP, on SQLite and
PostgreSQL, refusing what it must before anything is sent on: a signed-out browser goes to sign
in, an oversized form is a 413, and neither claims the form's one-time token (the only thing the
gateway keeps of a report; the report itself is the exchange's, which no upstream serves here)."""
from __future__ import annotations

import re
import secrets

import pytest
import requests
import sqlalchemy as sa

from gateway import schema
from tests.support.staff import console_session, person


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def claimed(gw) -> int:
    with gw.app.extensions["gateway"].engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.form_sends)).scalar()


def report(token: str, text: str, anonymous: bool) -> dict:
    return {"csrf_token": token, "once": secrets.token_urlsafe(24), "kind": "safety", "text": text,
            **({"anonymous": "yes"} if anonymous else {})}


def test_a_signed_out_browser_is_sent_to_sign_in_and_claims_nothing(gw, clock):
    s = requests.Session()
    join = s.get(gw.url + "/console/join", timeout=30)  # a console page signed out: a form token, no one
    sent = s.post(gw.url + "/console/report", data=report(csrf(join.text), "A near miss.", False),
                  allow_redirects=False, timeout=30)
    assert sent.status_code == 303 and sent.headers["Location"].rstrip("/").endswith("/console")
    assert claimed(gw) == 0


@pytest.mark.parametrize("anonymous", [False, True])
def test_an_oversized_report_is_refused_and_claims_nothing(gw, clock, anonymous):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    sent = s.post(gw.url + "/console/report", data=report(csrf(home.text), "x" * (128 * 1024), anonymous),
                  timeout=30)
    assert sent.status_code == 413 and claimed(gw) == 0
    # the same form at its size goes on: its token is claimed, and the unreachable exchange answered
    sent = s.post(gw.url + "/console/report", data=report(csrf(home.text), "A near miss.", anonymous), timeout=30)
    assert sent.status_code == 502 and claimed(gw) == 1
