"""The staff console's notices (/console/notices, gateway/portal/console_exchange.py): consents a
department received records under that ended. axe-core finds no WCAG 2.2 A/AA violation, empty
and filled, in English and Spanish; the main text reads at grade 8 or below; <html lang>
matches; a records officer gets a 403 page. The patient's receipt in the portal's notifications
names the department told and when, and passes the same checks."""
from __future__ import annotations

import time

import requests

from tests.browser.conftest import FULL_SCOPE, ask_for_records, console_page, sign_in
from tests.browser.test_console_work_pages import check
from tests.support.client import patient_login
from tests.support.staff import join_over_http


def _revoked_after_a_release(stack, departments, who: dict) -> str:
    """WHO (a demo patient) shares lab results with cardiology, cardiology's request is fulfilled
    and the patient stops sharing; the consent's id."""
    creds = stack.credentials()
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          who["username"], who["password"], scope=FULL_SCOPE)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    granted = requests.post(f"{stack.gateway}/patient/v1/consents", headers=headers, timeout=30, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert granted.status_code == 201, granted.text
    assert ask_for_records(departments["cardiology"], who["patient"])["status"] == "fulfilled"
    gone = requests.delete(f"{stack.gateway}/patient/v1/consents/{granted.json()['id']}", headers=headers,
                           timeout=30)
    assert gone.status_code == 200, gone.text
    return granted.json()["id"]


def _patient(stack) -> dict:
    return next(p for p in stack.credentials()["patients"] if p["language"].startswith("es"))


def test_the_notices_page_passes_axe_empty_and_filled_in_each_language(browser, stack, departments):
    people = {lang: join_over_http(stack, f"notices.{lang}", ["clinician", "privacy-officer"],
                                   f"Dr. Notices {lang.upper()}", "cardiology") for lang in ("en", "es")}
    opened = {lang: console_page(browser, people[lang], lang) for lang in ("en", "es")}
    problems = []
    try:
        for lang, (_context, page) in opened.items():
            page.goto(stack.gateway + "/console/notices")
            if page.locator("main ul.cards").count() == 0:  # empty, unless another module ended a consent
                check(page, lang, "console-notices-empty", problems, plain=True)
        consent_id = _revoked_after_a_release(stack, departments, _patient(stack))
        for lang, (_context, page) in opened.items():
            deadline = time.monotonic() + 60
            while consent_id not in page.locator("main").inner_text():
                assert time.monotonic() < deadline, page.locator("main").inner_text()
                time.sleep(0.5)
                page.reload()
            assert page.locator("main ul.cards > li").count() >= 1
            assert page.locator("nav a[href='/console/notices'][aria-current=page]").count() == 1
            check(page, lang, "console-notices", problems, plain=True)
    finally:
        for context, _page in opened.values():
            context.close()
    # the patient's receipt in the portal names cardiology and when it was told
    who = _patient(stack)
    for lang in ("en", "es"):
        context = browser.new_context(locale={"en": "en-US", "es": "es-ES"}[lang], viewport={"width": 1000, "height": 800})
        try:
            page = context.new_page()
            sign_in(page, stack.gateway, who["username"], who["password"])
            page.goto(stack.gateway + "/portal/notifications")
            told = {"en": "Cardiology: told on", "es": "Cardiología: avisado el"}[lang]
            assert told in page.locator("main").inner_text(), page.locator("main").inner_text()
            check(page, lang, "notifications-receipt", problems, plain=True)
        finally:
            context.close()
    assert problems == []


def test_a_records_officer_gets_a_403_page(browser, stack):
    officer = join_over_http(stack, "notices.records", ["records-officer"], "Rita Records", "cardiology")
    context, page = console_page(browser, officer, "en")
    try:
        answer = page.goto(stack.gateway + "/console/notices")
        assert answer.status == 403
        assert "Only a clinician or a privacy officer can use this page." in page.locator("main").inner_text()
        assert page.locator("nav a[href='/console/notices']").count() == 0
    finally:
        context.close()
