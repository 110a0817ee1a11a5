"""A patient does everything with the keyboard alone: activate, sign in, read, share with
cardiology, see cardiology's request in "who saw my data", stop sharing, sign out.

Only Tab, Shift+Tab, Enter, Space and typing move the journey on (no clicks); at every stop the
focused control shows a visible outline, every control has a label, and form errors sit next to
their field with role=alert and aria-describedby.
"""
import json
import time

import pytest

from tests.browser.conftest import ask_for_records
from tests.support.stack import ROOT

NEW_PATIENT = ROOT / "tests/data/synthea-r4/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"
PASSWORD = "a long new password 7"

FOCUSED = """() => {
  const el = document.activeElement, s = getComputedStyle(el);
  return {tag: el.tagName.toLowerCase(), id: el.id, type: el.type || "",
          text: (el.innerText || el.value || "").trim().slice(0, 80),
          label: el.getAttribute("aria-label") || "",
          visible: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2};
}"""

UNLABELLED = """() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                && !el.getAttribute("aria-labelledby") && !(el.innerText || "").trim())
  .map(el => el.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="module")
def new_patient(stack, departments) -> dict:
    """A patient without an account yet: imported by primary care, with an activation code."""
    bundle = json.loads(NEW_PATIENT.read_text())
    primary = departments["primary-care"]
    imported = primary.post("/fhir", json=bundle)
    assert imported.status_code == 200, imported.text[:300]
    location = next(e["response"]["location"] for e in imported.json()["entry"]
                    if e["response"].get("location", "").startswith("Patient/"))
    patient_id = location.split("/")[1]
    code = primary.post("/accounts/v1/activation-codes", json={"patient": patient_id})
    assert code.status_code == 201, code.text
    birth = next(e["resource"]["birthDate"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "Patient")
    year, month, day = birth.split("-")
    return {"id": patient_id, "code": code.json()["code"], "day": str(int(day)),
            "month": str(int(month)), "year": year, "username": "clemente.keys"}


class Keyboard:
    """Move through a page with Tab as a keyboard user does, checking each stop."""

    def __init__(self, page):
        self.page, self.stops = page, 0

    def focused(self) -> dict:
        return self.page.evaluate(FOCUSED)

    def tab_to(self, text: str = None, id: str = None, label: str = None, limit: int = 60) -> dict:
        """Press Tab until the control with TEXT (or ID, or aria-label LABEL) has focus; each stop
        must show focus."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            self.stops += 1
            now = self.focused()
            assert now["tag"] == "body" or now["visible"], f"focus is not visible on {now}"
            if (id and now["id"] == id) or (text and now["text"] == text) or (label and now["label"] == label):
                return now
        raise AssertionError(f"Tab never reached {text or id or label!r} on {self.page.url}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def go(self, key: str = "Enter") -> None:
        """Press KEY on a link or a form and wait for the page it opens."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)


def every_control_is_labelled(page) -> None:
    assert page.evaluate(UNLABELLED) == [], f"controls without a label on {page.url}"


def test_a_patient_does_it_all_with_the_keyboard_alone(browser, stack, departments, new_patient):
    context = browser.new_context(locale="en-US", viewport={"width": 1000, "height": 800})
    page = context.new_page()
    keys = Keyboard(page)
    try:
        page.goto(stack.gateway + "/")
        # The skip link is the first stop and moves focus to <main>.
        page.keyboard.press("Tab")
        first = keys.focused()
        assert first["text"] == "Skip to main content" and first["visible"]
        keys.press("Enter")
        assert keys.focused()["id"] == "main"

        keys.tab_to("Activate your account")
        keys.go()
        page.wait_for_url("**/portal/activate")
        every_control_is_labelled(page)
        keys.tab_to(id="code"); keys.type(new_patient["code"])
        keys.tab_to(id="day"); keys.type(new_patient["day"])
        keys.tab_to(id="month"); keys.type(new_patient["month"])
        keys.tab_to(id="year"); keys.type(new_patient["year"])
        keys.tab_to(id="username"); keys.type(new_patient["username"])
        keys.tab_to(id="password"); keys.type("short")
        keys.go()
        # The error is announced next to its field and tied to it.
        error = page.locator("#password-error")
        assert error.get_attribute("role") == "alert" and "10 characters" in error.inner_text()
        described = page.locator("#password").get_attribute("aria-describedby").split()
        assert "password-error" in described and page.locator("#password").get_attribute("aria-invalid") == "true"
        assert page.evaluate("document.getElementById('password-error').nextElementSibling.id") == "password"
        keys.tab_to(id="password"); keys.type(PASSWORD)
        keys.go()
        assert page.locator("h1").inner_text() == "Your account is ready"

        keys.tab_to("Sign in"); keys.go()
        page.wait_for_url("**/oauth/authorize?**")
        every_control_is_labelled(page)
        keys.tab_to(id="username"); keys.type(new_patient["username"])
        keys.tab_to(id="password"); keys.type(PASSWORD)
        keys.go()
        keys.tab_to("Allow"); keys.go("Space")
        page.wait_for_url("**/portal/records")
        assert page.locator("main .cards > li").count() > 0

        keys.tab_to("Sharing"); keys.go()
        page.wait_for_url("**/portal/sharing")
        every_control_is_labelled(page)
        keys.tab_to(id="department"); keys.type("Card")
        assert page.locator("#department").input_value() == "cardiology"
        keys.tab_to(id="group-tests"); keys.press("Space")
        keys.tab_to("Share my record"); keys.go()
        page.wait_for_url("**/portal/sharing")
        assert "Cardiology can see" in page.locator("[role=status]").inner_text()
        assert page.locator("main .cards h3", has_text="Cardiology").count() == 1

        assert ask_for_records(departments["cardiology"], new_patient["id"])["status"] == "fulfilled"
        keys.tab_to("Who saw my data"); keys.go()
        page.wait_for_url("**/portal/access")
        deadline = time.monotonic() + 15
        while page.locator("main .cards h2", has_text="Cardiology").count() == 0:
            assert time.monotonic() < deadline, "cardiology's exchange never showed"
            time.sleep(0.5)
            page.reload()

        keys.tab_to("Sharing"); keys.go()
        page.wait_for_url("**/portal/sharing")
        keys.tab_to("Stop sharing"); keys.go()
        page.wait_for_url("**/portal/sharing")
        assert "You stopped sharing with Cardiology" in page.locator("[role=status]").inner_text()
        assert "No department can see your record now." in page.locator("main").inner_text()

        keys.tab_to("Sign out"); keys.go()
        page.wait_for_url(stack.gateway + "/")
        assert "You are signed out." in page.locator("[role=status]").inner_text()
        assert page.locator("nav", has_text="Sign out").count() == 0
    finally:
        context.close()
