"""The notices pages with the keyboard alone: a patient adds an email address, types the code
the stack mailed to the real SMTP server and chooses email for sharing notices on
/portal/notices; a clinician reaches "Consents that ended" (/console/notices) and moves through
it. Only Tab, the arrow keys, Enter and typing (no clicks); at every stop the focused control
shows a visible outline (tests/browser/test_keyboard_journey.py, Keyboard)."""
import uuid

from tests.browser.conftest import console_page, sign_in
from tests.browser.test_keyboard_journey import Keyboard, every_control_is_labelled
from tests.support.notices import code_in
from tests.support.staff import join_over_http


def test_a_patient_sets_up_email_notices_with_the_keyboard_alone(browser, stack, shown_patient, mail):
    context = browser.new_context(locale="en-US", viewport={"width": 1000, "height": 800})
    page, keys = context.new_page(), None
    address = f"keys-{uuid.uuid4().hex[:8]}@example.org"
    try:
        sign_in(page, stack.gateway, shown_patient["username"], shown_patient["password"])
        page.goto(stack.gateway + "/portal/records")
        keys = Keyboard(page)
        keys.tab_to("Notices")
        keys.go()
        assert page.url.endswith("/portal/notices")
        every_control_is_labelled(page)

        keys.tab_to(id="address-email")
        keys.type(address)
        keys.go()  # Enter in the field sends its form
        page.wait_for_url("**/portal/notices")
        card = page.locator("main ul.cards > li", has_text=address)
        code_id = card.locator("input[autocomplete=one-time-code]").get_attribute("id")

        keys = Keyboard(page)
        keys.tab_to(id=code_id)
        keys.type(code_in(mail.wait_for(address)[-1]))
        keys.go()
        page.wait_for_url("**/portal/notices")
        assert page.locator("main ul.cards > li", has_text=address).locator(
            "input[autocomplete=one-time-code]").count() == 0

        keys = Keyboard(page)
        keys.tab_to(id="topic-sharing-in-app")  # Tab enters a radio group on its checked choice
        keys.press("ArrowRight")  # and the arrows choose within it
        assert keys.focused()["id"] == "topic-sharing-email"
        keys.tab_to("Save my choices")
        keys.go()
        assert "Your choices are saved." in page.locator("[role=status]").inner_text()
        assert page.is_checked("#topic-sharing-email")
    finally:
        context.close()


def test_a_clinician_reaches_consents_that_ended_and_moves_through_it_with_the_keyboard_alone(browser, stack):
    clinician = join_over_http(stack, "notices.keys", ["clinician"], "Kim Keys", "cardiology")
    context, page = console_page(browser, clinician, "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("Consents that ended")
        keys.go()
        assert page.url.endswith("/console/notices")
        assert page.locator("nav a[href='/console/notices'][aria-current=page]").count() == 1
        every_control_is_labelled(page)
        # From the menu on, every stop to the end of the page shows its focus.
        stops = []
        for _ in range(80):
            keys.press("Tab")
            now = keys.focused()
            if now["tag"] == "body":
                break
            assert now["visible"], f"focus is not visible on {now}"
            stops.append(now)
        else:
            raise AssertionError("Tab never left the page")
        assert stops, "no control after the menu took focus"
    finally:
        context.close()
