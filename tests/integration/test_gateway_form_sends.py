"""The console's one-time form tokens (gateway/portal/once.py) on SQLite and PostgreSQL: of many
sends of one form at the same moment exactly one is first, and all later ones find where it went."""
from __future__ import annotations

import threading

import pytest

from gateway.app import create_app
from gateway.portal.once import new_token


@pytest.fixture
def sends(tmp_path, database_url):
    base = "http://gateway.test"
    app = create_app({"TESTING": True, "var_dir": tmp_path, "database_url": database_url, "issuer": base,
                      "audience": base, "jwks_url": base + "/oauth/jwks", "REVOCATION_REFRESH_SECONDS": 0.0,
                      "peers": {n: "http://127.0.0.1:9" for n in ("gateway", "records", "consent", "exchange")}})
    yield app.extensions["gateway"].stores.form_sends
    app.extensions["gateway"].engine.dispose()


def test_of_eight_sends_of_one_form_at_once_exactly_one_is_first(sends):
    token, barrier, answers = new_token(), threading.Barrier(8), []

    def send():
        barrier.wait()
        answers.append(sends.claim(token, "staff-1"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(first for first, _went in answers) == [False] * 7 + [True]
    sends.done(token, "/console/requests/req-1")
    assert sends.claim(token, "staff-1") == (False, "/console/requests/req-1")
    assert sends.claim(token, "staff-2") == (False, None)  # another person's token leads nowhere


def test_a_released_token_may_be_sent_again(sends):
    token = new_token()
    assert sends.claim(token, "staff-1") == (True, None)
    sends.release(token)
    assert sends.claim(token, "staff-1") == (True, None)
