"""The console's list of words readers found hard (gateway/portal/console_reports.py hard_words)
over real HTTP, on SQLite and PostgreSQL, with the exchange standing in as a real HTTP server:
quality staff see their department's words counted, in English and Spanish; a clinician is
refused; and an assignee the exchange refuses is said next to "Assign it to me"."""
from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Response

from tests.integration.test_gateway_console_measures import signed_in
from tests.support.gateway import Upstream, hidden_fields

WORDS = {"items": [{"language": "es", "page": "/portal/records", "words": "Recibido", "count": 3},
                   {"language": "en", "page": "/portal/reports", "words": "Looking into it", "count": 1}]}


@pytest.fixture
def exchange():
    """The exchange: WORDS at the hard-words list, an empty quality queue; every request it gets is
    kept (``exchange.requests``)."""
    def answer(req):
        body = WORDS if req.path == "/staff/v1/reports/hard-words" else {"items": [], "next": None}
        return Response(json.dumps(body), 200, content_type="application/json")
    with Upstream() as server:
        server.handler = answer
        yield server


@pytest.fixture
def gw_settings(exchange) -> dict:
    """The console's gateway (tests/integration/conftest.py gw) forwarding to EXCHANGE."""
    return {"peers": {"exchange": exchange.url}}


def test_quality_staff_see_the_words_readers_found_hard_counted(gw, clock, exchange):
    s = signed_in(gw, clock, ("quality",), "q.words")
    queue_link = s.get(gw.url + "/console/quality", timeout=30)
    assert 'href="/console/quality/hard-words"' in queue_link.text
    page = s.get(gw.url + "/console/quality/hard-words", timeout=30)
    assert page.status_code == 200, page.text
    assert '<th scope="row" lang="es">Recibido</th><td>es</td><td>/portal/records</td><td>3</td>' in page.text
    assert '<th scope="row" lang="en">Looking into it</th><td>en</td><td>/portal/reports</td><td>1</td>' in page.text
    assert [r["path"] for r in exchange.requests][-1] == "/staff/v1/reports/hard-words"


def test_the_hard_words_page_speaks_spanish_and_says_when_there_are_none(gw, clock, exchange):
    exchange.handler = lambda req: Response(json.dumps({"items": []}), 200, content_type="application/json")
    s = signed_in(gw, clock, ("quality",), "q.palabras", "es")
    page = s.get(gw.url + "/console/quality/hard-words", timeout=30)
    assert page.status_code == 200 and 'lang="es"' in page.text
    assert "Todavía nadie nos ha dicho qué palabras le costó entender." in page.text


def test_a_clinician_is_refused_the_hard_words_and_the_exchange_is_not_asked(gw, clock, exchange):
    s = signed_in(gw, clock, ("clinician",), "dr.words")
    refused = s.get(gw.url + "/console/quality/hard-words", timeout=30)
    assert refused.status_code == 403
    assert not [r for r in exchange.requests if r["path"] == "/staff/v1/reports/hard-words"]


REPORT = {"id": "r-1", "reference": "R-0000-0000-0001", "kind": {"code": "safety", "text": "Safety"},
          "status": {"code": "received", "text": "Received"}, "note": None, "about": {}, "comment": "A near miss.",
          "received": {"display": "1 March 2026"}, "closed": None, "reporter": {"kind": "anonymous-staff"},
          "department": None, "assignee": None, "links": dict.fromkeys(("correction_request", "break_glass_review",
                                                                         "disclosure")), "version": 1}


def test_an_assignee_the_exchange_refuses_is_said_next_to_assign_it_to_me(gw, clock, exchange):
    refusal = {"type": "about:blank", "title": "Unprocessable Content", "status": 422, "fields": ["assignee"],
               "detail": "Assign the report to an active member of your department's quality team."}

    def answer(req):
        if req.method == "POST":
            return Response(json.dumps(refusal), 422, content_type="application/problem+json")
        return Response(json.dumps(REPORT), 200, content_type="application/json", headers={"ETag": 'W/"1"'})
    exchange.handler = answer
    s = signed_in(gw, clock, ("quality",), "q.assign")
    form = s.get(gw.url + "/console/quality/r-1", timeout=30)
    assert form.status_code == 200, form.text
    sent = s.post(gw.url + "/console/quality/r-1", timeout=30,
                  data={**hidden_fields(form.text), "assign": "me", "version": "1"})
    assert sent.status_code == 422
    assert ('id="assignee-error" role="alert"><span class="tag">Error:</span> Assign the report to an active '
            "member of your department&#39;s quality team.</p>") in sent.text
    assert 'name="assign" value="me" checked aria-describedby="assignee-error"' in sent.text
