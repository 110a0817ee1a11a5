"""The words readers found hard feed the wording review, on SQLite and PostgreSQL: a department's
quality staff list those of their reports counted by language and page
(GET /staff/v1/reports/hard-words), and `make wording-review` prints every report's next to the
catalog entries that hold them."""
import io

from services.exchange.entrypoints import wording_review
from tests.integration.test_exchange_reports import OTHER, _filed, _patient, _quality, _staff
from tests.integration.test_exchange_reports import world  # noqa: F401 - the fixture this file builds on

URL = "/staff/v1/reports/hard-words"


def _hard(words, page="/portal/records"):
    return {"kind": "hard-to-understand", "text": "I could not read this.", "about": {"page": page, "words": words}}


def _reported(client, mint):
    """Three Spanish readers of primary care's patient and one English one; one of cardiology's."""
    for words in ("Recibido", "  recibido ", "Recibido"):
        _filed(client, _patient(mint, locale="es"), _hard(words))
    _filed(client, _patient(mint), _hard("Looking into it", "/portal/reports"))
    _filed(client, _patient(mint, OTHER, locale="es"), _hard("cardiología privada"))


def test_quality_staff_see_their_departments_hard_words_counted_by_language_and_page(world, mint):
    client, _service, _clock, _index = world
    _reported(client, mint)
    resp = client.get(URL, headers=_quality(mint))
    assert resp.status_code == 200
    assert resp.get_json()["items"] == [
        {"language": "es", "page": "/portal/records", "words": "Recibido", "count": 3},
        {"language": "en", "page": "/portal/reports", "words": "Looking into it", "count": 1}]
    theirs = client.get(URL, headers=_quality(mint, dept="cardiology")).get_json()["items"]
    assert [(i["words"], i["count"]) for i in theirs] == [("cardiología privada", 1)]


def test_only_quality_staff_read_the_hard_words(world, mint):
    client, _service, _clock, _index = world
    _reported(client, mint)
    for who in (_staff(mint, "primary-care"), _staff(mint, "primary-care", ("privacy-officer",)),
                _patient(mint), {}):
        resp = client.get(URL, headers=who)
        assert resp.status_code in (401, 403) and resp.content_type.startswith("application/problem+json")


def test_the_wording_review_prints_each_words_next_to_the_catalog_entries_that_hold_them(world, mint):
    client, service, _clock, _index = world
    _reported(client, mint)
    out = io.StringIO()
    assert wording_review.review(service.uow(write=False), out) == 3
    text = out.getvalue()
    assert '[es] /portal/records: "Recibido" (3 reports)\n    shared: Recibido   (msgid: Received)\n' in text
    assert '[en] /portal/reports: "Looking into it" (1 report)\n    shared: Looking into it\n' in text
    assert '"cardiología privada" (1 report)\n    no catalog entry holds these words' in text
    only = io.StringIO()
    assert wording_review.review(service.uow(write=False), only, "en") == 1 and "[es]" not in only.getvalue()


def test_the_wording_review_says_so_when_no_reader_named_hard_words(world, mint):
    _client, service, _clock, _index = world
    out = io.StringIO()
    assert wording_review.review(service.uow(write=False), out) == 0
    assert out.getvalue() == "No reader has said any words were hard to understand.\n"
