"""Reports in the portal and the staff console (gateway/portal/reports.py, console_reports.py) in
English and Spanish: the "Report a problem" form reached from a record item and from a
disclosure, My reports, the staff form with its "without my name" choice, the quality queue, the
words readers found hard and a report's page, each form with its errors, pass axe-core (WCAG
2.2 A/AA) with <html lang> right; a patient files a report with the keyboard alone; a triage through the page reaches the
patient's My reports; a clinician gets a 403 page for the queue."""
from __future__ import annotations

import json

import pytest
import requests

from tests.browser.conftest import axe_violations, console_page, screenshot, sign_in
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.stack import ROOT
from tests.support.staff import join_over_http

CUSTODIAN = "primary-care"  # imports these patients' records, so its quality staff see their reports
#: Patients no other browser test uses (an account is made once per patient).
BUNDLES = {"en": "Chet_Hoeger_5c6db3d0-c0fc-4eb7-8eae-dbc7847be741.json",
           "es": "Alberto_Atencio_fc712d1f-5a2e-4407-9c55-a2a2bad623c2.json"}
PASSWORD = "report pages 7 password"


def new_patient(stack, departments, lang: str) -> dict:
    """A patient imported by primary care, with a portal account."""
    bundle = json.loads((ROOT / "tests/data/synthea-r4" / BUNDLES[lang]).read_text())
    primary = departments[CUSTODIAN]
    imported = primary.post("/fhir", json=bundle)
    assert imported.status_code == 200, imported.text[:300]
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient_id = next(e["response"]["location"] for e in imported.json()["entry"]
                      if e["response"].get("location", "").startswith("Patient/")).split("/")[1]
    code = primary.post("/accounts/v1/activation-codes", json={"patient": patient_id})
    assert code.status_code == 201, code.text
    username = f"reports.{lang}"
    made = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=30, json={
        "code": code.json()["code"], "birth_date": patient["birthDate"], "username": username,
        "password": PASSWORD})
    assert made.status_code in (200, 201), made.text
    return {"patient": patient_id, "username": username, "password": PASSWORD}


def check(page, lang: str, name: str, problems: list[str]) -> None:
    if page.locator("main").count() != 1:  # an error body, not a page
        problems.append(f"{name}-{lang}: not a page: {page.content()[:200]}")
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}-{lang}: axe: {v}" for v in axe_violations(page)]
    screenshot(page, f"{name}-{lang}")


def submit(page, selector: str = "main form[method=post] button[type=submit]"):
    with page.expect_navigation() as nav:
        page.locator(selector).last.click()
    return nav.value


@pytest.fixture(scope="module")
def people(stack, departments) -> dict:
    patients = {lang: new_patient(stack, departments, lang) for lang in ("en", "es")}
    quality = {lang: join_over_http(stack, f"quality.{lang}", ["quality"], f"Q {lang.upper()}", CUSTODIAN)
               for lang in ("en", "es")}
    clinician = join_over_http(stack, "reports.dr", ["clinician"], "Dr. Reports", CUSTODIAN)
    return {"patients": patients, "quality": quality, "clinician": clinician}


def _portal(browser, stack, who, lang):
    context = browser.new_context(locale={"en": "en-US", "es": "es-ES"}[lang], viewport={"width": 1000, "height": 800})
    page = context.new_page()
    sign_in(page, stack.gateway, who["username"], who["password"])
    return context, page


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_portals_report_pages_pass_axe_and_a_report_reaches_my_reports(browser, stack, people, lang):
    who, problems = people["patients"][lang], []
    context, page = _portal(browser, stack, who, lang)
    try:
        page.goto(stack.gateway + "/portal/reports")
        check(page, lang, "portal-reports-empty", problems)
        page.goto(stack.gateway + "/portal/records")
        with page.expect_navigation():
            page.locator("main a[href^='/portal/reports/new?record=']").first.click()
        check(page, lang, "portal-report-new", problems)
        every_control_is_labelled(page)
        submit(page)  # empty: the error is shown next to the field
        assert page.locator("main .error").count() >= 1
        check(page, lang, "portal-report-new-errors", problems)
        page.fill("#text", "This is not my allergy.")
        page.check("#fix")
        page.fill("#correction", "Please take it off.")
        submit(page)
        assert "/portal/reports/" in page.url
        check(page, lang, "portal-report", problems)
        page.goto(stack.gateway + "/portal/reports")
        assert page.locator("main ul.cards li").count() == 1
        check(page, lang, "portal-reports", problems)
        page.goto(stack.gateway + "/portal/reports/new")
        check(page, lang, "portal-report-general", problems)
        page.goto(stack.gateway + "/portal/corrections")  # the report asked for the fix too
        assert page.locator("main ul.cards li").count() == 1
    finally:
        context.close()
    assert problems == []


def test_a_patient_reports_a_problem_with_the_keyboard_alone(browser, stack, people):
    context, page = _portal(browser, stack, people["patients"]["en"], "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("My reports")
        keys.go()
        keys.tab_to("Report a problem with this site or its words")
        keys.go()
        every_control_is_labelled(page)
        keys.tab_to(id="kind-system-problem")  # Tab stops on the group's chosen radio button
        keys.press("ArrowUp")  # arrows move within the group and choose
        assert page.is_checked("#kind-hard-to-understand")
        keys.tab_to(id="words")
        keys.type("custodian department")
        keys.tab_to(id="text")
        keys.type("I did not know what this means.")
        keys.tab_to("Send my report")
        keys.go()
        assert "/portal/reports/" in page.url and "R-" in page.locator("main").inner_text()
    finally:
        context.close()


def _form_send_owners(stack) -> tuple[int, int]:
    """How many one-time form tokens the running stack's gateway holds: all, and claimed for no one."""
    import sqlalchemy as sa
    engine = sa.create_engine(stack.database_url("gateway"))
    try:
        with engine.connect() as conn:
            owners = list(conn.execute(sa.text("SELECT owner FROM form_sends")).scalars())
        return len(owners), owners.count("")
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_consoles_report_form_and_the_quality_queue_pass_axe_and_a_triage_reaches_the_patient(
        browser, stack, people, lang):
    problems = []
    context, page = console_page(browser, people["quality"][lang], lang)
    try:
        page.goto(stack.gateway + "/console/report")
        check(page, lang, "console-report", problems)
        every_control_is_labelled(page)
        submit(page)
        assert page.locator("main .error").count() >= 1
        check(page, lang, "console-report-errors", problems)
        page.check("#kind-safety")
        page.fill("#text", "A near miss with two drips.")
        page.check("#anonymous")
        before = _form_send_owners(stack)
        submit(page)
        assert "R-" in page.locator("main").inner_text()
        # the one-time token of an anonymous send is claimed for no one: its time would name them
        after = _form_send_owners(stack)
        assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
        check(page, lang, "console-report-sent", problems)
        page.goto(stack.gateway + "/console/quality")
        check(page, lang, "console-quality", problems)
        page.goto(stack.gateway + "/console/quality/hard-words")
        check(page, lang, "console-hard-words", problems)
        # the oldest untouched one: the [en] run triages the English patient's, the [es] run the Spanish one's
        page.goto(stack.gateway + "/console/quality?kind=wrong-information&status=received")
        with page.expect_navigation():
            page.locator("main table a").first.click()
        check(page, lang, "console-quality-report", problems)
        every_control_is_labelled(page)
        page.check("#status-looking-into-it")
        page.fill("#note", "We are checking it with the clinic.")
        page.check("#assign")
        submit(page)
        check(page, lang, "console-quality-report-saved", problems)
        assert page.locator("main").inner_text().count("We are checking it with the clinic.") >= 1
    finally:
        context.close()
    assert problems == []
    context, page = _portal(browser, stack, people["patients"][lang], lang)
    try:
        page.goto(stack.gateway + "/portal/reports")
        assert "We are checking it with the clinic." in page.locator("main").inner_text()
    finally:
        context.close()


def test_a_clinician_gets_a_403_page_for_the_quality_queue(browser, stack, people):
    context, page = console_page(browser, people["clinician"], "en")
    try:
        resp = page.goto(stack.gateway + "/console/quality")
        assert resp.status == 403
        assert page.locator("nav a", has_text="Reports to triage").count() == 0
        assert page.locator("nav a", has_text="Report a problem").count() == 1
    finally:
        context.close()
