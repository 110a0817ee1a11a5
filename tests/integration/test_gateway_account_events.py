"""The gateway queues account facts in its outbox with the change itself (the equity report's source)."""
from __future__ import annotations

import json

import sqlalchemy as sa

from contracts.events import problems
from gateway import schema
from tests.support.gateway import activate, bearer, caregiver, invite, make_patient, sign_in


def queued(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.seq)).mappings().all()
    assert all(r["topic"] == "phr.accounts.v1" and r["key"] for r in rows)
    return [json.loads(r["payload"]) for r in rows]


def test_issuing_a_code_and_activating_queue_one_event_each_that_conform(client, engine, code):
    assert activate(client, code).status_code == 201
    events = queued(engine)
    assert [e["type"] for e in events] == ["phr.accounts.activation-code-issued", "phr.accounts.activated"]
    assert all(e["subject"] == "p-9" and e["data"]["patient"] == "p-9" for e in events)
    assert events[0]["data"]["department"] == "primary-care"
    assert [problems(e) for e in events] == [[], []]


def test_a_failed_activation_queues_nothing_more(client, engine, code):
    assert activate(client, code, birth_date="1900-01-01").status_code == 400
    assert [e["type"] for e in queued(engine)] == ["phr.accounts.activation-code-issued"]


def test_a_caregiver_joining_and_the_patient_revoking_queue_proxy_events(client, engine):
    grant, _ = caregiver(client, engine)
    patient = sign_in(client, engine)["access_token"]
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient)).status_code == 200
    assert client.delete(f"/patient/v1/proxies/{grant['id']}", headers=bearer(patient)).status_code == 200
    events = queued(engine)
    assert [e["type"] for e in events] == ["phr.accounts.proxy-activated", "phr.accounts.proxy-ended"]
    assert {e["data"]["grant_id"] for e in events} == {grant["id"]}
    assert events[0]["data"]["relationship"] == "caregiver" and events[1]["data"]["reason"] == "revoked"
    assert [problems(e) for e in events] == [[], []]


def test_revoking_an_invite_nobody_joined_says_nothing(client, engine):
    make_patient(engine)
    patient = sign_in(client, engine)["access_token"]
    created = invite(client, patient)
    assert client.delete(f"/patient/v1/proxies/{created.json['id']}", headers=bearer(patient)).status_code == 200
    assert queued(engine) == []
