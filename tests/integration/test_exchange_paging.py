"""The patient's disclosures and notifications page with the one cursor (services.common.paging)."""
from datetime import datetime, timezone

import pytest

from services.common import paging
from services.exchange.adapters.fakes import Pump
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from services.exchange.service_layer.unit_of_work import on

PATIENT = "p-1"
WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def three_of_each(exchange, mint):
    """Three released requests for PATIENT (three disclosures, each told in a notification) and
    three consent notices."""
    svc = exchange.service
    svc.consent.permits[(PATIENT, "cardiology")] = []
    for _ in range(3):
        resp = exchange.client.post("/exchange/v1/requests", headers=mint.department("cardiology"), json={
            "patient": PATIENT, "purpose": "TREAT", "resource_types": ["Observation"]})
        assert resp.status_code == 202
    Pump(svc, svc.records, flow_handlers(svc)).run()
    with svc.uow() as uow:
        for n in range(3):
            NOTIFY_HANDLERS["phr.consent.revoked"](uow, {
                "id": f"e-{n}", "type": "phr.consent.revoked", "time": f"2026-03-0{n + 1}T00:00:00Z",
                "data": {"patient": PATIENT, "consent_id": f"c-{n}",
                         "grantee": {"kind": "department", "id": "cardiology"}}})
    return exchange.client, mint.patient(PATIENT, scope="patient/*.rs", sub="acct-1")


def _walk(client, headers, path, limit):
    url, pages, items = f"{path}?limit={limit}", 0, []
    while url:
        body = client.get(url, headers=headers).get_json()
        items += body["items"]
        pages += 1
        url = f"{path}?limit={limit}&cursor={body['next']}" if body["next"] else None
    return pages, items


@pytest.mark.parametrize("path, limit, pages, count", [
    ("/patient/v1/disclosures", 2, 2, 3), ("/patient/v1/disclosures", 3, 1, 3),
    ("/patient/v1/notifications", 1, 6, 6), ("/patient/v1/notifications", 4, 2, 6),  # 3 notices, 3 disclosures
])
def test_every_item_is_seen_once_newest_first_by_following_next(three_of_each, path, limit, pages, count):
    client, me = three_of_each
    seen_pages, items = _walk(client, me, path, limit)
    everything = client.get(f"{path}?limit=100", headers=me).get_json()
    assert seen_pages == pages and [i["id"] for i in items] == [i["id"] for i in everything["items"]]
    assert len({i["id"] for i in items}) == count and everything["next"] is None


@pytest.mark.parametrize("path, cursor", [
    ("/patient/v1/notifications", paging.encode("disclosures", 1)),  # another list's
    ("/patient/v1/disclosures", paging.encode("records", "2024-01-01", "Observation", "o-1")),
    ("/patient/v1/disclosures", "1"),  # the offset the lists used to give: refused, not misread
    ("/patient/v1/disclosures", paging.encode("disclosures", 1) + "A"),
])
def test_a_cursor_this_list_did_not_give_is_a_422_naming_it(three_of_each, path, cursor):
    client, me = three_of_each
    resp = client.get(path, query_string={"cursor": cursor}, headers=me)
    assert resp.status_code == 422 and resp.content_type.startswith("application/problem+json")
    assert resp.get_json()["fields"] == ["cursor"]


def test_a_notification_is_stored_once_per_source_on_a_consumers_connection(exchange):
    with exchange.engine.begin() as conn:
        on(conn).notifications.add_once(PATIENT, "consent-granted", "s-1", WHEN, {"department": "x"})
        on(conn).notifications.add_once(PATIENT, "consent-granted", "s-1", WHEN, {"department": "y"})
    with exchange.service.uow(write=False) as uow:
        notes, more = uow.notifications.for_patient(PATIENT, 10, 0)
    assert [n.params for n in notes] == [{"department": "x"}] and not more
