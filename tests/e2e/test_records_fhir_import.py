"""Records end to end: `phr import` of every Synthea bundle through the gateway, search through the
gateway, and a phr.records.fetch request answered over Kafka with a claim-check Bundle."""
import io
import json
import time
import uuid
from collections import Counter
from pathlib import Path

from services.common import envelope, kafka
from services.records.entrypoints.cli import import_folder
from tests.support.client import Department

SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-r4"


def _department(stack, name="primary-care"):
    creds = stack.credentials()["departments"][name]
    return Department(stack.gateway, creds["client_id"], creds["client_secret"]), creds


def test_phr_import_posts_every_synthea_bundle_through_the_gateway_with_nothing_lost(stack):
    dept, creds = _department(stack)
    progress = io.StringIO()
    summary = import_folder(SYNTHEA, stack.gateway, creds["client_id"], creds["client_secret"], progress)
    assert summary.failures == [] and summary.bundles == 27
    sent = Counter()
    for path in SYNTHEA.glob("*.json"):
        sent.update(e["resource"]["resourceType"] for e in json.loads(path.read_text())["entry"])
    assert summary.types == sent and summary.resources == sum(sent.values())
    assert "27/27 bundles" in progress.getvalue()
    patients = dept.get("/fhir/Patient?_count=100").json()
    assert patients["total"] == 25  # the three demo patients are among the 25 (same ids, same content)
    liz = "ee9f8dd8-72d2-4769-8020-89e504b1504b"  # Liz Conn (the file name carries another uuid)
    page = dept.get(f"/fhir/Observation?patient={liz}&code=http://loinc.org|8302-2&_count=2").json()
    assert page["total"] >= 2 and len(page["entry"]) == 2
    nxt = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert dept.get(nxt).status_code == 200


def test_a_fetch_request_on_kafka_is_answered_with_a_claim_check_the_requester_downloads(stack):
    dept, _ = _department(stack)
    liz = "ee9f8dd8-72d2-4769-8020-89e504b1504b"  # Liz Conn (the file name carries another uuid)
    request_id = f"e2e-{uuid.uuid4().hex[:10]}"
    request = envelope.new_event("phr.records.fetch", "/services/exchange", liz, {
        "request_id": request_id, "patient": liz, "resource_types": ["Patient", "Condition"],
        "redact_labels": ["PSY"], "requester": "cardiology"})
    reader = kafka.consumer(stack.bootstrap, f"e2e-{uuid.uuid4().hex[:6]}", ["phr.records.fetch.v1"])
    producer = kafka.producer(stack.bootstrap)
    reply, deadline = None, time.monotonic() + 45
    try:
        while not reader.assignment() and time.monotonic() < deadline:
            reader.poll(timeout_ms=200)
        producer.send("phr.records.fetch.v1", key=liz.encode(), value=json.dumps(request).encode())
        producer.flush()
        while reply is None and time.monotonic() < deadline:
            for messages in reader.poll(timeout_ms=300).values():
                for m in messages:
                    event = envelope.parse(m.value)
                    if event["type"] == "phr.records.fetched" and event["data"]["request_id"] == request_id:
                        reply = event["data"]
    finally:
        reader.close()
        producer.close()
    assert reply is not None, "no phr.records.fetched reply reached the broker"
    assert reply["patient"] == liz and reply["resource_count"] >= 1
    cardiology, _ = _department(stack, "cardiology")
    url = f"{stack.url('records')}/internal/v1/bundles/{reply['bundle_ref']}"
    got = cardiology.session.get(url, timeout=30)
    assert got.status_code == 200 and got.json()["type"] == "collection"
    assert {e["resource"]["resourceType"] for e in got.json()["entry"]} <= {"Patient", "Condition"}
    assert dept.session.get(url, timeout=30).status_code == 404
