"""Every portal page, signed out and signed in, in English and Spanish: axe-core finds no WCAG 2.2
A/AA violation, <html lang> matches the content, the main text reads at grade 8 or below."""
import pytest

from gateway.portal.vocabulary import unknown_codes

from tests.browser.conftest import (axe_violations, reading_level_violations, screenshot)

LOCALES = {"en": "en-US", "es": "es-ES"}
WRONG_LOGIN = {"en": "The username or password is not right.",
               "es": "El nombre de usuario o la contraseña no son correctos."}


def check(page, lang: str, name: str, problems: list[str]) -> None:
    """Check the page now shown; add what is wrong to PROBLEMS; save its screenshot."""
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    problems += [f"{name}: reading level: {v}" for v in reading_level_violations(page, lang)]
    screenshot(page, f"{name}-{lang}")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_page_passes_axe_and_reads_plainly_in_each_language(browser, stack, shown_patient, lang):
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    page, problems = context.new_page(), []
    gateway = stack.gateway
    try:
        for name, path in (("home", "/"), ("activate", "/portal/activate"),
                           ("settings", "/portal/settings")):
            page.goto(gateway + path)
            check(page, lang, name, problems)
        page.goto(gateway + "/portal/activate")
        page.locator("form[action=\"/portal/activate\"] button[type=submit]").click()
        assert page.locator("#code-error[role=alert]").is_visible()
        check(page, lang, "activate-errors", problems)

        page.goto(gateway + "/portal/signin")
        check(page, lang, "sign-in", problems)
        page.fill("#username", shown_patient["username"])
        page.fill("#password", "not the password")
        page.locator("main button[type=submit]").click()
        assert WRONG_LOGIN[lang] in page.locator("#password-error").inner_text()
        check(page, lang, "sign-in-error", problems)
        page.fill("#username", shown_patient["username"])
        page.fill("#password", shown_patient["password"])
        page.locator("main button[type=submit]").click()
        check(page, lang, "allow", problems)
        page.locator("button[value=allow]").click()
        page.wait_for_url("**/portal/records")

        for name, path in (("records", "/portal/records"), ("sharing", "/portal/sharing"),
                           ("who-saw-my-data", "/portal/access"),
                           ("notifications", "/portal/notifications"),
                           ("notices", "/portal/notices"),
                           ("settings-signed-in", "/portal/settings"),
                           ("sign-out", "/portal/signout")):
            page.goto(gateway + path)
            check(page, lang, name, problems)
        host = stack.gateway.split("//")[1].split(":")[0]
        context.add_cookies([{"name": "phr_contrast", "value": "high", "domain": host, "path": "/"},
                             {"name": "phr_text", "value": "largest", "domain": host, "path": "/"}])
        page.goto(gateway + "/portal/sharing")
        check(page, lang, "sharing-high-contrast-largest-text", problems)
        if lang == "es":  # the small-phone view of the page patients open most
            page.set_viewport_size({"width": 360, "height": 740})
            page.goto(gateway + "/portal/records")
            screenshot(page, "records-es-phone")
    finally:
        context.close()
    assert problems == []


def test_the_forms_offer_only_codes_the_public_contract_knows():
    assert unknown_codes() == []
