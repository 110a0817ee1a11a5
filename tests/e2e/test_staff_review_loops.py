"""The loops department staff close, through the running stack on SQLite and PostgreSQL with the
real broker, each person signed in as the staff console signs them in (password, then a code
from their authenticator app; tests/support/staff.py):

- an emergency clinician's claim that names a sensitive class is first in the queue of the
  patient's custodian's privacy officer, who finds it not needed; the patient is told in Spanish;
- a clinician refused by consent asks the patient to share; an approval in the portal lets the
  next request through, a decline keeps it refused with the reason in words;
- a records officer accepts one correction request (the record changes, the provenance names
  them) and denies another; the patient's statement of disagreement travels with the record in
  the next exchange bundle.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import pytest
import requests

from tests.support.client import Department, patient_login
from tests.support.portal import forms, signed_in
from tests.support.staff import join_over_http

PATIENT_SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Task.c"
# The demo's bundles are imported by primary care (launcher/demo/seed.py): it is every demo
# patient's custodian, whose privacy and records officers answer for them.
CUSTODIAN = "primary-care"


def _until(check, timeout: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, f"timed out waiting for {what}"
            return found
        time.sleep(0.2)


class Api:
    """Calls to the gateway with one set of headers (a signed-in person)."""

    def __init__(self, gateway: str, headers: dict):
        self.gateway, self.headers = gateway, headers

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.gateway + path, headers={**self.headers, **kw.pop("headers", {})}, timeout=30, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.gateway + path, headers={**self.headers, **kw.pop("headers", {})}, timeout=60, **kw)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self.gateway + path, headers=self.headers, timeout=30)


def _patient(stack, who: dict, lang: str | None = None) -> Api:
    portal = stack.credentials()["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"], who["username"],
                          who["password"], scope=PATIENT_SCOPE)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return Api(stack.gateway, {**headers, **({"Accept-Language": lang} if lang else {})})


def _done(staff: Api, request_id: str) -> dict:
    """Poll the staff view of an exchange request until it leaves pending."""
    return _until(lambda: (lambda r: r if r["status"] != "pending" else None)(
        staff.get(f"/staff/v1/requests/{request_id}").json()), what=f"request {request_id}")


def _ask(staff: Api, patient: str, purpose: str, kinds: list[str], reason: str = "Follow-up visit") -> dict:
    resp = staff.post("/staff/v1/requests", json={"patient": patient, "purpose": purpose,
                                                  "resource_types": kinds, "reason": reason})
    assert resp.status_code == 202, resp.text
    return _done(staff, resp.json()["id"])


def _demo(stack, name: str) -> dict:
    """The demo patient whose username starts with NAME (the demo has three: launcher/demo/patients).
    Ned is left alone: he is the conformance kit's patient A (test_whole_deployment_conformance.py)."""
    return next(p for p in stack.credentials()["patients"] if p["username"].startswith(name))


def _revoke(patient: Api, consent_id: str) -> None:
    """Stop a consent a test made, so the tests after it find the patient's sharing as it was."""
    assert patient.delete(f"/patient/v1/consents/{consent_id}").status_code in (200, 204)


SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-r4"


def _new_patient(stack, name: str) -> dict:
    """A synthetic patient of tests/data/synthea-r4 with a portal account, as the demo seeds its
    own (launcher/demo/seed.py): imported by primary care (again is harmless: same ids, same
    content), an activation code, an account. Emergency claims are made on such patients only:
    a department's claim in force answers every later one, so a demo patient another module
    claimed for would not give a new claim."""
    creds = stack.credentials()["departments"][CUSTODIAN]
    custodian = Department(stack.gateway, creds["client_id"], creds["client_secret"])
    bundle = json.loads(next(SYNTHEA.glob(f"{name}_*.json")).read_text())
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert custodian.post("/fhir", json=bundle).status_code == 200
    code = custodian.post("/accounts/v1/activation-codes", json={"patient": patient["id"]})
    assert code.status_code in (200, 201), code.text
    who = {"patient": patient["id"], "username": f"{name.split('_')[0].lower()}.{patient['id'][:4]}",
           "password": secrets.token_urlsafe(12)}
    act = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=30, json={
        "code": code.json()["code"], "birth_date": patient["birthDate"], "username": who["username"],
        "password": who["password"]})
    assert act.status_code in (200, 201), act.text
    return who


def test_an_emergency_claim_naming_psy_is_reviewed_first_found_not_needed_and_the_patient_told_in_spanish(stack):
    creds = stack.credentials()
    patient, other = _new_patient(stack, "Agustin_Fonseca"), _new_patient(stack, "Antony_Anderson")  # es, en
    clinician = join_over_http(stack, "er.vega", ["clinician"], "Dr. Vega", "emergency")
    officer = join_over_http(stack, "pc.privacy", ["privacy-officer"], "Ana Privacy", CUSTODIAN)
    dr, po = Api(stack.gateway, clinician.headers()), Api(stack.gateway, officer.headers("en"))

    # An earlier claim that names no sensitive class, by the department's own client.
    emergency = Department(stack.gateway, **{k: creds["departments"]["emergency"][k]
                                             for k in ("client_id", "client_secret")})
    earlier = emergency.post("/consent/v1/break-glass", json={"patient": other["patient"],
                                                               "reason": "Unconscious on arrival"})
    assert earlier.status_code in (200, 201), earlier.text
    claim = dr.post("/staff/v1/break-glass", json={
        "patient": patient["patient"], "reason": "Confused and agitated, cannot give a history",
        "sensitive": [{"label": "PSY", "reason": "Known psychiatric medication may explain it"}]})
    assert claim.status_code == 201, claim.text
    assert claim.json()["claimed_by"] == {"sub": _sub(dr), "fhirUser": f"Practitioner/{_sub(dr)}"}
    released = _ask(dr, patient["patient"], "ETREAT", ["Condition", "Observation"],
                    reason="Emergency care")
    assert released["status"] == "fulfilled", released

    queue = _until(lambda: (lambda items: items if {i["id"] for i in items} >= {claim.json()["id"], earlier.json()["id"]}
                            else None)(po.get("/staff/v1/break-glass-reviews").json()["items"]),
                   what="both claims in the custodian's queue")
    first = queue[0]
    assert first["id"] == claim.json()["id"], [(i["id"], i["priority"]) for i in queue]
    assert first["priority"] is True and [s["label"]["code"] for s in first["sensitive"]] == ["PSY"]
    assert first["claimed_by"] == claim.json()["claimed_by"]
    assert first["released"]["count"] > 0 and first["status"] == "open"

    # another department's privacy officer does not see it; a clinician cannot review it
    cardiology_po = Api(stack.gateway, join_over_http(stack, "cardio.privacy", ["privacy-officer"],
                                                      "Cardio Privacy", "cardiology").headers())
    assert claim.json()["id"] not in {i["id"] for i in cardiology_po.get("/staff/v1/break-glass-reviews").json()["items"]}
    assert cardiology_po.get(f"/staff/v1/break-glass-reviews/{claim.json()['id']}").status_code == 404
    assert dr.post(f"/staff/v1/break-glass-reviews/{claim.json()['id']}",
                   json={"outcome": "justified"}).status_code == 403

    reviewed = po.post(f"/staff/v1/break-glass-reviews/{claim.json()['id']}", json={
        "outcome": "not-justified", "note": "The history was on file; no emergency access was needed."})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review"]["reviewed_by"]["sub"] == _sub(po)

    me_es = _patient(stack, patient, lang="es")
    told = _until(lambda: [n for n in me_es.get("/patient/v1/notifications").json()["items"]
                           if "no era necesario" in str(n)], what="the patient's notice of the review")
    assert "Urgencias" in str(told[0]) or "urgencias" in str(told[0]), told[0]


def _sub(person: Api) -> str:
    """The account id (sub) of the person whose token PERSON calls with."""
    from contracts.conformance.client import claims_of
    return claims_of(person.headers["Authorization"].split()[1])["sub"]


def test_a_refused_clinician_asks_the_patient_to_share_and_an_approval_lets_the_next_request_through(stack):
    # Immunizations: every demo patient has some, and no other test shares them with cardiology.
    yes, no, kinds = _demo(stack, "liz"), _demo(stack, "gustavo"), ["Immunization"]
    clinician = join_over_http(stack, "cardio.ruiz", ["clinician"], "Dr. Ruiz", "cardiology")
    dr = Api(stack.gateway, clinician.headers("en"))

    consents = {}
    for who, answer in ((yes, "approve"), (no, "decline")):
        refused = _ask(dr, who["patient"], "TREAT", kinds)
        assert refused["status"] == "denied", refused
        step = refused["next_step"]
        assert step["code"] == "ask-patient-to-share" and "Cardiology" in step["text"], step
        asked = dr.post("/staff/v1/sharing-requests", json={
            "patient": step["patient"], "classes": step["classes"], "purposes": [step["purpose"]],
            "period": {"days": 30}, "reason": "To plan your heart care after your visit.",
            "exchange_request": step["exchange_request"]})
        assert asked.status_code == 201, asked.text
        # the patient answers in the portal, as a browser without script does
        portal = signed_in(stack.gateway, who["username"], who["password"])
        page = portal.get(f"{stack.gateway}/portal/sharing-requests/{asked.json()['id']}", timeout=30)
        assert page.status_code == 200 and "To plan your heart care" in page.text, page.text[-2000:]
        form = next(f for f in forms(page) if f["action"].endswith(f"/{answer}"))
        answered = portal.post(form["action"], data=form["fields"], timeout=30)
        assert answered.status_code == 200, answered.text[-2000:]
        patient = _patient(stack, who)
        state = patient.get(f"/patient/v1/sharing-requests/{asked.json()['id']}").json()
        assert state["status"]["code"] == {"approve": "approved", "decline": "declined"}[answer], state
        consents[answer] = (patient, state["consent_id"])
    patient, consent_id = consents["approve"]
    granted = patient.get(f"/patient/v1/consents/{consent_id}").json()
    assert granted["grantee"]["id"] == "cardiology" and granted["status"]["code"] == "active", granted
    try:
        # the approval made a consent: the next request is fulfilled
        after_yes = _ask(dr, yes["patient"], "TREAT", kinds)
        assert after_yes["status"] == "fulfilled" and after_yes["resource_count"] > 0, after_yes
        # the decline made none: still refused, said in words with the next step
        after_no = _ask(dr, no["patient"], "TREAT", kinds)
        assert after_no["status"] == "denied"
        assert after_no["outcome"]["text"] and " " in after_no["outcome"]["text"], after_no["outcome"]
        assert "Cardiology" in after_no["next_step"]["text"], after_no["next_step"]
        assert consents["decline"][1] is None
    finally:
        _revoke(patient, consent_id)


def test_a_correction_is_accepted_another_denied_and_the_statement_of_disagreement_travels_with_the_record(stack):
    creds = stack.credentials()
    who = _demo(stack, "gustavo")  # two conditions
    patient = _patient(stack, who)
    officer = join_over_http(stack, "pc.records", ["records-officer"], "Rosa Records", CUSTODIAN)
    ro = Api(stack.gateway, officer.headers("en"))
    conditions = patient.get("/patient/v1/records", params={"category": "conditions"}).json()["items"]
    assert len(conditions) >= 2, "the demo patient needs two conditions"
    to_fix, to_keep = conditions[0], conditions[1]
    asked = {}
    for name, item in (("fix", to_fix), ("keep", to_keep)):
        resp = patient.post("/patient/v1/amendments", json={
            "record_id": item["id"], "what_is_wrong": "I never had this.", "correction": "Please take it off."})
        assert resp.status_code == 201, resp.text
        asked[name] = resp.json()["id"]

    # another department's records officer does not see them
    other = Api(stack.gateway, join_over_http(stack, "cardio.records", ["records-officer"], "Cardio Records",
                                              "cardiology").headers())
    assert other.get(f"/staff/v1/corrections/{asked['fix']}").status_code == 404

    one = ro.get(f"/staff/v1/corrections/{asked['fix']}").json()
    corrected = {**one["resource"], "note": [{"text": "Corrected at the patient's request."}]}
    accepted = ro.post(f"/staff/v1/corrections/{asked['fix']}/accept", json={"action": "amend", "resource": corrected})
    assert accepted.status_code == 200, accepted.text
    me = _sub(ro)
    assert accepted.json()["answer"]["answered_by"] == {"staff": me, "practitioner": f"Practitioner/{me}"}
    custodian = Department(stack.gateway, **{k: creds["departments"][CUSTODIAN][k]
                                             for k in ("client_id", "client_secret")})
    now = custodian.get(f"/fhir/{one['record']['reference']}").json()
    assert now["note"] == corrected["note"] and now["meta"]["versionId"] != one["resource"]["meta"]["versionId"]
    task = custodian.get(f"/fhir/Task/{asked['fix']}").json()
    provenance = custodian.get(f"/fhir/{task['relevantHistory'][0]['reference']}").json()
    assert provenance["agent"][0]["who"]["reference"] == f"Practitioner/{me}"

    denied = ro.post(f"/staff/v1/corrections/{asked['keep']}/deny",
                     json={"reason": "Your doctor checked it. The record is right."})
    assert denied.status_code == 200, denied.text
    statement = "I still say I never had this. Please ask me."
    filed = patient.post(f"/patient/v1/corrections/{asked['keep']}/disagreement", json={"statement": statement})
    assert filed.status_code == 201, filed.text

    # the next department to get this record gets the statement with it
    kind = to_keep["reference"].split("/")[0]
    granted = patient.post("/patient/v1/consents", json={"grantee": "cardiology", "purposes": ["TREAT"],
                                                          "classes": [kind]})
    assert granted.status_code == 201, granted.text
    try:
        _statement_travels(creds, stack, who, kind, to_keep, statement)
    finally:
        _revoke(patient, granted.json()["id"])


def _statement_travels(creds, stack, who, kind, to_keep, statement) -> None:
    cardiology = Department(stack.gateway, **{k: creds["departments"]["cardiology"][k]
                                              for k in ("client_id", "client_secret")})
    sent = cardiology.post("/exchange/v1/requests", json={"patient": who["patient"], "purpose": "TREAT",
                                                          "resource_types": [kind], "reason": "Heart check"})
    assert sent.status_code == 202, sent.text
    assert cardiology.wait_until_done(sent.json()["id"])["status"] == "fulfilled"
    bundle = cardiology.get(f"/exchange/v1/requests/{sent.json()['id']}/bundle").json()
    refs = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
    at = refs.index(to_keep["reference"])
    beside = bundle["entry"][at + 1]["resource"]
    assert beside["resourceType"] == "DocumentReference"
    assert base64.b64decode(beside["content"][0]["attachment"]["data"]).decode() == statement


pytestmark = pytest.mark.timeout(300)
