"""The Notices page in English and Spanish: add an email address, type the code
the stack sent to the real SMTP server, choose email for a topic; every state of the page passes
axe (WCAG 2.2 A/AA) and reads at grade 8 or below."""
import uuid

import pytest

from tests.browser.conftest import axe_violations, reading_level_violations, screenshot, sign_in
from tests.support.notices import code_in

LOCALES = {"en": "en-US", "es": "es-ES"}
SAVED = {"en": "Your choices are saved.", "es": "Sus opciones están guardadas."}


def _check(page, lang: str, name: str, problems: list[str]) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        problems.append(f"{name}: <html lang> is not {lang}")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    problems += [f"{name}: reading level: {v}" for v in reading_level_violations(page, lang)]
    screenshot(page, f"{name}-{lang}")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_patient_adds_and_confirms_an_email_address_and_chooses_it_for_sharing_notices(
        browser, stack, shown_patient, mail, lang):
    # axe-core runs as a script in the page; the page itself has none (test_without_javascript.py)
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    page, problems = context.new_page(), []
    address = f"{lang}-{uuid.uuid4().hex[:8]}@example.org"
    try:
        sign_in(page, stack.gateway, shown_patient["username"], shown_patient["password"])
        page.goto(stack.gateway + "/portal/notices")
        _check(page, lang, "notices-start", problems)

        page.fill("#address-email", "not an address")
        page.locator("form[aria-labelledby=email-heading] button[type=submit]").click()
        assert page.locator("#address-email-error[role=alert]").is_visible()
        _check(page, lang, "notices-address-error", problems)

        page.fill("#address-email", address)
        page.locator("form[aria-labelledby=email-heading] button[type=submit]").click()
        page.wait_for_url("**/portal/notices")
        assert address in page.locator("main").inner_text()
        _check(page, lang, "notices-waiting-for-code", problems)

        code_box = page.locator("main input[autocomplete=one-time-code]")
        code_box.fill("000000" if code_in(mail.wait_for(address)[-1]) != "000000" else "111111")
        code_box.locator("xpath=ancestor::form").locator("button[type=submit]").click()
        assert page.locator("main [role=alert]").first.is_visible()
        _check(page, lang, "notices-wrong-code", problems)

        code_box = page.locator("main input[autocomplete=one-time-code]")
        code_box.fill(code_in(mail.wait_for(address)[-1]))
        code_box.locator("xpath=ancestor::form").locator("button[type=submit]").click()
        page.wait_for_url("**/portal/notices")
        assert page.locator("main input[autocomplete=one-time-code]").count() == 0

        page.check("#topic-sharing-email")
        page.locator("form[aria-labelledby=choices-heading] button[type=submit]").click()
        page.wait_for_url("**/portal/notices")
        assert SAVED[lang] in page.locator("[role=status]").inner_text()
        assert page.is_checked("#topic-sharing-email") and page.is_checked("#topic-emergency-in-app")
        _check(page, lang, "notices-saved", problems)
    finally:
        context.close()
    assert problems == []
