"""The measures dashboard (gateway/portal/console_measures.py) in a real browser on the running
stack, in English and Spanish: axe-core finds no WCAG 2.2 A/AA violation, each chart's table
holds exactly the numbers its bars show (both read from the page), and a quality member of staff
reaches it with the keyboard alone."""
from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, console_page, screenshot
from tests.browser.test_keyboard_journey import Keyboard
from tests.support.staff import join_over_http

#: Each chart's bars (label, shown value) and its table's rows (label, number), read from the DOM.
CHARTS = """() => [...document.querySelectorAll("section.chart")].map(s => ({
  id: s.getAttribute("aria-labelledby"),
  named: s.querySelector("svg").getAttribute("role") === "img"
         && !!document.getElementById(s.querySelector("svg").getAttribute("aria-labelledby")).textContent.trim(),
  bars: [...s.querySelectorAll("svg g.bar")].map(g => [g.querySelector("text.label").textContent.trim(),
                                                     g.querySelector("text.value").textContent.trim()]),
  rows: [...s.querySelectorAll("table tbody tr")].map(r => [r.querySelector("th").textContent.trim(),
                                                          r.querySelector("td").textContent.trim()])}))"""


@pytest.fixture(scope="module")
def quality(stack):
    return join_over_http(stack, "quality.dash", ["quality"], "Quinn Quality", "primary-care")


def an_answer_on_the_home_page(browser, stack) -> None:
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    try:
        page.goto(stack.gateway + "/")
        page.fill("#page-answer-comment", "Algunas palabras son difíciles.")
        with page.expect_navigation():
            page.locator("form.page-answer button[value=no]").click()
        assert "Gracias por su respuesta" in page.locator("main").inner_text()
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_dashboard_passes_axe_and_its_tables_hold_the_charts_numbers(browser, stack, quality, lang):
    an_answer_on_the_home_page(browser, stack)
    context, page = console_page(browser, quality, lang)
    try:
        page.goto(stack.gateway + "/console/measures")
        assert page.locator("html").get_attribute("lang") == lang
        charts = page.evaluate(CHARTS)
        assert len(charts) > 10
        for chart in charts:
            assert chart["named"], chart["id"]
            assert chart["bars"] == chart["rows"] and chart["rows"], chart["id"]
        answers = next(c for c in charts if c["id"] == "phr-page-answers-title")
        assert any(label.startswith("home, es, no") for label, _value in answers["rows"])
        assert axe_violations(page) == []
        screenshot(page, f"console-measures-{lang}")
    finally:
        context.close()


def test_a_quality_member_of_staff_reaches_the_dashboard_with_the_keyboard_alone(browser, stack, quality):
    context, page = console_page(browser, quality, "en")
    keys = Keyboard(page)
    try:
        keys.tab_to("Measures")
        keys.go()
        assert page.url.endswith("/console/measures")
        assert page.locator("h1").inner_text() == "Measures"
    finally:
        context.close()
