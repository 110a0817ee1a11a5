"""No access token, refresh token or ID token is ever written to a log line at INFO or above, whole
or by its signature (a JWT's third part, which alone names it).

The gateway's app (real sign-ins through its pages, real tokens from its token endpoint) and the
exchange's (tokens it validates) are driven in this process, so every line their loggers write
is captured: a patient's sign-in, a refresh, a refresh token used twice, an API call forwarded
upstream, a revocation and the calls after it, a department's client credentials, a member of
staff's sign-in with the second step and their refresh, and tokens refused for being tampered
with, expired, revoked or of the wrong kind. Each line is read as its message, its record's
fields and as the JSON line the processes write (services.common.observability)."""
from __future__ import annotations

import logging
import time

import pytest

from gateway import storage
from services.common.observability import TraceIds, log_formatter
from tests.support.gateway import bearer, department, department_token, make_patient, refresh, sign_in
from tests.support.staff import console_directory, gateway_staff_store, person, refresh_staff, staff_tokens
from tests.support.tokens import revoked

TOKEN_KINDS = ("access_token", "refresh_token", "id_token")


class Issued:
    """The tokens a test was given, and what of each must never be logged."""

    def __init__(self):
        self.tokens: list[str] = []

    def add(self, *answers: dict) -> dict:
        for answer in answers:
            self.tokens += [answer[k] for k in TOKEN_KINDS if answer.get(k)]
        return answers[-1] if answers else {}

    def secrets(self) -> set[str]:
        """Each token whole, and a JWT's signature part alone."""
        found = set(self.tokens)
        found |= {t.split(".")[2] for t in self.tokens if t.count(".") == 2}
        assert all(len(s) >= 20 for s in found)  # no short string that any line could hold by chance
        return found


def _leaks(records: list[logging.LogRecord], secrets: set[str]) -> list[str]:
    """The lines at INFO or above of RECORDS holding one of SECRETS (as its message, its fields or
    its JSON line)."""
    json_line, trace_ids = log_formatter("test", "json"), TraceIds()
    found = []
    for record in records:
        if record.levelno < logging.INFO:
            continue
        trace_ids.filter(record)
        seen = " ".join((record.getMessage(), str(record.__dict__), json_line.format(record)))
        found += [f"{record.name}: {record.getMessage()[:200]}" for s in secrets if s in seen]
    return found


def _said(records) -> list[logging.LogRecord]:
    return [r for r in records if r.levelno >= logging.INFO]


@pytest.fixture
def clock(monkeypatch):
    """The gateway's clock, moved by the test (a second step's code is of its time)."""
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


def test_no_line_at_info_or_above_holds_a_token_the_gateway_issued(client, engine, upstream, clock, caplog):
    issued = Issued()
    with caplog.at_level(logging.DEBUG):
        # a patient signs in, calls an API, refreshes; the old refresh token is tried again
        make_patient(engine)
        first = issued.add(sign_in(client, engine))
        assert client.get("/patient/v1/records", headers=bearer(first["access_token"])).status_code == 200
        renewed = refresh(client, first["refresh_token"])
        assert renewed.status_code == 200, renewed.get_data(as_text=True)
        second = issued.add(renewed.json)
        assert refresh(client, first["refresh_token"]).status_code == 400  # rotated: used once only
        # the patient signs out: both tokens revoked, then refused
        for token, hint in ((second["refresh_token"], "refresh_token"), (second["access_token"], "access_token")):
            done = client.post("/oauth/revoke", data={"token": token, "token_type_hint": hint,
                                                      "client_id": "phr-portal"})
            assert done.status_code == 200
        assert client.get("/patient/v1/records", headers=bearer(second["access_token"])).status_code == 401
        assert refresh(client, second["refresh_token"]).status_code == 400
        # a token tampered with, and a refresh token sent as an access token
        tampered = second["access_token"][:-4] + ("AAAA" if not second["access_token"].endswith("AAAA") else "BBBB")
        issued.tokens.append(tampered)
        assert client.get("/patient/v1/records", headers=bearer(tampered)).status_code == 401
        assert client.get("/patient/v1/records", headers=bearer(second["refresh_token"])).status_code == 401
        # a department's client credentials, a call forwarded with them, and their revocation
        creds = department(engine, "radiology")
        dept = department_token(client, creds)
        issued.tokens.append(dept)
        assert client.get("/fhir/Patient/p-1", headers=bearer(dept)).status_code == 200
        assert client.post("/oauth/revoke", data={"token": dept},
                           auth=(creds["client_id"], creds["client_secret"])).status_code == 200
        assert client.get("/fhir/Patient/p-1", headers=bearer(dept)).status_code == 401
        # a member of staff signs in with the second step, calls an API, refreshes
        directory, staff = console_directory(engine), gateway_staff_store(engine)
        account, secret, _codes = person(staff, directory, clock, username="q.one", roles=("quality",))
        console = issued.add(staff_tokens(client, account.username, secret, clock))
        assert client.get("/staff/v1/reports/mine", headers=bearer(console["access_token"])).status_code == 200
        again = refresh_staff(client, console["refresh_token"])
        assert again.status_code == 200, again.get_data(as_text=True)
        issued.add(again.json)
    assert len(upstream.requests) >= 2  # the calls went through to the services' stand-in
    assert len(_said(caplog.records)) >= 10  # one access line per request at least: there are lines to read
    assert _leaks(caplog.records, issued.secrets()) == []


def test_no_line_at_info_or_above_holds_a_token_a_service_was_sent(service_apps, mint, caplog):
    exchange = service_apps.exchange()
    client = exchange.client
    patient = mint.patient("p-1", scope="patient/*.rs patient/Report.c", sub="acct-p-1")
    quality = mint.staff(dept="primary-care", roles=("quality",), scope="user/Report.cruds user/Measure.rs")
    expired = mint.patient("p-1", scope="patient/*.rs", lifetime=-120)
    tampered = {"Authorization": patient["Authorization"][:-4] + "AAAA"}
    if tampered == patient:
        tampered = {"Authorization": patient["Authorization"][:-4] + "BBBB"}
    issued = Issued()
    issued.tokens += [h["Authorization"].split(" ", 1)[1] for h in (patient, quality, expired, tampered)]
    with caplog.at_level(logging.DEBUG):
        filed = client.post("/patient/v1/reports", headers=patient, json={
            "kind": "system-problem", "text": "The page would not load.", "about": {"page": "/portal"}})
        assert filed.status_code == 201, filed.get_json()
        assert client.get("/staff/v1/reports", headers=quality).status_code == 200
        assert client.get("/staff/v1/measures/exchange", headers=quality).status_code == 200
        assert client.get("/patient/v1/reports", headers=expired).status_code == 401
        assert client.get("/patient/v1/reports", headers=tampered).status_code == 401
        assert client.get("/patient/v1/reports", headers=quality).status_code == 403
        with revoked(exchange.app, patient):
            assert client.get("/patient/v1/reports", headers=patient).status_code == 401
        assert client.post("/staff/v1/reports/r-1", headers=quality, data=b"{not json",
                           content_type="application/json").status_code == 422
    assert len(_said(caplog.records)) >= 8
    assert _leaks(caplog.records, issued.secrets()) == []


def test_a_process_logging_at_debug_still_writes_no_token_authlib_issues():
    """Authlib logs each token it issues at DEBUG ("Issue token %r to %r"); a process that runs at
    LOG_LEVEL=DEBUG keeps authlib's loggers at INFO (services/common/observability.py)."""
    import subprocess
    import sys
    code = ("import logging; from services.common.observability import configure_logging; "
            "configure_logging('DEBUG', 'gateway'); "
            "logging.getLogger('authlib.oauth2.rfc6749.grants.authorization_code').debug('Issue token %r', 'eyJ.secret.sig'); "
            "logging.getLogger('authlib.oauth2').info('an authlib line at INFO'); "
            "logging.getLogger('gateway.app').debug('our own debug line')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "secret" not in done.stderr and "our own debug line" in done.stderr
    assert "an authlib line at INFO" in done.stderr
