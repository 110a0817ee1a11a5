"""A caregiver signs in through the same portal and sees only what the patient allowed."""
import requests

from tests.browser.conftest import FULL_SCOPE, axe_violations, sign_in, sign_out
from tests.support.client import patient_login


def test_a_caregiver_invited_on_the_settings_page_reads_the_records_but_cannot_share(
        browser, stack, shown_patient):
    creds = stack.credentials()
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          shown_patient["username"], shown_patient["password"], scope=FULL_SCOPE)
    me = requests.get(f"{stack.gateway}/patient/v1/me", timeout=30,
                      headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    year, month, day = me["birth_date"]["iso"].split("-")
    context = browser.new_context(locale="en-US", viewport={"width": 1000, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, stack.gateway, shown_patient["username"], shown_patient["password"])
        page.get_by_role("link", name="Settings").click()
        page.get_by_label("Their name").fill("Ana")
        page.get_by_label("See my health records", exact=True).check()
        page.get_by_role("button", name="Make an invite code").click()
        code = page.locator(".code").inner_text()
        assert "Ana can see your health records until" in page.get_by_role("status").inner_text()
        sign_out(page)

        page.goto(stack.gateway + "/portal/activate")
        for field, value in (("code", code), ("day", day), ("month", month), ("year", year),
                             ("username", "ana.helps"), ("password", "ana's long password")):
            page.locator(f"#{field}").fill(value)
        page.get_by_role("button", name="Activate my account").click()
        assert page.locator("h1").inner_text() == "Your account is ready"

        sign_in(page, stack.gateway, "ana.helps", "ana's long password")
        assert page.locator("header .who").inner_text() == f"You are acting for {me['name']}."
        assert page.locator("main .cards > li").count() > 0
        menu = page.locator("nav").inner_text()
        assert "My records" in menu and "Sharing" not in menu
        assert axe_violations(page) == []
        page.goto(stack.gateway + "/portal/sharing")
        assert page.locator("h1").inner_text() == "Not allowed"
        page.goto(stack.gateway + "/portal/settings")
        assert "People who help me" not in page.locator("main").inner_text()
    finally:
        context.close()
