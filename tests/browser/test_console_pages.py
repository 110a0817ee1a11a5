"""The staff console's pages and its sign-in (gateway/portal/console.py, gateway/authz/staff_login.py)
in English and Spanish: axe-core finds no WCAG 2.2 A/AA violation on any of them (signed out,
joining, the login page, the enrolment of the second step, the recovery codes, the second-factor
page, the console and its invite form, each with its errors), <html lang> matches; and a member
of staff signs in and out with the keyboard alone."""
from __future__ import annotations

import re

import pyotp
import pytest

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.staff import PASSWORD, join_over_http
from tests.support.staff import invite_over_http as invite

LOCALES = {"en": "en-US", "es": "es-ES"}


def check(page, lang: str, name: str, problems: list[str]) -> None:
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    screenshot(page, f"console-{name}-{lang}")


def submit(page) -> None:
    with page.expect_navigation():
        page.locator("main button[type=submit]").last.click()


def submit_first(page) -> None:
    with page.expect_navigation():
        page.locator("main button[type=submit]").first.click()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_console_page_passes_axe_in_each_language(browser, stack, lang):
    code = invite(stack, ["admin", "clinician"], f"Ada {lang}")
    username = f"ada.{lang}"
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    page, problems = context.new_page(), []
    gateway = stack.gateway
    try:
        page.goto(gateway + "/console/")
        check(page, lang, "signed-out", problems)
        page.goto(gateway + "/console/join")
        check(page, lang, "join", problems)
        submit(page)
        assert page.locator("#code-error[role=alert]").is_visible()
        check(page, lang, "join-errors", problems)
        page.fill("#code", code)
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        submit(page)
        check(page, lang, "joined", problems)

        page.goto(gateway + "/console/signin")
        check(page, lang, "login", problems)
        page.fill("#username", username)
        page.fill("#password", "not the password")
        submit(page)
        assert page.locator("#login-error[role=alert]").is_visible()
        check(page, lang, "login-error", problems)
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        submit(page)
        check(page, lang, "enrol", problems)
        secret = page.locator("#secret code").inner_text().replace(" ", "")
        page.fill("#code", "abc")
        submit(page)
        assert page.locator("#code-error[role=alert]").is_visible()
        check(page, lang, "enrol-error", problems)
        page.fill("#code", pyotp.TOTP(secret).now())
        submit(page)
        codes = [c.inner_text() for c in page.locator("ol.codes code").all()]
        assert len(codes) == 10
        check(page, lang, "recovery-codes", problems)
        submit(page)
        page.wait_for_url("**/console/")
        check(page, lang, "home-admin", problems)
        page.locator("main button[type=submit]").last.click()
        page.wait_for_load_state()
        assert page.locator("#display_name-error[role=alert]").is_visible()
        check(page, lang, "invite-errors", problems)
        page.fill("#display_name", "Dr. Paz")
        page.locator("#role-clinician").check()
        submit(page)
        assert re.fullmatch(r"[A-Z0-9-]{14}", page.locator("p.secret code").inner_text())
        check(page, lang, "invited", problems)

        enrolled_by_http(stack, f"colleague.{lang}", ["clinician"], name=f"Colleague {lang}")
        page.goto(gateway + "/console/")
        with page.expect_navigation():
            page.locator("main a", has_text=f"Colleague {lang}").click()
        check(page, lang, "person", problems)
        page.locator("#role-clinician").uncheck()
        submit_first(page)
        assert page.locator("#roles-error[role=alert]").is_visible()
        check(page, lang, "person-roles-error", problems)
        submit(page)  # the account's form, without saying "sure"
        assert page.locator("#sure-error[role=alert]").is_visible()
        check(page, lang, "person-disable-error", problems)

        page.goto(gateway + "/console/")
        with page.expect_navigation():
            page.locator("nav button").click()  # sign out
        page.goto(gateway + "/console/signin")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        submit(page)
        check(page, lang, "second-factor", problems)
        page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        submit(page)
        assert page.locator("#code-error[role=alert]").is_visible()
        check(page, lang, "second-factor-error", problems)
        page.fill("#code", codes[0])
        submit(page)
        page.wait_for_url("**/console/")
    finally:
        context.close()
    assert problems == []


def enrolled_by_http(stack, username: str, roles: list[str], name: str = "Dr. Keys") -> list[str]:
    """A member of staff who joined and set up the second step over plain HTTP; their recovery codes."""
    return join_over_http(stack, username, roles, name).codes


def test_a_member_of_staff_signs_in_and_out_with_the_keyboard_alone(browser, stack):
    codes = enrolled_by_http(stack, "dr.keys", ["clinician"])
    context = browser.new_context(locale="en-US", viewport={"width": 1000, "height": 800})
    page = context.new_page()
    keys = Keyboard(page)
    try:
        page.goto(stack.gateway + "/console/")
        keys.tab_to("Sign in")
        keys.go()
        page.wait_for_url("**/oauth/authorize**")
        every_control_is_labelled(page)
        keys.tab_to(id="username"); keys.type("dr.keys")
        keys.tab_to(id="password"); keys.type(PASSWORD)
        keys.go()
        every_control_is_labelled(page)
        assert page.locator("#code").get_attribute("aria-describedby") == "code-hint"
        keys.tab_to(id="code"); keys.type("WRONG-CODE-XXXX")
        keys.go()
        assert page.locator("#code-error").get_attribute("role") == "alert"
        assert page.locator("#code").get_attribute("aria-describedby").split() == ["code-hint", "code-error"]
        keys.tab_to(id="code"); keys.type(codes[0])
        keys.go()
        page.wait_for_url("**/console/")
        assert "Signed in as Dr. Keys." in page.locator("header").inner_text()
        keys.tab_to("Sign out")
        keys.go()
        assert "Signed in as" not in page.locator("header").inner_text()
    finally:
        context.close()
