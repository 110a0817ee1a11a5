"""A patient of a running stack who chose to get some notices by email (the e2e and fault tiers)."""
from __future__ import annotations

import contextlib
import io
import re
import time
import uuid

import requests

from launcher import cli as phr
from tests.support.client import PORTAL_SCOPE, Department, demo_patient_headers

PREFS = "/patient/v1/notification-preferences"
NOTICE_SCOPE = f"{PORTAL_SCOPE} patient/Communication.u"


def code_in(message) -> str:
    """The 6-digit code in an email (email.message.EmailMessage) or a text message body (dict)."""
    text = message["text"] if isinstance(message, dict) else message.get_body(("plain",)).get_content()
    return re.search(r"\b(\d{6})\b", text).group(1)


def spanish_patient_by_email(stack, mail, topics=("emergency",)) -> tuple[dict, dict, str]:
    """Sign in the demo's Spanish speaker, give them a fresh email address proved with the code the
    stack sends to MAIL, and choose email for TOPICS; return (who, headers, address)."""
    creds = stack.credentials()
    index = next(i for i, p in enumerate(creds["patients"]) if p["language"].startswith("es"))
    who, headers = demo_patient_headers(stack, index, scope=NOTICE_SCOPE)
    headers = {**headers, "Accept-Language": "es"}
    address = f"paciente-{uuid.uuid4().hex[:8]}@example.org"
    added = requests.post(f"{stack.gateway}{PREFS}/addresses", headers=headers, timeout=30,
                          json={"channel": "email", "address": address})
    assert added.status_code == 201, added.text
    code = code_in(mail.wait_for(address)[-1])
    verified = requests.post(f"{stack.gateway}{PREFS}/addresses/{added.json()['id']}/verify", headers=headers,
                             timeout=30, json={"code": code})
    assert verified.status_code == 200 and verified.json()["verified"], verified.text
    chosen = requests.put(f"{stack.gateway}{PREFS}", headers=headers, timeout=30,
                          json={"choices": {t: "email" for t in topics}})
    assert chosen.status_code == 200, chosen.text
    return who, headers, address


def emergency_department(stack) -> Department:
    """A new department that may break the glass, registered with `phr departments add` and known
    to every service: its claim is always a new one (a department's claim in force is answered
    again, not made twice, so the demo's emergency department could not claim twice)."""
    name, admin = f"er-{uuid.uuid4().hex[:6]}", stack.credentials()["admin"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = phr.main(["departments", "add", name, "--name", "en=Emergency annex", "--name", "es=Anexo de urgencias",
                         "--kind", "clinical", "--emergencies", "--gateway", stack.gateway,
                         "--client-id", admin["client_id"], f"--client-secret={admin['client_secret']}"])
    assert code == 0, out.getvalue()
    secret = re.search(r"^client_secret=(\S+)$", out.getvalue(), re.M).group(1)
    dept = Department(stack.gateway, name, secret)
    deadline = time.monotonic() + 30
    while True:  # consent learns the department from phr.directory.v1
        claim = dept.post("/consent/v1/decisions", json={"patient": "nobody", "actor": name, "purpose": "TREAT",
                                                         "classes": ["Observation"]})
        if claim.status_code == 200:
            return dept
        assert time.monotonic() < deadline, claim.text
        time.sleep(0.2)


def break_the_glass(stack, patient: str, reason: str) -> dict:
    """A new emergency department claims emergency access to PATIENT's records."""
    resp = emergency_department(stack).post("/consent/v1/break-glass", json={"patient": patient, "reason": reason})
    assert resp.status_code == 201, resp.text
    return resp.json()


def notices_of(stack, headers: dict) -> list[dict]:
    resp = requests.get(f"{stack.gateway}/patient/v1/notifications", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]
