"""Revocation receipts through the running stack (SQLite and PostgreSQL, the real broker): a
patient shares with cardiology, cardiology's exchange is fulfilled, the patient stops sharing;
cardiology's inbox and its webhook receiver (a small HTTP server here, refusing the first try and
verifying the JWS against the gateway's JWK Set) get the notice, and the patient's receipt names
cardiology. Cardiology's admin registers the webhook from the department admin API; its staff
sign in as the console signs them in (tests/support/staff.py)."""
from __future__ import annotations

import time

import pytest
import requests
from joserfc.errors import BadSignatureError

from tests.support.client import Department, demo_patient_headers
from tests.support.staff import join_over_http
from tests.support.webhooks import Receiver, tampered, verify

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"
# A kind no other module shares with cardiology, so this consent is the one the notice names.
KINDS = ["AllergyIntolerance"]


def _until(check, timeout: float = 45.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, f"timed out waiting for {what}"
            return found
        time.sleep(0.2)


def _get(stack, path: str, headers: dict) -> requests.Response:
    return requests.get(stack.gateway + path, headers=headers, timeout=30)


def test_stopping_sharing_tells_cardiology_in_its_inbox_and_by_a_signed_webhook_and_the_patient_gets_a_receipt(stack):
    creds = stack.credentials()
    admin = join_over_http(stack, "cardio.webadmin", ["admin"], "Cardio Admin", "cardiology")
    clinician = join_over_http(stack, "cardio.inbox", ["clinician"], "Dr. Inbox", "cardiology")
    other = join_over_http(stack, "er.inbox", ["clinician"], "Dr. Other", "emergency")
    cardiology = Department(stack.gateway, **{k: creds["departments"]["cardiology"][k]
                                              for k in ("client_id", "client_secret")})
    # one token each (five minutes): every sign-in spends an authenticator or recovery code
    admin, dr, er = admin.headers(), clinician.headers(), other.headers()
    who, me = demo_patient_headers(stack, 1, SCOPE)
    patient = who["patient"]

    with Receiver(statuses=[503]) as receiver:
        set_url = requests.put(stack.gateway + "/staff/v1/admin/webhook", headers=admin, timeout=30,
                               json={"webhook_url": receiver.url})
        assert set_url.status_code == 200, set_url.text
        assert set_url.json()["webhook_url"] == receiver.url
        refused = requests.put(stack.gateway + "/staff/v1/admin/webhook", headers=dr, timeout=30,
                               json={"webhook_url": receiver.url})
        assert refused.status_code == 403, "only the department's admin registers it"

        granted = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=30, json={
            "grantee": "cardiology", "purposes": ["TREAT"], "classes": KINDS})
        assert granted.status_code == 201, granted.text
        consent_id = granted.json()["id"]
        asked = cardiology.post("/exchange/v1/requests", json={"patient": patient, "purpose": "TREAT",
                                                               "resource_types": KINDS})
        assert asked.status_code == 202, asked.text
        done = cardiology.wait_until_done(asked.json()["id"])
        assert done["status"] == "fulfilled", done
        # the directory's change reached the exchange before the consent ends (its own topic)
        time.sleep(1.0)
        gone = requests.delete(f"{stack.gateway}/patient/v1/consents/{consent_id}", headers=me, timeout=30)
        assert gone.status_code == 200, gone.text

        inbox = _until(lambda: [n for n in _get(stack, "/staff/v1/inbox/notices", dr).json()["items"]
                                if n["consent"]["id"] == consent_id], what="cardiology's notice")
        notice = inbox[0]
        assert notice["kind"] == "consent-revoked" and notice["patient"] == patient
        assert [r["request_id"] for r in notice["releases"]] == [asked.json()["id"]]

        _until(lambda: len(receiver.got) >= 2, what="the webhook's retry after a refusal")
        headers, body = receiver.got[-1]
        assert receiver.got[0][1] == body and headers["Content-Type"] == "application/jose"
        jwks = requests.get(stack.gateway + "/oauth/jwks", timeout=30).json()
        payload = verify(jwks, body)
        assert payload["jti"] == notice["id"] and payload["consent"]["id"] == consent_id
        assert payload["department"] == "cardiology" and payload["type"] == "consent-revoked"
        with pytest.raises(BadSignatureError):
            verify(jwks, tampered(body))

    one = _until(lambda: (lambda n: n if n["webhook"]["status"]["code"] == "delivered" else None)(
        _get(stack, f"/staff/v1/inbox/notices/{notice['id']}", dr).json()),
        what="the delivery recorded")
    assert [t["status_code"] for t in one["webhook"]["tries"]] == [503, 204]

    receipt = _until(lambda: [n for n in _get(stack, "/patient/v1/notifications", me).json()["items"]
                              if n["kind"] == "receipt-revoked"
                              and "cardiology" in [t["department"]["department"] for t in n.get("told", [])]],
                     what="the patient's receipt")[0]
    assert "Cardiology" in receipt["message"]
    spanish = _get(stack, "/patient/v1/notifications", {**me, "Accept-Language": "es"}).json()["items"]
    assert any(n["id"] == receipt["id"] and "Cardiología" in n["message"] for n in spanish)

    # another department's staff do not find it; a patient's token is refused at the gateway
    assert notice["id"] not in [n["id"] for n in _get(stack, "/staff/v1/inbox/notices", er).json()["items"]]
    assert _get(stack, f"/staff/v1/inbox/notices/{notice['id']}", er).status_code == 404
    assert _get(stack, "/staff/v1/inbox/notices", me).status_code == 403
    assert _get(stack, "/staff/v1/inbox/notices", {}).status_code == 401
