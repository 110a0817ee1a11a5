"""Notices that reach a patient outside the app, through the whole stack: a break-the-glass claim
on a Spanish-speaking patient who chose email is one Spanish email with no health information
(tests/support/mail.py runs the SMTP server), and the in-app list says it was delivered."""
import time

import requests

from tests.support.client import demo_patient_headers
from tests.support.notices import PREFS, break_the_glass, notices_of, spanish_patient_by_email

REASON = "Llegó inconsciente, posible sobredosis"


def _latest_emergency(stack, headers, until, timeout=30.0) -> dict:
    """The newest break-the-glass notice once UNTIL(notice) holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = [n for n in notices_of(stack, headers) if n["kind"] == "break-glass"]
        if found and until(found[0]):
            return found[0]
        assert time.monotonic() < deadline, found[:1]
        time.sleep(0.2)


def test_break_the_glass_on_a_spanish_patient_who_chose_email_is_one_spanish_email_without_health_information(
        stack, mail):
    who, headers, address = spanish_patient_by_email(stack, mail)
    break_the_glass(stack, who["patient"], REASON)
    (notice,) = mail.wait_for(address, 2)[1:]  # the address's code came first
    assert notice["Content-Language"] == "es"
    assert notice["Subject"] == "Se abrió su registro en una emergencia"
    plain, html = (notice.get_body((part,)).get_content() for part in ("plain", "html"))
    assert "Inicie sesión para ver quién y por qué." in plain and f"{stack.gateway}/portal/notifications" in plain
    assert '<html lang="es">' in html
    for secret in ("Anexo", "annex", "er-", "sobredosis", "inconsciente", who["patient"], "ETREAT"):
        assert secret not in f"{notice['Subject']} {plain} {html}", secret
    shown = _latest_emergency(stack, headers, lambda n: n["delivery"] and n["delivery"][0]["status"] == "delivered")
    assert shown["delivery"] == [{"channel": "email", "status": "delivered", "attempts": 1,
                                  "text": "Se le envió por correo electrónico."}]
    time.sleep(1.0)  # a second copy would have come by now
    assert len(mail.to(address)) == 2


def test_an_smtp_server_that_refuses_the_first_two_tries_gets_the_notice_on_the_third_and_only_once(stack, mail):
    who, headers, address = spanish_patient_by_email(stack, mail)
    mail.refuse_next(2)
    refused_before = mail.inbox.refused
    break_the_glass(stack, who["patient"], REASON)
    mail.wait_for(address, 2, timeout=60)
    assert mail.inbox.refused - refused_before == 2
    shown = _latest_emergency(stack, headers, lambda n: n["delivery"] and n["delivery"][0]["status"] == "delivered")
    assert shown["delivery"][0]["attempts"] == 3
    time.sleep(1.5)  # past the longest backoff: another try would have sent a copy
    assert len(mail.to(address)) == 2


def test_the_gateway_lets_only_a_token_that_may_choose_read_or_change_the_choices(stack):
    creds = stack.credentials()
    index = next(i for i, p in enumerate(creds["patients"]) if p["language"].startswith("es"))
    _who, read_only = demo_patient_headers(stack, index)  # patient/*.rs without patient/Communication.u
    prefs = f"{stack.gateway}{PREFS}"
    # A patient's own app holds patient/*.rs: the addresses are not for it to read.
    for method, url, body in (("get", prefs, None), ("put", prefs, {"choices": {"sharing": "in-app"}}),
                              ("post", f"{prefs}/addresses", {"channel": "email", "address": "x@example.org"})):
        refused = requests.request(method, url, json=body, headers=read_only, timeout=30)
        assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert requests.get(prefs, timeout=30).status_code == 401
    assert requests.get(f"{prefs}/addresses", headers=read_only, timeout=30).status_code in (404, 405)
