"""Consent scenarios through the real exchange flow, as a requesting department and patient A.

1. no consent: the requester asks for patient A's Observations; the request ends denied;
2. consent: patient A grants the requester TREAT on Observations; the next request is
   fulfilled and the Bundle holds only what was asked;
3. revocation: patient A revokes; the next request ends denied;
4. break-the-glass: the emergency department breaks the glass; patient A is notified;
5. break-the-glass never releases a sensitive class the claim does not name: the decision
   redacts every such label, and the Bundle of an emergency request holds none.

The kit revokes the consent it granted. Break-the-glass cannot be undone by a client: it
leaves an emergency grant (time-limited by the deployment) and a review for the deployment's staff.
A second claim while that one is in force answers it (200) and records nothing new.
"""
from __future__ import annotations

import time

from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed
from contracts.conformance.security import BREAK_GLASS_SCOPE

PURPOSE, TYPES = "TREAT", ["Observation"]
WAIT_SECONDS = 30.0
#: Sensitive classes of the contract (HL7 v3 ActCode); released under break-the-glass only when named.
SENSITIVE = frozenset({"PSY", "SUD", "HIV", "SEX", "GDIS"})
#: What the emergency scenario asks for: the kinds of record sensitive labels are most often on.
EMERGENCY_TYPES = ["Condition", "Procedure", "Observation", "MedicationRequest"]


class Scenario:
    """The people of the scenarios and the calls they make."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.patient = ctx.identity("patient")
        self.requester = ctx.identity("requester")
        self.patient_id = self.patient.patient
        if not self.patient_id:
            raise AssertionError("patient A's token carries no patient claim (SMART launch context)")

    def ask(self, who=None, purpose: str = PURPOSE, types: list[str] = TYPES) -> dict:
        """Ask for patient A's records as WHO (the requester); wait until the request is decided."""
        who = who or self.requester
        resp = self.ctx.gateway.post("/exchange/v1/requests", who, json={
            "patient": self.patient_id, "purpose": purpose, "resource_types": types,
            "reason": "phr-conformance consent scenario"})
        assert resp.status_code == 202, f"POST /exchange/v1/requests answered {resp.status_code}: {resp.text[:200]}"
        request_id = resp.json()["id"]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            status = self.ctx.gateway.get(f"/exchange/v1/requests/{request_id}", who)
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


def claim_emergency(ctx: Context, scenario: Scenario):
    """Break the glass for patient A as the emergency identity; return (response, identity)."""
    emergency = ctx.identity("emergency")
    if BREAK_GLASS_SCOPE not in emergency.scopes:
        raise Skip(f"the emergency department's token ({emergency.label}) does not hold {BREAK_GLASS_SCOPE}; "
                   "give --emergency-id and --emergency-secret of one that may break the glass")
    resp = ctx.gateway.post("/consent/v1/break-glass", emergency, json={
        "patient": scenario.patient_id, "reason": "phr-conformance: break-the-glass scenario"})
    assert resp.status_code in (200, 201), f"POST /consent/v1/break-glass answered {resp.status_code}: {resp.text[:200]}"
    return resp, emergency


def _labels(resource: dict) -> set[str]:
    return {c.get("code") for c in (resource.get("meta") or {}).get("security") or [] if isinstance(c, dict)}


def unnamed_stays_redacted(ctx: Context, scenario: Scenario, result: Result) -> None:
    """Under break-the-glass, every sensitive label the claim does not name is redacted and never released."""
    claim, emergency = claim_emergency(ctx, scenario)
    unnamed = SENSITIVE - {s.get("label") for s in claim.json().get("sensitive") or []}
    decision = ctx.gateway.post("/consent/v1/decisions", emergency, json={
        "patient": scenario.patient_id, "purpose": "ETREAT", "classes": EMERGENCY_TYPES})
    assert decision.status_code == 200, f"POST /consent/v1/decisions answered {decision.status_code}"
    body = decision.json()
    if body.get("basis") != "break-glass":
        raise Skip(f"patient A's consent decides for {emergency.label} (basis {body.get('basis')!r}), "
                   "not the break-the-glass claim")
    redact = {label for o in body.get("obligations") or [] if o.get("type") == "redact"
              for label in o.get("labels") or []}
    if not unnamed <= redact:
        result.fail(f"the break-the-glass decision does not redact {sorted(unnamed - redact)}, "
                    "which the claim did not name")
    doc = scenario.ask(emergency, "ETREAT", EMERGENCY_TYPES)
    if doc.get("status") != "fulfilled":
        result.fail(f"the emergency request under break-the-glass ended {doc.get('status')!r}: "
                    f"{doc.get('outcome')}")
        return
    said = set((doc.get("redacted") or {}).get("labels") or [])
    if not unnamed <= said:
        result.fail(f"the fulfilled request says it redacted {sorted(said)}, not every unnamed label")
    bundle = ctx.gateway.get(f"/exchange/v1/requests/{doc['id']}/bundle", emergency)
    assert bundle.status_code == 200, f"the fulfilled request's Bundle answered {bundle.status_code}"
    leaked = sorted({(e.get("resource") or {}).get("resourceType", "?") + " " + label
                     for e in bundle.json().get("entry") or [] for label in _labels(e.get("resource") or {})
                     if label in unnamed})
    if leaked:
        result.fail(f"the Bundle released what the claim did not name: {', '.join(leaked[:5])}")


def run(ctx: Context) -> list[Result]:
    """Run the five scenarios in order; later ones do not run when an earlier one could not set up."""
    names = ("no consent: the request is denied", "consent: the request is fulfilled",
             "revoked consent: the next request is denied", "break-the-glass: the patient is notified",
             "break-the-glass never releases a sensitive class it does not name")
    results = [Result("consent", name) for name in names]
    no_consent, granted, revoked, glass, unnamed = results
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
        before = {n.get("id") for n in scenario.notifications()}
        resp, _emergency = claim_emergency(ctx, scenario)
        if resp.status_code == 200:  # a claim already in force: answered again, no new notice is due
            glass.details.append(f"a claim was already in force until {resp.json().get('expires_at')}")
            before = set()  # its notice, from earlier, is what the patient must have
        deadline = time.monotonic() + WAIT_SECONDS
        while not any(n.get("kind") == "break-glass" and n.get("id") not in before
                      for n in scenario.notifications()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no new break-glass notification for patient A after {WAIT_SECONDS:.0f} s")
            time.sleep(0.3)
    with timed(unnamed):
        if scenario is None:
            raise Skip(no_consent.message)
        unnamed_stays_redacted(ctx, scenario, unnamed)
    if consent_id is not None and scenario is not None:  # leave the world as we found it
        ctx.gateway.delete(f"/patient/v1/consents/{consent_id}", scenario.patient)
    return results
