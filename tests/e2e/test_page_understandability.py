"""Asking patients how a page went, through the running stack on SQLite and PostgreSQL: a "no" to
"Was this page easy to understand?" on the Spanish records page is counted under that page and
language on the gateway's /metrics and on the staff console's measures dashboard."""
from __future__ import annotations

import html
import re

import requests

from tests.support.gateway import hidden_fields
from tests.support.metrics import sample
from tests.support.portal import form_with, signed_in
from tests.support.staff import PASSWORD, join_over_http

LABELS = {"page": "records", "language": "es", "answer": "no"}


def counted(gateway: str) -> float:
    return sample(requests.get(gateway + "/metrics", timeout=30).text, "phr_page_answers", **LABELS) or 0.0


def console(member) -> requests.Session:
    """MEMBER signed in to the console through its pages: password, then a code."""
    s = requests.Session()
    login = s.get(member.gateway + "/console/signin", timeout=30)
    action = login.url.split("?")[0]
    second = s.post(action, timeout=30, data={**hidden_fields(login.text), "username": member.username,
                                              "password": PASSWORD})
    home = s.post(action, timeout=30, data={**hidden_fields(second.text), "code": member.second_factor()})
    assert home.url.rstrip("/").endswith("/console"), (home.status_code, home.url)
    return s


def dashboard_number(page: str) -> str | None:
    chart = re.search(r'<section class="chart" aria-labelledby="phr-page-answers-title">(.*?)</section>', page, re.S)
    row = re.search(r'<tr><th scope="row">records, es, no</th><td>([^<]+)</td></tr>', chart.group(1))
    return html.unescape(row.group(1)) if row else None


def test_a_no_on_the_spanish_records_page_is_counted_on_metrics_and_the_dashboard(stack):
    before = counted(stack.gateway)
    who = stack.credentials()["patients"][0]
    portal = signed_in(stack.gateway, who["username"], who["password"], "es")
    records = portal.get(stack.gateway + "/portal/records", timeout=30)
    assert records.status_code == 200 and '<html lang="es"' in records.text
    assert "¿Fue fácil entender esta página?" in records.text
    form = form_with(records, "page")
    assert form["fields"]["page"] == "records" and form["fields"]["lang"] == "es"
    answered = portal.post(form["action"], timeout=30,
                           data={**form["fields"], "answer": "no", "comment": "No entiendo algunas palabras."})
    assert answered.status_code == 200 and answered.url.endswith("/portal/records")
    assert "Gracias por su respuesta" in answered.text

    assert counted(stack.gateway) == before + 1
    quality = console(join_over_http(stack, "quality.e2e", ["quality"], "Quinn E2E", "primary-care"))
    page = quality.get(stack.gateway + "/console/measures", timeout=60)
    assert page.status_code == 200, page.text
    assert dashboard_number(page.text) == f"{before + 1:.0f}"
    assert "No entiendo algunas palabras." in page.text
    # the other services' figures come through the public API too (consent always counts its requests)
    assert re.search(r'<tr><th scope="row">open</th><td>\d+</td></tr>', page.text)
