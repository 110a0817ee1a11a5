"""The SMTP server is down for a while: no notice is lost, and none is sent twice.

The shared stack tries again after 0.2 s, doubling to at most 1 s (tests/support/mail.py
notice_env), so eight seconds down here spans as many failed tries as about eight minutes with a
one-minute cap would; the defaults (5 s doubling to 30 min, 60 tries, about a day) cover an
outage of a minute with room to spare."""
import time

from tests.support.notices import break_the_glass, notices_of, spanish_patient_by_email

DOWN_SECONDS = 8.0


def _emergency_notice(stack, headers) -> dict:
    return next(n for n in notices_of(stack, headers) if n["kind"] == "break-glass")


def test_a_notice_sent_while_the_smtp_server_is_down_arrives_once_when_it_is_back(stack, mail):
    who, headers, address = spanish_patient_by_email(stack, mail)
    mail.stop()
    try:
        break_the_glass(stack, who["patient"], "Llegó inconsciente")
        time.sleep(DOWN_SECONDS)
        waiting = _emergency_notice(stack, headers)["delivery"]
        assert waiting and waiting[0]["status"] == "pending", waiting
        assert waiting[0]["attempts"] >= 4 and waiting[0]["text"] == "Todavía intentamos enviarle esto por correo electrónico."
        assert len(mail.to(address)) == 1  # the code only
    finally:
        mail.start()
    mail.wait_for(address, 2, timeout=30)
    deadline = time.monotonic() + 10
    while _emergency_notice(stack, headers)["delivery"][0]["status"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.5)  # past the longest backoff: a copy would have come by now
    assert len(mail.to(address)) == 2
