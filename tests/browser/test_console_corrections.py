"""The records officer's correction worklist in the staff console (gateway/portal/console_records.py):
every page and form error passes axe-core in English and Spanish; an officer denies a request
with the keyboard alone and accepts one through the page, and the record and its Provenance
change over the API; a clinician gets a 403 page and another department's officer a 404 page."""
from __future__ import annotations

import itertools
import json

import pytest

from gateway.portal.client import claims_of
from tests.browser.conftest import axe_violations, console_page, reading_level_violations, screenshot
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.client import PORTAL_SCOPE, demo_patient_headers
from tests.support.staff import join_over_http

PATIENT_INDEX = 2  # a demo patient the other browser tests leave alone
_usernames = itertools.count()


class Corrections:
    """A demo patient who files correction requests about their own records (POST
    /patient/v1/amendments), and the department that holds those records (their custodian)."""

    def __init__(self, stack, departments):
        self.stack, self.departments = stack, departments
        self.who, self.headers = demo_patient_headers(stack, PATIENT_INDEX, PORTAL_SCOPE + " patient/Task.c")
        records = self._get("/patient/v1/records")["items"]
        self.records = iter([r for r in records if r["reference"].startswith("Observation/")])
        first = self.file("The number is wrong.")
        self.custodian = next(name for name, dept in departments.items()
                              if dept.get(f"/fhir/Task/{first['id']}").status_code == 200)
        self.department = departments[self.custodian]
        self.other = next(name for name in departments if name != self.custodian)

    def _get(self, path: str) -> dict:
        import requests
        resp = requests.get(self.stack.gateway + path, headers=self.headers, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def file(self, what_is_wrong: str, correction: str = "It should be 121 over 86.") -> dict:
        """A new request about the next of the patient's results; its AmendmentCreated body."""
        import requests
        record = next(self.records)
        resp = requests.post(self.stack.gateway + "/patient/v1/amendments", headers=self.headers, timeout=30,
                             json={"record_id": record["reference"], "what_is_wrong": what_is_wrong,
                                   "correction": correction})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def officer(self, department: str | None = None, roles=("records-officer",)):
        n = next(_usernames)
        return join_over_http(self.stack, f"ro.{n}", list(roles), f"Officer {n}",
                              department=department or self.custodian)


@pytest.fixture(scope="module")
def corrections(stack, departments) -> Corrections:
    return Corrections(stack, departments)


def check(page, lang: str, name: str, problems: list[str]) -> None:
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != lang:
        problems.append(f"{name}: <html lang={html_lang!r}>, expected {lang!r}")
    problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
    problems += [f"{name}: reading level: {v}" for v in reading_level_violations(page, lang)]
    alerts = page.locator("main [role=alert]")
    if alerts.count():  # the screenshot shows the error, not only the top of the page
        alerts.first.scroll_into_view_if_needed()
    screenshot(page, f"console-{name}-{lang}")


def send(page, form: str) -> None:
    """Submit the form whose action ends with FORM (accept or deny) and wait for the answer."""
    with page.expect_navigation():
        page.locator(f"form[action$='/{form}'] button[type=submit]").click()


def error_of(page, field: str) -> str:
    alert = page.locator(f"#{field}-error[role=alert]")
    assert alert.is_visible(), page.locator("main").inner_text()
    return alert.inner_text()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_worklist_page_and_its_errors_pass_axe_in_each_language(browser, stack, corrections, lang):
    to_accept = corrections.file(f"The reading is wrong ({lang}).")
    to_deny = corrections.file(f"This was not my reading ({lang}).")
    problems: list[str] = []
    context, page = console_page(browser, corrections.officer(corrections.other), lang)
    try:
        page.goto(stack.gateway + "/console/corrections")
        assert page.locator("main table").count() == 0
        check(page, lang, "corrections-empty", problems)
        resp = page.goto(f"{stack.gateway}/console/corrections/{to_accept['id']}")
        assert resp.status == 404
        check(page, lang, "correction-not-found", problems)
    finally:
        context.close()

    context, page = console_page(browser, corrections.officer(), lang)
    try:
        with page.expect_navigation():
            page.locator("nav a[href='/console/corrections']").click()
        assert page.locator("nav a[aria-current=page]").get_attribute("href") == "/console/corrections"
        assert page.locator(f"main a[href='/console/corrections/{to_deny['id']}']").is_visible()
        check(page, lang, "corrections", problems)

        page.goto(f"{stack.gateway}/console/corrections/{to_accept['id']}")
        assert f"The reading is wrong ({lang})." in page.locator("main blockquote").first.inner_text()
        check(page, lang, "correction", problems)
        send(page, "accept")  # no action chosen
        error_of(page, "action")
        check(page, lang, "correction-accept-errors", problems)
        page.locator("#action-amend").check()
        page.fill("#resource", "{not json")
        send(page, "accept")
        error_of(page, "resource")
        assert page.locator("#resource").get_attribute("aria-describedby") == "resource-hint resource-error"
        check(page, lang, "correction-json-error", problems)
        page.goto(f"{stack.gateway}/console/corrections/{to_accept['id']}")
        page.locator("#action-amend").check()  # the record as it is: the API says nothing would change
        send(page, "accept")
        assert error_of(page, "resource")
        check(page, lang, "correction-refused", problems)
        send(page, "deny")  # no reason
        error_of(page, "reason")
        check(page, lang, "correction-deny-errors", problems)

        page.locator("#action-entered-in-error").check()
        send(page, "accept")
        assert page.locator("main form").count() == 0
        assert page.locator("[role=status]").is_visible()
        check(page, lang, "correction-accepted", problems)

        page.goto(f"{stack.gateway}/console/corrections/{to_deny['id']}")
        page.fill("#reason", "The machine read it right.")
        send(page, "deny")
        assert "The machine read it right." in page.locator("main").inner_text()
        check(page, lang, "correction-denied", problems)
    finally:
        context.close()
    assert problems == []


def test_an_officer_denies_a_request_with_the_keyboard_alone(browser, stack, corrections):
    corrections.file("I never had this test.")
    context, page = console_page(browser, corrections.officer(), "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("Correction requests")
        keys.go()
        every_control_is_labelled(page)
        first = page.locator("main tbody a").first
        first_href, first_title = first.get_attribute("href"), first.inner_text()
        keys.tab_to(first_title)
        keys.go()
        assert page.url.endswith(first_href)
        every_control_is_labelled(page)
        keys.tab_to(id="reason")
        keys.type("The lab sent us this result. It is yours.")
        keys.tab_to("Deny the request")
        keys.go()
        assert page.url.endswith(first_href)
        main = page.locator("main").inner_text()
        assert "You denied the request." in main and "The lab sent us this result. It is yours." in main
        assert page.locator("main dd", has_text="Denied").count() >= 1
        assert page.locator("main form").count() == 0
        page.reload()  # the answer was a redirect: reloading sends nothing again
        assert "You denied the request." not in page.locator("main").inner_text()
    finally:
        context.close()


def amended(page, text: str) -> None:
    """Choose "amend" and add a note with TEXT to the record shown in the box, then send it."""
    resource = json.loads(page.locator("#resource").input_value())
    resource["note"] = [*resource.get("note", []), {"text": text}]
    page.locator("#action-amend").check()
    page.fill("#resource", json.dumps(resource, indent=2))
    send(page, "accept")


def test_an_officer_corrects_a_record_and_the_provenance_names_them(browser, stack, corrections):
    filed = corrections.file("The value is 131. It was 121.")
    department = corrections.department
    reference = filed["record"]
    before = department.get(f"/fhir/{reference}")
    assert before.status_code == 200, before.text
    officer = corrections.officer()
    claims = claims_of(officer.sign_in()["access_token"])
    context, page = console_page(browser, officer, "en")
    try:
        page.goto(f"{stack.gateway}/console/corrections/{filed['id']}")
        shown = json.loads(page.locator("#resource").input_value())  # the record as it is now
        assert (shown["id"], shown["meta"]["versionId"]) == (before.json()["id"], before.json()["meta"]["versionId"])
        # Someone changes the record while the page is open: the officer's answer is not sent.
        elsewhere = {**before.json(), "note": [{"text": "Checked again by the lab."}]}
        changed = department.session.put(f"{stack.gateway}/fhir/{reference}", json=elsewhere, timeout=30,
                                         headers={"If-Match": f'W/"{before.json()["meta"]["versionId"]}"'})
        assert changed.status_code == 200, changed.text
        amended(page, "Corrected at the patient's request.")
        assert "The record changed after you opened this page." in error_of(page, "resource")
        assert "Checked again by the lab." in page.locator("#resource").input_value()
        amended(page, "Corrected at the patient's request.")
        assert "You accepted the request." in page.locator("main").inner_text()
        assert page.locator("main dd", has_text="You").count() >= 1
    finally:
        context.close()

    after = department.get(f"/fhir/{reference}")
    assert [n["text"] for n in after.json()["note"]] == ["Checked again by the lab.",
                                                        "Corrected at the patient's request."]
    assert int(after.json()["meta"]["versionId"]) == int(before.json()["meta"]["versionId"]) + 2
    task = department.get(f"/fhir/Task/{filed['id']}").json()
    assert task["status"] == "completed"
    provenance = department.get("/fhir/" + task["relevantHistory"][-1]["reference"]).json()
    who = provenance["agent"][0]["who"]
    assert who["reference"] == claims["fhirUser"] and who["identifier"]["value"] == claims["sub"]
    assert any(t["reference"].startswith(f"{reference}/_history/") for t in provenance["target"])


def test_a_clinician_gets_a_403_page_and_another_departments_officer_a_404_page(browser, stack, corrections):
    filed = corrections.file("Wrong date.")
    context, page = console_page(browser, corrections.officer(roles=("clinician",)), "en")
    try:
        assert page.locator("nav a[href='/console/corrections']").count() == 0
        assert page.goto(stack.gateway + "/console/corrections").status == 403
        assert page.goto(f"{stack.gateway}/console/corrections/{filed['id']}").status == 403
    finally:
        context.close()
    context, page = console_page(browser, corrections.officer(corrections.other), "en")
    try:
        assert page.goto(f"{stack.gateway}/console/corrections/{filed['id']}").status == 404
        assert page.locator("h1").inner_text() == "Not found"
        assert page.goto(f"{stack.gateway}/console/corrections/no-such-request").status == 404
    finally:
        context.close()
