"""Consent scenarios through the real exchange flow, as a requesting department and patient A.

1. no consent: the requester asks for patient A's Observations; the request ends denied;
2. consent: patient A grants the requester TREAT on Observations; the next request is
   fulfilled and the Bundle holds only what was asked;
3. revocation: patient A revokes; the next request ends denied;
4. break-the-glass: the emergency department breaks the glass; patient A is notified.

The kit revokes the consent it granted. Break-the-glass cannot be undone by a client: it
leaves an emergency grant (time-limited by the deployment) and a review for the deployment's staff.
"""
from __future__ import annotations

import time

from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed

PURPOSE, TYPES = "TREAT", ["Observation"]
WAIT_SECONDS = 30.0


class Scenario:
    """The people of the scenarios and the calls they make."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.patient = ctx.identity("patient")
        self.requester = ctx.identity("requester")
        self.patient_id = self.patient.patient
        if not self.patient_id:
            raise AssertionError("patient A's token carries no patient claim (SMART launch context)")

    def ask(self) -> dict:
        """Ask for patient A's Observations as the requester; wait until the request is decided."""
        resp = self.ctx.gateway.post("/exchange/v1/requests", self.requester, json={
            "patient": self.patient_id, "purpose": PURPOSE, "resource_types": TYPES,
            "reason": "phr-conformance consent scenario"})
        assert resp.status_code == 202, f"POST /exchange/v1/requests answered {resp.status_code}: {resp.text[:200]}"
        request_id = resp.json()["id"]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            status = self.ctx.gateway.get(f"/exchange/v1/requests/{request_id}", self.requester)
            assert status.status_code == 200, f"GET /exchange/v1/requests/{request_id} answered {status.status_code}"
            doc = status.json()
            if doc.get("status") != "pending":
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"request {request_id} still pending after {WAIT_SECONDS:.0f} s")
            time.sleep(0.2)

    def active_consents_to_requester(self) -> list[dict]:
        resp = self.ctx.gateway.get("/patient/v1/consents?limit=100", self.patient)
        assert resp.status_code == 200, f"GET /patient/v1/consents answered {resp.status_code}"
        return [c for c in resp.json().get("items", [])
                if (c.get("status") or {}).get("code") == "active"
                and (c.get("grantee") or {}).get("id") == self.requester.department]

    def notifications(self) -> list[dict]:
        resp = self.ctx.gateway.get("/patient/v1/notifications?limit=100", self.patient)
        assert resp.status_code == 200, f"GET /patient/v1/notifications answered {resp.status_code}"
        return resp.json().get("items", [])


def _denied(doc: dict, result: Result, when: str) -> None:
    if doc.get("status") != "denied":
        result.fail(f"{when}: the request ended {doc.get('status')!r}, expected 'denied'")
    elif not (doc.get("outcome") or {}).get("text") and not (doc.get("outcome") or {}).get("code"):
        result.fail(f"{when}: the denial gives no reason")


def run(ctx: Context) -> list[Result]:
    """Run the four scenarios in order; later ones do not run when an earlier one could not set up."""
    names = ("no consent: the request is denied", "consent: the request is fulfilled",
             "revoked consent: the next request is denied", "break-the-glass: the patient is notified")
    results = [Result("consent", name) for name in names]
    no_consent, granted, revoked, glass = results
    scenario, consent_id = None, None
    with timed(no_consent):
        scenario = Scenario(ctx)
        if scenario.active_consents_to_requester():
            raise Skip(f"patient A already consents to {scenario.requester.department}; the kit does not "
                       "revoke consents it did not grant")
        _denied(scenario.ask(), no_consent, "without consent")
    with timed(granted):
        if scenario is None or no_consent.outcome == "not run":
            raise Skip(no_consent.message or "the no-consent scenario did not set up")
        resp = ctx.gateway.post("/patient/v1/consents", scenario.patient, json={
            "grantee": scenario.requester.department, "purposes": [PURPOSE], "classes": TYPES})
        assert resp.status_code == 201, f"POST /patient/v1/consents answered {resp.status_code}: {resp.text[:200]}"
        consent_id = resp.json()["id"]
        doc = scenario.ask()
        if doc.get("status") != "fulfilled":
            granted.fail(f"with consent {consent_id} the request ended {doc.get('status')!r}: {doc.get('outcome')}")
        else:
            bundle = ctx.gateway.get(f"/exchange/v1/requests/{doc['id']}/bundle", scenario.requester)
            types = {e.get("resource", {}).get("resourceType") for e in bundle.json().get("entry", [])} \
                if bundle.status_code == 200 else None
            if types is None:
                granted.fail(f"the fulfilled request's Bundle answered {bundle.status_code}")
            elif not types <= set(TYPES):
                granted.fail(f"the Bundle holds {sorted(types - set(TYPES))}, which were not asked for")
    with timed(revoked):
        if consent_id is None:
            raise Skip("no consent was granted")
        resp = ctx.gateway.delete(f"/patient/v1/consents/{consent_id}", scenario.patient)
        consent_id = None if resp.status_code == 200 else consent_id
        assert resp.status_code == 200, f"DELETE /patient/v1/consents/... answered {resp.status_code}"
        _denied(scenario.ask(), revoked, "after revocation")
    with timed(glass):
        if scenario is None:
            raise Skip(no_consent.message)
        emergency = ctx.identity("emergency")
        before = {n.get("id") for n in scenario.notifications()}
        resp = ctx.gateway.post("/consent/v1/break-glass", emergency, json={
            "patient": scenario.patient_id, "reason": "phr-conformance: break-the-glass scenario"})
        assert resp.status_code == 201, f"POST /consent/v1/break-glass answered {resp.status_code}: {resp.text[:200]}"
        deadline = time.monotonic() + WAIT_SECONDS
        while not any(n.get("kind") == "break-glass" and n.get("id") not in before
                      for n in scenario.notifications()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no new break-glass notification for patient A after {WAIT_SECONDS:.0f} s")
            time.sleep(0.3)
    if consent_id is not None and scenario is not None:  # leave the world as we found it
        ctx.gateway.delete(f"/patient/v1/consents/{consent_id}", scenario.patient)
    return results
