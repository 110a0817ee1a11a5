"""The words of notices sent outside the app: every kind in English and Spanish reads at grade 8 or
below, names no one and nothing, and the HTML part says its language and has a heading and a link."""
import pytest

from contracts.accessibility.model import Context, Node
from contracts.accessibility.rules import plain_language
from services.exchange.domain import notices as n
from services.exchange.service_layer.delivery import compose, compose_code

KINDS = sorted({kind for kinds in n.TOPICS.values() for kind in kinds})


def _contact(channel: str, lang: str) -> n.Contact:
    address = "ana@example.org" if channel == n.EMAIL else "+34600123456"
    return n.Contact("c-1", "p-1", "a-1", channel, address, lang, None, None, None, 0)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_notice_reads_plainly_and_holds_only_that_something_happened(kind, lang):
    mail = compose("d-1", kind, n.EMAIL, _contact(n.EMAIL, lang), "https://portal.example.org")
    text = mail.text.replace("https://portal.example.org/portal/notifications", "")
    said = Node("$.text", "summary", f"{mail.subject}. {text}")
    assert [str(v) for v in plain_language(said, Context(lang, lang))] == []
    assert f'<html lang="{lang}">' in mail.html and "<h1>" in mail.html and "<title>" in mail.html
    assert '<a href="https://portal.example.org/portal/notifications">' in mail.html
    sms = compose("d-1", kind, n.SMS, _contact(n.SMS, lang), "https://portal.example.org")
    assert sms.html is None and len(sms.text) <= 160 and sms.to == "+34600123456"


def test_the_break_glass_email_says_only_what_the_issue_asks():
    mail = compose("d-1", "break-glass", n.EMAIL, _contact(n.EMAIL, "en"), "https://p.example.org")
    assert mail.text.startswith("Your record was opened in an emergency. Sign in to see who and why.")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_code_message_reads_plainly(lang):
    message = compose_code(_contact(n.EMAIL, lang), "123456")
    assert "123456" in message.text and f'<html lang="{lang}">' in message.html
    assert [str(v) for v in plain_language(Node("$.text", "summary", message.text), Context(lang, lang))] == []


def test_each_code_goes_out_under_an_id_of_its_own_so_a_provider_never_drops_a_resent_one():
    first, again = (compose_code(_contact(n.SMS, "en"), code) for code in ("123456", "654321"))
    assert first.id != again.id and "123456" not in first.id
