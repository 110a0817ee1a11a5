"""The browser tier: the portal in headless Debian Chromium, driven by Playwright, checked by axe-core.

The stack runs on SQLite only: the portal is a client of the public API, which the e2e tier
already runs on both SQLite and PostgreSQL; running the pages twice would test the same
HTTP calls again and double this tier's time. The fixtures are package-scoped so that the stack
and the browser stop when this tier ends, not at the end of the whole run.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.client import Department, patient_login
from tests.support.mail import MailServer, SmsReceiver, notice_env
from tests.support.stack import ROOT, Stack
from tests.support.staff import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGS = ("en", "es")
FULL_SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="package")
def browser():
    """Headless Debian Chromium; missing it is a failure that says how to install it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"The browser tests need Debian's Chromium at {CHROMIUM}. Install it with "
                    "`apt-get install -y chromium` as root (or `sudo apt-get install -y chromium`), "
                    "or run `make test`, which does so when run as root.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def mail():
    """A real SMTP server for the stack's notices and address codes."""
    with MailServer() as server:
        yield server


@pytest.fixture(scope="package")
def stack(tmp_path_factory, mail):
    """The whole stack with the demo seeded, on SQLite (see the module docstring)."""
    with SmsReceiver() as sms, Stack(tmp_path_factory.mktemp("browser-stack"), extra_env=notice_env(mail, sms)) as s:
        yield s


@pytest.fixture(scope="package")
def departments(stack) -> dict[str, Department]:
    return {name: Department(stack.gateway, d["client_id"], d["client_secret"])
            for name, d in stack.credentials()["departments"].items()}


def ask_for_records(dept: Department, patient: str) -> dict:
    """Ask for PATIENT's test results as DEPT and wait for the outcome."""
    resp = dept.post("/exchange/v1/requests", json={
        "patient": patient, "purpose": "TREAT", "resource_types": ["Observation"],
        "reason": "Follow-up visit"})
    assert resp.status_code == 202, resp.text
    return dept.wait_until_done(resp.json()["id"])


@pytest.fixture(scope="package")
def shown_patient(stack, departments) -> dict:
    """A demo patient with something on every page: a consent, a disclosure, notifications."""
    creds = stack.credentials()
    who = next(p for p in creds["patients"] if p["language"].startswith("en"))
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          who["username"], who["password"], scope=FULL_SCOPE)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    granted = requests.post(f"{stack.gateway}/patient/v1/consents", headers=headers, timeout=30, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation", "Condition"]})
    assert granted.status_code == 201, granted.text
    assert ask_for_records(departments["cardiology"], who["patient"])["status"] == "fulfilled"
    return who


# checks the page tests share --------------------------------------------------------------
def axe_violations(page) -> list[str]:
    """Run axe-core with the WCAG 2.2 A and AA tags; return one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in result.response["violations"]]


def main_text_as_sentences(page) -> str:
    """The text of <main>, each block (heading, list item, label, paragraph) one sentence.

    Headings, labels and list items carry no full stop; read as one run, a page of them would
    score as one endless sentence. Readability tools treat such blocks as sentences, and so do we.
    """
    lines = [line.strip() for line in page.locator("main").inner_text().splitlines()]
    return " ".join(line if line[-1] in ".!?:;" else line + "."
                    for line in lines if line)


def reading_level_violations(page, lang: str) -> list[str]:
    """Apply the contract's plain-language rule (contracts/accessibility) to the page's main text."""
    from contracts.accessibility.model import Context, Node
    from contracts.accessibility.rules import plain_language

    node = Node("$.main", "summary", main_text_as_sentences(page))
    return [str(v) for v in plain_language(node, Context(lang, lang))]


def screenshot(page, name: str) -> None:
    """Write docs/screenshots/NAME.png (the viewport, to keep the files small)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def sign_in(page, gateway: str, username: str, password: str) -> None:
    """Sign in through the portal's own sign-in link, login form and approval page."""
    page.goto(gateway + "/portal/signin")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("main button[type=submit]").click()
    page.locator("button[value=allow]").click()
    page.wait_for_url("**/portal/**")


def sign_out(page) -> None:
    page.locator("nav button", has_text="Sign out").click()
    page.wait_for_url("**/")


def console_page(browser, member, lang: str = "en"):
    """A browser context in LANG with MEMBER (tests/support/staff.py StaffMember) signed in to the
    staff console through its pages (password, then the second factor); return (context, page)
    on the console's home page. Close the context when done."""
    context = browser.new_context(locale={"en": "en-US", "es": "es-ES"}[lang],
                                  viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.goto(member.gateway + "/console/signin")
    page.fill("#username", member.username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.locator("main button[type=submit]").last.click()
    page.fill("#code", member.second_factor())
    with page.expect_navigation():
        page.locator("main button[type=submit]").last.click()
    page.wait_for_url("**/console/")
    return context, page
