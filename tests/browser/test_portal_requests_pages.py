"""The portal's sharing requests and correction requests (gateway/portal/sharing_requests.py,
corrections.py) in English and Spanish: every page, empty and filled, each form with its errors,
after a yes, a no and a statement of disagreement, passes axe-core and reads at grade 8; a yes
grants the consent whose text the page showed and a no grants none (checked over the API);
another patient's request is a 404 page; a patient says yes with the keyboard alone.

Each test's patients are new ones (imported by primary care, activated over the API), so what
other tests in this tier do to the demo patients does not change what these pages show.
"""
from __future__ import annotations

import json

import pytest
import requests

from tests.browser.conftest import FULL_SCOPE, axe_violations, reading_level_violations, screenshot, sign_in
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.client import patient_login
from tests.support.stack import ROOT
from tests.support.staff import join_over_http

LOCALES = {"en": "en-US", "es": "es-ES"}
BUNDLES = {"en": "Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423.json",
           "es": "Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json"}
PASSWORD = "requests pages 7 password"
SCOPE = FULL_SCOPE + " patient/Task.c"


# data -------------------------------------------------------------------------------------------
def new_patient(stack, departments, lang: str) -> dict:
    """A patient imported by primary care (the custodian of their records), with an account."""
    bundle = json.loads((ROOT / "tests/data/synthea-r4" / BUNDLES[lang]).read_text())
    primary = departments["primary-care"]
    imported = primary.post("/fhir", json=bundle)
    assert imported.status_code == 200, imported.text[:300]
    patient_id = next(e["response"]["location"] for e in imported.json()["entry"]
                      if e["response"].get("location", "").startswith("Patient/")).split("/")[1]
    code = primary.post("/accounts/v1/activation-codes", json={"patient": patient_id})
    assert code.status_code == 201, code.text
    birth = next(e["resource"]["birthDate"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "Patient")
    username = f"asks.{lang}"
    made = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=30, json={
        "code": code.json()["code"], "birth_date": birth, "username": username, "password": PASSWORD})
    assert made.status_code in (200, 201), made.text
    return {"patient": patient_id, "username": username, "password": PASSWORD, "birth_date": birth}


@pytest.fixture(scope="module")
def patients(stack, departments) -> dict[str, dict]:
    return {lang: new_patient(stack, departments, lang) for lang in LOCALES}


@pytest.fixture(scope="module")
def clinician(stack):
    return join_over_http(stack, "dr.asks", ["clinician"], "Dr. Asks", department="cardiology")


@pytest.fixture(scope="module")
def officer(stack):
    return join_over_http(stack, "officer.fixes", ["records-officer"], "Officer Fixes",
                          department="primary-care")


def patient_headers(stack, who: dict) -> dict:
    creds = stack.credentials()["portal"]
    token = patient_login(stack.gateway, creds["client_id"], creds["redirect_uri"], who["username"],
                          who["password"], scope=SCOPE)
    return {"Authorization": f"Bearer {token['access_token']}"}


def new_caregiver(stack, who: dict, rights: list[str], username: str) -> None:
    """WHO invites a caregiver with RIGHTS over the API; the caregiver joins as USERNAME."""
    invited = requests.post(f"{stack.gateway}/patient/v1/proxies", headers=patient_headers(stack, who),
                            timeout=30, json={"rights": rights, "relationship": "caregiver"})
    assert invited.status_code == 201, invited.text
    joined = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=30, json={
        "code": invited.json()["invite_code"], "birth_date": who["birth_date"], "username": username,
        "password": PASSWORD})
    assert joined.status_code == 201, joined.text


def ask_to_share(stack, headers: dict, patient: str, classes: list[str], reason: str) -> dict:
    """Cardiology's clinician asks PATIENT to share CLASSES for treatment, for 90 days."""
    made = requests.post(f"{stack.gateway}/staff/v1/sharing-requests", headers=headers, timeout=30, json={
        "patient": patient, "classes": classes, "purposes": ["TREAT"], "period": {"days": 90},
        "reason": reason})
    assert made.status_code == 201, made.text
    return made.json()


def consents(stack, headers: dict) -> list[dict]:
    found = requests.get(f"{stack.gateway}/patient/v1/consents", headers=headers, timeout=30)
    assert found.status_code == 200, found.text
    return found.json()["items"]


# checks -----------------------------------------------------------------------------------------
def check(page, lang: str, name: str, problems: list[str]) -> None:
    """Check the page now shown; add what is wrong to PROBLEMS; save its screenshot."""
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    problems += [f"{name}: reading level: {v}" for v in reading_level_violations(page, lang)]
    screenshot(page, f"{name}-{lang}")


def submit(page, form: str) -> None:
    """Press the submit button of the form whose action ends with FORM, and wait for the answer."""
    with page.expect_navigation():
        page.locator(f"main form[action$='{form}'] button[type=submit]").click()


def status_text(page) -> str:
    return page.locator("main [role=status]").inner_text()


# tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_request_page_passes_axe_and_a_yes_grants_the_consent_shown(
        browser, stack, patients, clinician, officer, lang):
    who, gateway = patients[lang], stack.gateway
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 800})
    page, problems = context.new_page(), []
    try:
        sign_in(page, gateway, who["username"], who["password"])
        page.goto(gateway + "/portal/sharing-requests")
        assert page.locator("main .cards").count() == 0
        check(page, lang, "sharing-requests-empty", problems)
        page.goto(gateway + "/portal/corrections")
        assert page.locator("main .cards").count() == 0
        check(page, lang, "corrections-empty", problems)

        # Sharing: cardiology asks twice; the patient says yes to one and no to the other.
        staff = clinician.headers(lang)
        first = ask_to_share(stack, staff, who["patient"], ["Observation", "DiagnosticReport"],
                             "We need your heart tests before your visit.")
        second = ask_to_share(stack, staff, who["patient"], ["MedicationRequest"],
                              "We want to check your medicines.")
        page.goto(gateway + "/portal/sharing")
        assert page.locator("main .note a[href='/portal/sharing-requests']").count() == 1
        page.goto(gateway + "/portal/notifications")
        assert page.locator("main .note a[href='/portal/sharing-requests']").count() == 1
        page.goto(gateway + "/portal/sharing-requests")
        assert page.locator("main .cards > li").count() == 2
        check(page, lang, "sharing-requests", problems)

        mine = patient_headers(stack, who)
        before = consents(stack, mine)
        page.goto(f"{gateway}/portal/sharing-requests/{first['id']}")
        shown = page.locator("main blockquote").inner_text().strip()
        expected = requests.get(f"{gateway}/patient/v1/sharing-requests/{first['id']}", timeout=30,
                                headers={**mine, "Accept-Language": lang}).json()["consent_text"]["text"]
        assert shown == expected.strip()
        check(page, lang, "sharing-request", problems)
        # A yes to another text (the request changed since the page was shown) is refused.
        page.locator("input[name=text_sha256]").evaluate("e => { e.value = '0'.repeat(64); }")
        submit(page, "/approve")
        assert page.locator("main .error-box[role=alert]").is_visible()
        check(page, lang, "sharing-request-error", problems)
        assert len(consents(stack, mine)) == len(before)
        submit(page, "/approve")
        assert page.url.endswith(f"/portal/sharing-requests/{first['id']}")
        assert page.locator("main form:not(.page-answer)").count() == 0 and status_text(page)
        check(page, lang, "sharing-request-approved", problems)
        granted = [c for c in consents(stack, mine) if c["id"] not in {b["id"] for b in before}]
        assert len(granted) == 1 and granted[0]["grantee"]["id"] == "cardiology"
        assert granted[0]["agreed_text"]["text"] == expected

        page.goto(f"{gateway}/portal/sharing-requests/{second['id']}")
        submit(page, "/decline")
        assert page.locator("main form:not(.page-answer)").count() == 0 and status_text(page)
        check(page, lang, "sharing-request-declined", problems)
        assert len(consents(stack, mine)) == len(before) + 1  # the no granted nothing
        page.goto(gateway + "/portal/sharing-requests")
        assert page.locator("main .cards > li a.button").count() == 0
        check(page, lang, "sharing-requests-answered", problems)

        # Corrections: ask to fix the first record, with errors first.
        page.goto(gateway + "/portal/records")
        with page.expect_navigation():
            page.locator("main .cards a[href^='/portal/corrections/new']").first.click()
        assert page.locator("#what_is_wrong").count() == 1, page.locator("main").inner_text()
        check(page, lang, "correction-ask", problems)
        submit(page, "/portal/corrections/new")
        assert page.locator("#what_is_wrong-error[role=alert]").is_visible()
        assert page.locator("#correction-error[role=alert]").is_visible()
        check(page, lang, "correction-ask-errors", problems)
        page.fill("#what_is_wrong", "This date is wrong.")
        page.fill("#correction", "It was one week later.")
        submit(page, "/portal/corrections/new")
        task_id = page.url.rsplit("/", 1)[1]
        assert status_text(page) and page.locator("#statement").count() == 0
        check(page, lang, "correction", problems)

        denied = requests.post(f"{gateway}/staff/v1/corrections/{task_id}/deny", timeout=30,
                               headers=officer.headers(lang), json={"reason": "The date is right in our notes."})
        assert denied.status_code == 200, denied.text
        page.reload()
        assert "The date is right in our notes." in page.locator("main").inner_text()
        check(page, lang, "correction-denied", problems)
        submit(page, "/disagreement")
        assert page.locator("#statement-error[role=alert]").is_visible()
        check(page, lang, "correction-disagreement-errors", problems)
        page.fill("#statement", "I was away that week. I have the tickets.")
        submit(page, "/disagreement")
        assert page.locator("#statement").count() == 0
        assert "I was away that week." in page.locator("main").inner_text()
        check(page, lang, "correction-after-disagreement", problems)
        page.goto(gateway + "/portal/corrections")
        assert page.locator("main .cards > li").count() == 1
        check(page, lang, "corrections", problems)
    finally:
        context.close()
    assert problems == []


def test_another_patients_request_is_a_404_page(browser, stack, patients, clinician):
    theirs = patients["es"]
    asked = ask_to_share(stack, clinician.headers(), theirs["patient"], ["Immunization"],
                         "We need your vaccines.")
    headers = patient_headers(stack, theirs)
    record = requests.get(f"{stack.gateway}/patient/v1/records", headers=headers, timeout=30,
                          params={"limit": 1}).json()["items"][0]
    filed = requests.post(f"{stack.gateway}/patient/v1/amendments", headers=headers, timeout=30, json={
        "record_id": record["id"], "what_is_wrong": "Wrong.", "correction": "Right."})
    assert filed.status_code == 201, filed.text
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, stack.gateway, patients["en"]["username"], patients["en"]["password"])
        for path in (f"/portal/sharing-requests/{asked['id']}", f"/portal/corrections/{filed.json()['id']}",
                     f"/portal/corrections/new?record={record['id']}"):
            shown = page.goto(stack.gateway + path)
            assert shown.status == 404, path
            assert page.locator("main [role=alert]").count() == 1, path
        answered = page.request.post(f"{stack.gateway}/portal/sharing-requests/{asked['id']}/approve",
                                     form={"csrf_token": page.locator("input[name=csrf_token]").first
                                           .get_attribute("value")})
        assert answered.status == 404
    finally:
        context.close()
    assert requests.get(f"{stack.gateway}/patient/v1/sharing-requests/{asked['id']}", headers=headers,
                        timeout=30).json()["status"]["code"] == "pending"


def test_a_yes_without_the_hash_of_the_text_shown_sends_nothing(browser, stack, patients, clinician):
    mine = patients["en"]
    asked = ask_to_share(stack, clinician.headers(), mine["patient"], ["Procedure"], "We need your procedures.")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, stack.gateway, mine["username"], mine["password"])
        page.goto(f"{stack.gateway}/portal/sharing-requests/{asked['id']}")
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answered = page.request.post(f"{stack.gateway}/portal/sharing-requests/{asked['id']}/approve",
                                     form={"csrf_token": token})
        assert answered.status == 400 and "Load the page again" in answered.text()
    finally:
        context.close()
    state = requests.get(f"{stack.gateway}/patient/v1/sharing-requests/{asked['id']}", timeout=30,
                         headers=patient_headers(stack, mine)).json()
    assert state["status"]["code"] == "pending" and state["consent_id"] is None


def test_a_patient_says_yes_to_a_sharing_request_with_the_keyboard_alone(browser, stack, patients, clinician):
    who = patients["en"]
    asked = ask_to_share(stack, clinician.headers(), who["patient"], ["AllergyIntolerance"],
                         "We need to know your allergies before the test.")
    context = browser.new_context(locale="en-US", viewport={"width": 1000, "height": 800})
    page = context.new_page()
    keys = Keyboard(page)
    try:
        sign_in(page, stack.gateway, who["username"], who["password"])
        page.goto(stack.gateway + "/")
        page.wait_for_url("**/portal/records")
        keys.tab_to("Sharing"); keys.go()
        page.wait_for_url("**/portal/sharing")
        keys.tab_to("Read and answer"); keys.go()
        page.wait_for_url("**/portal/sharing-requests")
        keys.tab_to("Read and answer"); keys.go()
        page.wait_for_url(f"**/portal/sharing-requests/{asked['id']}")
        every_control_is_labelled(page)
        shown = page.locator("main blockquote").inner_text().strip()
        # A yes to a text other than the one shown is refused, on the page, and nothing is granted.
        token = page.locator("main input[name=csrf_token]").first.get_attribute("value")
        stale = page.request.post(f"{stack.gateway}/portal/sharing-requests/{asked['id']}/approve",
                                  form={"csrf_token": token, "text_sha256": "0" * 64})
        assert stale.status == 409 and 'role="alert"' in stale.text()
        keys.tab_to("Yes, share"); keys.go()
        assert "You said yes." in page.locator("[role=status]").inner_text()
        assert page.locator("main form:not(.page-answer)").count() == 0
    finally:
        context.close()
    mine = patient_headers(stack, who)
    granted = [c for c in consents(stack, mine) if c["agreed_text"]["text"].strip() == shown]
    assert len(granted) == 1 and granted[0]["status"]["code"] == "active"


def test_a_caregiver_uses_these_pages_only_with_the_rights_the_api_asks_for(browser, stack, patients):
    who = patients["en"]
    new_caregiver(stack, who, ["view-records"], "reads.only")
    new_caregiver(stack, who, ["view-records", "request-corrections"], "asks.fixes")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, stack.gateway, "reads.only", PASSWORD)
        page.goto(stack.gateway + "/portal/records")
        assert page.locator("main a", has_text="Ask to fix this").count() == 0
        for path in ("/portal/corrections", "/portal/corrections/new?record=x",
                     "/portal/sharing-requests"):
            shown = page.goto(stack.gateway + path)
            assert shown.status == 403 and page.locator("h1").inner_text() == "Not allowed", path
        context.clear_cookies()

        sign_in(page, stack.gateway, "asks.fixes", PASSWORD)
        page.goto(stack.gateway + "/portal/records")
        assert page.locator("main a", has_text="Ask to fix this").count() > 0
        assert page.goto(stack.gateway + "/portal/corrections").status == 200
        assert page.goto(stack.gateway + "/portal/sharing-requests").status == 403
    finally:
        context.close()
