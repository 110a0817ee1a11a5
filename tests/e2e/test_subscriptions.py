"""Subscriptions end to end: cardiology subscribes to a patient's new lab results; primary care
writes them; the notification names the new Observation's id while the patient's consent
permits, and nothing starts after the revoke returned, while records are still being written."""
import secrets
import threading
import time

import pytest
import requests

from tests.support.client import Department, patient_login
from tests.support.fhir import small_bundle
from tests.support.hooks import Receiver

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"
PAYLOAD_CONTENT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"


def _department(stack, name: str) -> Department:
    creds = stack.credentials()["departments"][name]
    return Department(stack.gateway, creds["client_id"], creds["client_secret"])


def _new_patient(stack, custodian: Department) -> tuple[str, dict]:
    """A patient of this module alone (so that no other module's consents or records count):
    imported by primary care, with a portal account; return (id, the patient's auth headers)."""
    bundle = small_bundle(observations=1)
    patient = bundle["entry"][0]["resource"]
    assert custodian.post("/fhir", json=bundle).status_code == 200
    code = custodian.post("/accounts/v1/activation-codes", json={"patient": patient["id"]})
    assert code.status_code in (200, 201), code.text
    username, password = f"subs.{patient['id'][:8]}", secrets.token_urlsafe(12)
    act = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=30, json={
        "code": code.json()["code"], "birth_date": patient["birthDate"], "username": username,
        "password": password})
    assert act.status_code in (200, 201), act.text
    portal = stack.credentials()["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"], username, password,
                          scope=SCOPE)
    return patient["id"], {"Authorization": f"Bearer {token['access_token']}"}


def _observation(custodian: Department, patient: str, n: int) -> str:
    resp = custodian.post("/fhir/Observation", headers={"Content-Type": "application/fhir+json"}, json={
        "resourceType": "Observation", "status": "final", "code": {"text": f"Heart rate {n}"},
        "subject": {"reference": f"Patient/{patient}"}, "valueQuantity": {"value": 60 + n % 40, "unit": "/min"}})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_subscription_names_new_results_under_consent_and_nothing_starts_after_the_revoke_returned(
        stack, receiver):
    primary, cardiology = _department(stack, "primary-care"), _department(stack, "cardiology")
    patient, me = _new_patient(stack, primary)
    consent = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert consent.status_code == 201, consent.text
    created = cardiology.post("/fhir/Subscription", headers={"Content-Type": "application/fhir+json"}, json={
        "resourceType": "Subscription", "status": "requested", "reason": "Follow-up of heart rate",
        "criteria": f"Observation?patient=Patient/{patient}",
        "channel": {"type": "rest-hook", "endpoint": receiver.url, "payload": "application/fhir+json",
                    "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]}}})
    assert created.status_code == 201, created.text

    # While the consent permits: a new Observation's id comes to the endpoint.
    first = _observation(primary, patient, 0)
    assert _wait(lambda: first in receiver.ids()), f"no notification named {first}: {receiver.got}"

    # The race: primary care keeps writing results while the patient revokes.
    written, stop = [], threading.Event()

    def keep_writing():
        n = 1
        while not stop.is_set():
            written.append((time.time(), _observation(primary, patient, n)))
            n += 1
            time.sleep(0.02)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        before = len(receiver.got)
        assert _wait(lambda: len(receiver.got) >= before + 2), "notifications stopped before the revoke"
        revoked = requests.delete(f"{stack.gateway}/patient/v1/consents/{consent.json()['id']}", headers=me,
                                  timeout=30)
        revoke_returned = time.time()
        assert revoked.status_code == 200, revoked.text
        time.sleep(2.0)  # records keep coming after the revoke
    finally:
        stop.set()
        writer.join(timeout=30)
    after = [w for w in written if w[0] > revoke_returned]
    assert len(after) >= 5, "too few records written after the revoke to race it"
    time.sleep(3.0)  # let every delivery owed for them be decided

    late = [g for g in receiver.got if g["at"] > revoke_returned]
    assert late == [], f"{len(late)} notifications started after the revoke returned"
    assert not set(receiver.ids()) & {rid for _, rid in after}
    # Each notification sent is an entry of the disclosure ledger the patient reads.
    page = requests.get(f"{stack.gateway}/patient/v1/disclosures?limit=100", headers=me, timeout=10)
    assert page.status_code == 200, page.text
    to_cardiology = [d for d in page.json()["items"] if d["recipient"]["department"] == "cardiology"]
    assert len(to_cardiology) == len(receiver.got) >= 3


def test_through_the_gateway_a_revoked_token_or_a_department_without_the_scope_makes_nothing(stack):
    creds = stack.credentials()["departments"]
    cardiology, research = _department(stack, "cardiology"), _department(stack, "research")
    body = {"resourceType": "Subscription", "status": "requested", "reason": "Follow-up",
            "criteria": "Observation?patient=Patient/p-1",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook"}}
    fhir = {"Content-Type": "application/fhir+json"}
    before = cardiology.get("/fhir/Subscription").json()["total"]
    assert research.post("/fhir/Subscription", json=body, headers=fhir).status_code == 403
    revoked = requests.post(f"{stack.gateway}/oauth/revoke", data={"token": cardiology.token}, timeout=10,
                            auth=(creds["cardiology"]["client_id"], creds["cardiology"]["client_secret"]))
    assert revoked.status_code == 200, revoked.text
    refused = cardiology.post("/fhir/Subscription", json=body, headers=fhir)
    assert refused.status_code == 401, refused.text
    assert _department(stack, "cardiology").get("/fhir/Subscription").json()["total"] == before
