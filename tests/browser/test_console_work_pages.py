"""The staff console's exchange work (gateway/portal/console_exchange.py) in English and Spanish:
a clinician's requests for records, asking a patient to share, and a privacy officer's review of
emergency claims and the records sent (the accounting of disclosures). axe-core finds no WCAG 2.2
A/AA violation on any page (lists empty and filled,
details, each form with its errors, after a review), <html lang> matches; a privacy officer
reviews a claim with the keyboard alone; a person without the role gets a 403 page, and another
department's claim or request is a 404 page."""
from __future__ import annotations

import time

import pytest
import requests

from tests.browser.conftest import (axe_violations, console_page, reading_level_violations,
                                    screenshot)
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.staff import join_over_http

CUSTODIAN = "primary-care"  # the demo's patients were imported by primary care (launcher/demo/seed.py)
#: What each language's clinician asks for: different kinds, so the two asks are not one duplicate.
KINDS = {"en": ["Observation", "Condition"], "es": ["Immunization"]}


def check(page, lang: str, name: str, problems: list[str], plain: bool = False) -> None:
    """Axe, <html lang>, a screenshot and (PLAIN) the grade 8 rule on the page as it is now."""
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}-{lang}: axe: {v}" for v in axe_violations(page)]
    if plain:
        problems += [f"{name}-{lang}: reading level: {v}" for v in reading_level_violations(page, lang)]
    errors = page.locator("main .error")
    if errors.count():  # the viewport's picture shows the first error, not the page's top again
        errors.first.scroll_into_view_if_needed()
    screenshot(page, f"{name}-{lang}")


def submit(page, selector: str = "main button[type=submit]"):
    with page.expect_navigation() as nav:
        page.locator(selector).last.click()
    return nav.value


def claim(stack, departments, patient: str, officer, sensitive: bool) -> str:
    """An emergency claim by the emergency department on PATIENT, then an emergency request so
    something is released under it; wait until the custodian's review item shows it. Its id."""
    body = {"patient": patient, "reason": "Brought in unconscious, no family reachable."}
    if sensitive:
        body["sensitive"] = [{"label": "PSY", "reason": "Possible overdose of psychiatric medicine."}]
    made = departments["emergency"].post("/consent/v1/break-glass", json=body)
    assert made.status_code == 201, made.text
    claim_id = made.json()["id"]
    asked = departments["emergency"].post("/exchange/v1/requests", json={
        "patient": patient, "purpose": "ETREAT", "resource_types": ["Observation", "Condition"],
        "reason": "Emergency care"})
    assert asked.status_code == 202, asked.text
    assert departments["emergency"].wait_until_done(asked.json()["id"])["status"] == "fulfilled"
    headers, deadline = officer.headers("en"), time.monotonic() + 60
    while True:  # the claim reaches the exchange service's queue as an event
        item = requests.get(f"{stack.gateway}/staff/v1/break-glass-reviews/{claim_id}", headers=headers, timeout=30)
        if item.status_code == 200 and item.json()["released"]["entries"]:
            return claim_id
        assert time.monotonic() < deadline, (item.status_code, item.text)
        time.sleep(0.5)


@pytest.fixture(scope="module")
def staff(stack) -> dict:
    """Primary care's people: one per language who is both clinician and privacy officer (one
    signed-in browser each), and a privacy officer for the keyboard journey."""
    made = {lang: join_over_http(stack, f"work.{lang}", ["clinician", "privacy-officer"],
                                 f"Dr. Work {lang.upper()}", CUSTODIAN) for lang in ("en", "es")}
    made["keys"] = join_over_http(stack, "po.keys", ["privacy-officer"], "Pat Keys", CUSTODIAN)
    return made


@pytest.fixture(scope="module")
def claims(stack, departments, staff) -> dict:
    """Open claims on three of the custodian's patients: the keyboard journey's and one per
    language, each naming a sensitive class."""
    patients = [p["patient"] for p in stack.credentials()["patients"]]
    return {name: claim(stack, departments, patient, staff["keys"], sensitive=True)
            for name, patient in zip(("keys", "en", "es"), patients)}


@pytest.fixture(scope="module")
def signed_in(browser, staff):
    """One console page per language, signed in as that language's member of staff."""
    opened = {lang: console_page(browser, staff[lang], lang) for lang in ("en", "es")}
    yield {lang: page for lang, (_context, page) in opened.items()}
    for context, _page in opened.values():
        context.close()


def test_every_requests_page_passes_axe_in_each_language(stack, signed_in):
    problems = []
    patients = [p["patient"] for p in stack.credentials()["patients"]]
    for lang in ("en", "es"):  # both empty lists first: each language's requests fill the list
        page = signed_in[lang]
        page.goto(stack.gateway + "/console/requests")
        assert page.locator("main ul.cards").count() == 0
        check(page, lang, "console-requests-empty", problems, plain=True)
    for lang, patient in zip(("en", "es"), patients[1:] + patients[:1]):
        page = signed_in[lang]
        page.goto(stack.gateway + "/console/requests")
        submit(page)
        for field in ("patient", "purpose", "kinds"):
            assert page.locator(f"#{field}-error[role=alert]").is_visible(), field
        assert page.locator("#patient").get_attribute("aria-describedby") == "patient-hint patient-error"
        check(page, lang, "console-requests-errors", problems)

        page.fill("#patient", patient)
        page.locator("#purpose-TREAT").check()
        for kind in KINDS[lang]:
            page.locator(f"#kind-{kind}").check()
        page.fill("#reason", "Follow-up after a fall")
        answer = submit(page)
        assert answer.request.redirected_from is not None  # 303 to the request's own page
        request_url = page.url
        assert "/console/requests/" in request_url
        deadline = time.monotonic() + 60
        while page.locator("#share_reason").count() == 0:  # no consent: ask the patient
            assert time.monotonic() < deadline, page.locator("main").inner_text()
            time.sleep(0.5)
            page.reload()
        check(page, lang, "console-request", problems)
        submit(page)
        for field in ("share_reason", "days"):
            assert page.locator(f"#{field}-error[role=alert]").is_visible(), field
        check(page, lang, "console-request-ask-errors", problems)

        page.fill("#share_reason", "We need your test results to plan your care.")
        page.locator("#days-90").check()
        submit(page)
        assert "/console/sharing-requests/" in page.url
        assert page.locator("main [role=status]").is_visible()
        assert "We need your test results to plan your care." in page.locator("main").inner_text()
        check(page, lang, "console-request-shared", problems)
        shared_url = page.url
        page.reload()  # a reload reads the page again: no second request to the patient
        assert page.url == shared_url
        with page.expect_navigation():
            page.locator("main a[href^='/console/requests/']").click()
        assert page.url == request_url

        page.goto(stack.gateway + "/console/requests")
        assert page.locator("main ul.cards > li").count() >= 1
        check(page, lang, "console-requests", problems, plain=True)
    assert problems == []


def test_every_review_page_passes_axe_in_each_language(stack, signed_in, claims):
    problems = []
    for lang in ("en", "es"):
        page = signed_in[lang]
        page.goto(stack.gateway + "/console/reviews")
        assert page.locator(f"main a[href='/console/reviews/{claims[lang]}']").count() == 1
        check(page, lang, "console-reviews", problems, plain=True)

        page.goto(f"{stack.gateway}/console/reviews/{claims[lang]}")
        main = page.locator("main").inner_text()
        assert "Possible overdose of psychiatric medicine." in main
        assert page.locator("main table tbody tr").count() >= 1  # what was released
        check(page, lang, "console-review", problems)
        submit(page)
        assert page.locator("#outcome-error[role=alert]").is_visible()
        check(page, lang, "console-review-errors", problems)
        page.locator("#outcome-not-justified").check()
        submit(page)  # not needed, and no note: the API wants one
        assert page.locator("#note-error[role=alert]").is_visible()
        assert page.locator("#note").get_attribute("aria-describedby") == "note-hint note-error"
        check(page, lang, "console-review-note-error", problems)

        page.locator("#outcome-justified").check()
        page.fill("#note", "The patient could not speak. The team needed the history.")
        submit(page)
        assert page.url.endswith(f"/console/reviews/{claims[lang]}")
        assert page.locator("main form").count() == 0
        assert "The team needed the history." in page.locator("main").inner_text()
        check(page, lang, "console-review-done", problems)

        page.goto(stack.gateway + "/console/reviews?status=reviewed")
        assert page.locator(f"main a[href='/console/reviews/{claims[lang]}']").count() == 1
        check(page, lang, "console-reviews-reviewed", problems)

        # the accounting of disclosures: the release under the claim links back to it
        page.goto(stack.gateway + "/console/disclosures")
        assert page.locator(f"main a[href='/console/reviews/{claims[lang]}']").count() >= 1
        check(page, lang, "console-disclosures", problems, plain=True)
        page.fill("#patient", "..")
        submit(page)
        assert page.locator("#patient-error[role=alert]").is_visible()
        check(page, lang, "console-disclosures-error", problems)
    assert problems == []


def test_a_privacy_officer_reviews_a_claim_with_the_keyboard_alone(browser, stack, staff, claims):
    context, page = console_page(browser, staff["keys"], "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("Emergency reviews")
        keys.go()
        assert page.url.endswith("/console/reviews")
        first = page.locator("main ul.cards a").first
        claim_url = stack.gateway + first.get_attribute("href")
        keys.tab_to(first.inner_text())
        keys.go()
        assert page.url == claim_url
        every_control_is_labelled(page)
        keys.tab_to(id="outcome-justified")
        keys.press("ArrowDown")  # arrows move within a group of radio buttons
        assert keys.focused()["id"] == "outcome-not-justified"
        assert page.locator("#outcome-not-justified").is_checked()
        keys.tab_to(id="note")
        keys.type("The patient was awake and could have been asked.")
        keys.tab_to("Record the review")
        keys.go()
        assert page.url == claim_url
        main = page.locator("main").inner_text()
        assert "The emergency access was not needed." in main
        assert "The patient was awake and could have been asked." in main
        assert "Pat Keys" in main  # the reviewer, by name
        assert page.locator("main form").count() == 0
    finally:
        context.close()


def test_a_privacy_officer_reads_the_records_sent_with_the_keyboard_alone(browser, stack, staff, claims):
    context, page = console_page(browser, staff["keys"], "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("Records sent")
        keys.go()
        assert page.url.endswith("/console/disclosures")
        every_control_is_labelled(page)
        first = page.locator("main ul.cards a[href^='/console/disclosures?patient=']").first
        patient = first.inner_text()
        keys.tab_to(id="patient")
        keys.type(patient)
        keys.tab_to("Show")
        keys.go()
        assert page.url.endswith(f"/console/disclosures?patient={patient}")
        shown = page.locator("main ul.cards > li")
        assert shown.count() >= 1 and all(patient in shown.nth(i).inner_text() for i in range(shown.count()))
        keys.tab_to("See the emergency claim")
        keys.go()
        assert "/console/reviews/" in page.url
    finally:
        context.close()


def test_a_clinician_alone_cannot_open_the_reviews(browser, stack):
    clinician = join_over_http(stack, "clinician.only", ["clinician"], "Dr. Only", "cardiology")
    context, page = console_page(browser, clinician, "en")
    try:
        assert page.locator("nav a", has_text="Emergency reviews").count() == 0
        assert page.locator("nav a", has_text="Requests for records").count() == 1
        for path in ("/console/reviews", "/console/reviews/any-claim"):
            answer = page.goto(stack.gateway + path)
            assert answer.status == 403, path
            assert page.locator("h1").inner_text() == "Not allowed"
    finally:
        context.close()


def test_another_departments_claim_and_request_are_not_found(browser, stack, departments, claims):
    officer = join_over_http(stack, "po.cardiology", ["privacy-officer", "clinician"], "Cardio PO", "cardiology")
    theirs = departments[CUSTODIAN].post("/exchange/v1/requests", json={
        "patient": stack.credentials()["patients"][0]["patient"], "purpose": "TREAT",
        "resource_types": ["Observation"], "reason": "Check-up"})
    assert theirs.status_code == 202, theirs.text
    problems = []
    for lang in ("en", "es"):
        context, page = console_page(browser, officer, lang)
        try:
            page.goto(stack.gateway + "/console/reviews")
            assert page.locator("main ul.cards").count() == 0  # cardiology is custodian of no one
            check(page, lang, "console-reviews-empty", problems, plain=True)
            answer = page.goto(f"{stack.gateway}/console/reviews/{claims['en']}")
            assert answer.status == 404
            check(page, lang, "console-review-not-found", problems)
            answer = page.goto(f"{stack.gateway}/console/requests/{theirs.json()['id']}")
            assert answer.status == 404
        finally:
            context.close()
    assert problems == []
