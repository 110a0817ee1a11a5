"""Revocation receipts' pure rules (services/exchange/domain/receipts.py): which releases an ended
consent covered, by department; what the signed payload says; how a webhook delivery is retried
and when it is given up."""
from datetime import datetime, timedelta, timezone

from services.exchange.domain import receipts as r


def _entry(seq, recipient, consent_id="c-1", basis="consent", kinds=("Observation",)):
    return {"seq": seq, "request_id": f"req-{seq}", "recipient": recipient, "consent_id": consent_id,
            "basis": basis, "resource_types": list(kinds), "resource_count": 2,
            "released_at": f"2026-12-0{seq}T10:00:00+00:00"}


def test_the_releases_on_the_consent_are_grouped_by_department_in_ledger_order():
    entries = [_entry(3, "cardiology"), _entry(1, "cardiology", kinds=("Observation", "Observation")),
               _entry(2, "research"), _entry(4, "cardiology", consent_id="c-2"),
               _entry(5, "emergency", consent_id=None, basis="break-glass")]
    found = r.releases_by_department(entries, "c-1")
    assert sorted(found) == ["cardiology", "research"]
    assert [x["ledger_seq"] for x in found["cardiology"]] == [1, 3]
    assert found["cardiology"][0]["resource_types"] == ["Observation"]


def test_an_emergency_release_rests_on_no_consent_and_is_never_in_a_notice():
    assert r.releases_by_department([_entry(1, "emergency", basis="break-glass")], "c-1") == {}


def test_the_payload_names_the_consent_how_it_ended_and_the_releases_by_id():
    now = datetime(2026, 12, 6, 8, tzinfo=timezone.utc)
    notice = r.Notice("n-1", "cardiology", "p-1", "consent-revoked", "c-1", 3, now, [{"request_id": "req-1"}], now)
    payload = r.payload(notice, "https://phr.example.org", now)
    assert payload == {"iss": "https://phr.example.org", "jti": "n-1", "iat": int(now.timestamp()),
                       "type": "consent-revoked", "department": "cardiology", "patient": "p-1",
                       "consent": {"id": "c-1", "version": 3, "ended_at": now.isoformat()},
                       "releases": [{"request_id": "req-1"}]}


def test_a_delivery_waits_longer_after_each_failure_up_to_five_minutes_and_is_given_up_at_the_bound():
    assert [r.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert r.retry_delay(30) == timedelta(minutes=5)
    assert r.after_attempt(1, delivered=True) == r.DELIVERED
    assert r.after_attempt(r.MAX_ATTEMPTS - 1, delivered=False) == r.PENDING
    assert r.after_attempt(r.MAX_ATTEMPTS, delivered=False) == r.FAILED
