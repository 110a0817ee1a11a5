"""Reports refused at the exchange, on SQLite and PostgreSQL, with real tokens: a token without the
route's scope, a revoked token, a body over 64 KiB, a body that is not a report. Each is a 4xx
problem+json that stores nothing and changes no report: the report rows, the queued events and
the report as its readers read it stay as they were."""
import json

import pytest

from tests.integration.test_exchange_reports import (PATIENT, WRONG_ITEM, _events, _filed, _patient, _quality,
                                                     _rows, _staff)
from tests.integration.test_exchange_reports import world  # noqa: F401 - the fixture this file builds on
from tests.support.tokens import revoked

KIB = 1024
STAFF_REPORT = {"kind": "safety", "text": "Two patients with the same name in one room."}
ANONYMOUS = {"kind": "safety", "text": "A near miss with a drip.", "anonymous": True}


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.content_type.startswith("application/problem+json")
    return resp.get_json()


def _stored(service) -> tuple[list, list]:
    """What a refused request must leave as it was: the report rows and the queued events."""
    return _rows(service.engine), _events(service.engine)


def _send(client, path: str, body, headers: dict):
    """POST BODY to PATH: raw bytes as they are, anything else as JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, data=data, content_type="application/json", headers=headers)


# -- filing a report ---------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["patient", "department", "clinician-without-report-scope", "wildcard-user",
                                 "report-read-only"])
def test_filing_a_staff_report_needs_user_report_c(world, mint, who):
    client, service, _clock, _index = world
    headers = {
        "patient": _patient(mint),
        "department": mint.department("cardiology", scope="system/*.cruds system/Report.cruds"),
        "clinician-without-report-scope": mint.staff(dept="cardiology", roles=("clinician",)),
        "wildcard-user": mint.staff(dept="cardiology", roles=("clinician",), scope="user/*.cruds"),
        "report-read-only": mint.staff(dept="cardiology", roles=("clinician",), scope="user/Report.r"),
    }[who]
    before = _stored(service)
    _problem(client.post("/staff/v1/reports", json=STAFF_REPORT, headers=headers), 403)
    assert _stored(service) == before
    # the same report with the scope is taken: the refusal above was the scope's
    assert client.post("/staff/v1/reports", json=STAFF_REPORT, headers=_staff(mint)).status_code == 201


#: (the route, who files there)
FILED_AT = [("/staff/v1/reports", "staff"), ("/patient/v1/reports", "patient")]


def _reporter(mint, who: str) -> dict:
    return _staff(mint) if who == "staff" else _patient(mint)


def _good(who: str) -> dict:
    return STAFF_REPORT if who == "staff" else WRONG_ITEM


@pytest.mark.parametrize("path, who", FILED_AT)
def test_a_report_over_64_kib_is_a_413_and_stores_nothing(world, mint, path, who):
    client, service, _clock, _index = world
    body = {**_good(who), "text": "x" * (64 * KIB)}
    before = _stored(service)
    assert _problem(_send(client, path, body, _reporter(mint, who)), 413)["max_bytes"] == 64 * KIB
    assert _stored(service) == before


#: (a body that is not a report, the fields the 422 names); "body" when it is no JSON object at all.
MALFORMED = [
    (b"{not json", ["body"]),
    (b"[]", ["body"]),
    (b'"The page would not load."', ["body"]),
    (b"null", ["body"]),
    ({"kind": 5, "text": "Slow."}, ["kind"]),
    ({"kind": "system-problem", "text": ["Slow."]}, ["text"]),
    ({"kind": "system-problem"}, ["text"]),
    ({"text": "Slow."}, ["kind"]),
    ({"kind": "system-problem", "text": "Slow.", "about": "the records page"}, ["about"]),
    ({"kind": "system-problem", "text": "Slow.", "about": {"page": 7}}, ["about"]),
    ({"kind": "system-problem", "text": "Slow.", "anonymous": "perhaps"}, ["anonymous"]),
    ({"kind": "system-problem", "text": "Slow.", "correction_request": 12}, ["correction_request"]),
]


@pytest.mark.parametrize("path, who", FILED_AT)
@pytest.mark.parametrize("body, fields", MALFORMED)
def test_a_body_that_is_not_a_report_is_a_422_naming_the_field_and_stores_nothing(world, mint, path, who, body,
                                                                                  fields):
    client, service, _clock, _index = world
    before = _stored(service)
    assert _problem(_send(client, path, body, _reporter(mint, who)), 422)["fields"] == fields
    assert _stored(service) == before


# -- triage ------------------------------------------------------------------------------------

@pytest.fixture
def read(world, mint):
    """A patient's report at primary care's quality queue, as q-1 read it: (report id, its
    ETag, what q-1 read)."""
    client, _service, _clock, _index = world
    report = _filed(client, _patient(mint))
    seen = client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint))
    assert seen.status_code == 200, seen.get_json()
    return report["id"], seen.headers["ETag"], seen.get_json()


def _unchanged(client, mint, service, read, before) -> None:
    report_id, etag, seen = read
    again = client.get(f"/staff/v1/reports/{report_id}", headers=_quality(mint))
    assert again.headers["ETag"] == etag and again.get_json() == seen
    assert _stored(service) == before
    assert _events(service.engine, "phr.feedback.updated") == []


def test_triage_with_a_revoked_token_is_a_401_and_changes_nothing(world, mint, read):
    client, service, _clock, _index = world
    report_id, etag, _seen = read
    headers = _quality(mint)
    before = _stored(service)
    with revoked(client.application, headers):
        resp = client.post(f"/staff/v1/reports/{report_id}", json={"status": "closed", "note": "Done."},
                           headers={**headers, "If-Match": etag})
        assert _problem(resp, 401)["detail"] == "The access token was revoked."
    _unchanged(client, mint, service, read, before)


def test_a_triage_body_over_64_kib_is_a_413_and_changes_nothing(world, mint, read):
    client, service, _clock, _index = world
    report_id, etag, _seen = read
    before = _stored(service)
    resp = _send(client, f"/staff/v1/reports/{report_id}", {"status": "looking-into-it", "note": "x" * (64 * KIB)},
                 {**_quality(mint), "If-Match": etag})
    assert _problem(resp, 413)["max_bytes"] == 64 * KIB
    _unchanged(client, mint, service, read, before)


@pytest.mark.parametrize("body, fields", [
    (b"{not json", ["body"]),
    (b"[]", ["body"]),
    (b'"closed"', ["body"]),
    ({"status": 5}, ["status"]),
    ({"status": "closed", "note": ["Done."]}, ["note"]),
    ({"assignee": "q-1"}, ["assignee"]),
    ({"assignee": {"fhirUser": "Practitioner/q-1"}}, ["assignee"]),
    ({"links": "Task/t-1"}, ["links"]),
    ({"links": {"disclosure": 12}}, ["links"]),
    ({"status": "looking-into-it", "links": {"correction_request": ["Task/t-1"]}}, ["links"]),
])
def test_a_triage_body_that_is_not_a_change_is_a_422_naming_the_field_and_changes_nothing(world, mint, read, body,
                                                                                          fields):
    client, service, _clock, _index = world
    report_id, etag, _seen = read
    before = _stored(service)
    resp = _send(client, f"/staff/v1/reports/{report_id}", body, {**_quality(mint), "If-Match": etag})
    assert _problem(resp, 422)["fields"] == fields
    _unchanged(client, mint, service, read, before)


# -- reading -----------------------------------------------------------------------------------

def test_a_revoked_token_reads_no_report(world, mint):
    client, _service, _clock, _index = world
    patient, quality = _patient(mint), _quality(mint)
    mine = _filed(client, patient)
    hidden = _filed(client, _staff(mint, staff_id="n-9"), ANONYMOUS, "/staff/v1/reports")
    reads = [(f"/patient/v1/reports/{mine['id']}", patient), ("/patient/v1/reports", patient),
             ("/staff/v1/reports", quality), (f"/staff/v1/reports/{mine['id']}", quality),
             ("/staff/v1/reports/hard-words", quality), (f"/staff/v1/reports/follow/{hidden['reference']}", quality)]
    for path, headers in reads:
        assert client.get(path, headers=headers).status_code == 200, path  # the token reads it until revoked
        with revoked(client.application, headers):
            refused = _problem(client.get(path, headers=headers), 401)
            assert refused["detail"] == "The access token was revoked.", path


def test_each_read_needs_its_own_interaction_in_the_scope(world, mint):
    """A patient lists with .s and reads one with .r; a member of staff follows theirs with
    user/Report.r; a scope naming the other interactions only is a 403."""
    client, _service, _clock, _index = world
    mine = _filed(client, _patient(mint))
    hidden = _filed(client, _staff(mint, staff_id="n-9"), ANONYMOUS, "/staff/v1/reports")
    nurse_without_r = mint.staff(dept="cardiology", roles=("clinician",), staff_id="n-9",
                                 scope="user/Report.cus user/*.cruds")

    def patient(scope):
        return mint.patient(PATIENT, scope=scope, sub=f"acct-{PATIENT}")

    reads = [  # (path, a token with the other interactions but not the one needed, one with it)
        ("/patient/v1/reports", patient("patient/Report.cr"), _patient(mint)),
        (f"/patient/v1/reports/{mine['id']}", patient("patient/Report.cs"), _patient(mint)),
        ("/staff/v1/reports/mine", nurse_without_r, _staff(mint, staff_id="n-9")),
        (f"/staff/v1/reports/follow/{hidden['reference']}", nurse_without_r, _staff(mint, staff_id="n-9")),
    ]
    for path, narrow, enough in reads:
        _problem(client.get(path, headers=narrow), 403)
        assert client.get(path, headers=enough).status_code == 200, path


def test_a_reference_longer_than_40_characters_is_not_followed(world, mint):
    client, _service, _clock, _index = world
    nurse = _staff(mint, staff_id="n-9")
    reference = _filed(client, nurse, ANONYMOUS, "/staff/v1/reports")["reference"]
    padded = reference + "-" * (40 - len(reference))  # dashes are read past, as a person types them
    assert client.get(f"/staff/v1/reports/follow/{padded}", headers=nurse).status_code == 200
    _problem(client.get(f"/staff/v1/reports/follow/{padded}-", headers=nurse), 404)
