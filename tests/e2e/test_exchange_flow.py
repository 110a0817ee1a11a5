"""Exchange end to end: cardiology asks primary care's records under the patient's consent."""
import time

import pytest
import requests

from tests.support.client import demo_departments, demo_patient_headers

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="module")
def people(stack):
    who, headers = demo_patient_headers(stack, 1, SCOPE)
    return who, headers, demo_departments(stack)


def _ask(dept, patient, types=("Observation",)) -> str:
    resp = dept.post("/exchange/v1/requests", json={"patient": patient, "purpose": "TREAT",
                                                    "resource_types": list(types), "reason": "Follow-up"})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_cardiology_gets_the_records_with_consent_and_a_clear_refusal_after_revocation(stack, people):
    who, me, depts = people
    patient, cardiology = who["patient"], depts["cardiology"]
    refused = cardiology.wait_until_done(_ask(cardiology, patient))
    assert refused["status"] == "denied" and refused["outcome"]["code"] == "no-consent"
    consent = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]}).json()
    request_id = _ask(cardiology, patient)
    status = cardiology.wait_until_done(request_id)
    assert status["status"] == "fulfilled", status
    assert status["consent"]["id"] == consent["id"] and status["resource_count"] > 0
    assert depts["research"].get(f"/exchange/v1/requests/{request_id}").status_code == 404
    bundle = cardiology.get(f"/exchange/v1/requests/{request_id}/bundle")
    assert bundle.status_code == 200, bundle.text
    assert {e["resource"]["resourceType"] for e in bundle.json()["entry"]} == {"Observation"}
    assert depts["research"].get(f"/exchange/v1/requests/{request_id}/bundle").status_code == 404

    assert requests.delete(f"{stack.gateway}/patient/v1/consents/{consent['id']}", headers=me,
                           timeout=10).status_code == 200
    after = cardiology.get(f"/exchange/v1/requests/{request_id}/bundle")
    assert after.status_code == 403 and after.headers["Content-Type"].startswith("application/problem+json")
    late = cardiology.wait_until_done(_ask(cardiology, patient))
    assert late["status"] == "denied"

    verdict = cardiology.get("/exchange/v1/ledger/verify").json()
    assert verdict["valid"] and verdict["entries"] >= 1
    page = requests.get(f"{stack.gateway}/patient/v1/disclosures", headers=me, timeout=10)
    assert page.status_code == 200
    mine = [d for d in page.json()["items"] if d["consent"]["id"] == consent["id"]]
    assert len(mine) == 1 and mine[0]["recipient"]["department"] == "cardiology"
    for lang in ("en", "es"):  # the consent and the disclosure name the purpose with one wording
        asked = {**me, "Accept-Language": lang}
        granted = requests.get(f"{stack.gateway}/patient/v1/consents/{consent['id']}", headers=asked,
                               timeout=10).json()
        seen = [d for d in requests.get(f"{stack.gateway}/patient/v1/disclosures", headers=asked,
                                        timeout=10).json()["items"] if d["consent"]["id"] == consent["id"]]
        assert seen[0]["purpose"] == granted["purposes"][0], lang
        assert seen[0]["recipient"]["display"] == granted["grantee"]["display"], lang
    deadline, kinds = time.monotonic() + 20, set()
    while time.monotonic() < deadline and not {"disclosure", "consent-granted", "consent-revoked"} <= kinds:
        notes = requests.get(f"{stack.gateway}/patient/v1/notifications", headers=me, timeout=10)
        assert notes.status_code == 200
        kinds = {n["kind"] for n in notes.json()["items"]}
        time.sleep(0.3)
    assert {"disclosure", "consent-granted", "consent-revoked"} <= kinds


def _phr(argv: list[str]) -> int:
    import argparse

    from services.exchange.entrypoints import cli
    parser = argparse.ArgumentParser(prog="phr")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_a_department_scripts_an_exchange_with_the_command_line(stack, people, tmp_path, capsys, monkeypatch):
    who, me, _depts = people
    creds = stack.credentials()["departments"]["primary-care"]
    monkeypatch.setenv("PHR_CLIENT_ID", creds["client_id"])
    monkeypatch.setenv("PHR_CLIENT_SECRET", creds["client_secret"])
    gateway = ["exchange", "--gateway", stack.gateway]
    denied = _phr(gateway + ["request", "--patient", who["patient"], "--purpose", "HRESCH",
                             "--types", "Observation", "--wait", "20"])
    out = capsys.readouterr().out
    assert denied == 1 and "denied" in out and "has not agreed" in out
    assert requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "primary-care", "purposes": ["HRESCH"], "classes": ["Observation"]}).status_code == 201
    assert _phr(gateway + ["request", "--patient", who["patient"], "--purpose", "HRESCH",
                           "--types", "Observation", "--wait", "20"]) == 0
    out = capsys.readouterr().out
    request_id = out.split()[0]
    assert "fulfilled" in out and f"phr exchange download {request_id}" in out
    target = tmp_path / "bundle.json"
    assert _phr(gateway + ["download", request_id, "-o", str(target)]) == 0
    assert "a Bundle of" in capsys.readouterr().out and target.stat().st_size > 0
    assert _phr(gateway + ["status", request_id]) == 0 and "fulfilled" in capsys.readouterr().out
    assert _phr(gateway + ["verify-ledger"]) == 0 and "ledger valid" in capsys.readouterr().out
    assert _phr(gateway + ["status", "no-such-id"]) == 1
