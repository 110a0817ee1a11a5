"""The portal works with JavaScript switched off: every page is a plain HTML form or link."""

def test_a_patient_shares_stops_and_changes_settings_with_javascript_off(browser, stack, shown_patient):
    context = browser.new_context(java_script_enabled=False, locale="en-US",
                                  viewport={"width": 1000, "height": 800})
    page = context.new_page()
    try:
        page.goto(stack.gateway + "/")
        assert page.locator("script").count() == 0
        page.get_by_role("link", name="Sign in").click()
        page.get_by_label("Username").fill(shown_patient["username"])
        page.get_by_label("Password").fill(shown_patient["password"])
        page.get_by_label("Password").press("Enter")
        page.get_by_role("button", name="Allow", exact=True).click()
        page.wait_for_url("**/portal/records")

        page.get_by_role("link", name="Sharing").click()
        page.get_by_label("Department", exact=True).select_option("emergency")
        page.get_by_label("Vaccines").check()
        page.get_by_role("button", name="Share my record").click()
        assert "Emergency can see" in page.get_by_role("status").inner_text()
        page.get_by_role("button", name="Stop sharing with Emergency").click()
        assert "You stopped sharing with Emergency" in page.get_by_role("status").inner_text()

        page.get_by_role("link", name="Settings").click()
        page.get_by_label("Largest").check()
        page.get_by_label("High contrast", exact=False).check()
        page.get_by_role("button", name="Save settings").click()
        assert page.locator("html").get_attribute("class") == "text-largest contrast-high"
        page.get_by_role("link", name="Español").click()
        assert page.locator("html").get_attribute("lang") == "es"
        page.get_by_role("button", name="Salir").click()
        assert "Ha salido de su cuenta." in page.get_by_role("status").inner_text()
        # The choices outlive the sign-in: they are the browser's, not the account's.
        assert page.locator("html").get_attribute("class") == "text-largest contrast-high"
    finally:
        context.close()
