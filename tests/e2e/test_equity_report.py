"""The equity report end to end: account and records events reach the exchange service's report."""
import time

from services.exchange.domain.equity import language_group
from tests.support.client import Department, demo_departments


def _report(oversight: Department, ready, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        resp = oversight.get("/equity/v1/report")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if ready(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def _activation_by_language(body: dict) -> dict:
    grouping = next(g for g in body["groupings"] if g["grouping"] == "language")
    return {g["group"]: g["activation"] for g in grouping["groups"]}


def test_the_oversight_client_sees_the_demo_patients_activated_by_language(stack):
    creds = stack.credentials()
    oversight = Department(stack.gateway, creds["oversight"]["client_id"], creds["oversight"]["client_secret"])
    languages = {language_group(p["language"]) for p in creds["patients"]}

    def every_demo_patient_counted(body):
        by_language = _activation_by_language(body)
        return all(by_language.get(lang, {}).get("count", 0) >= 1 for lang in languages)

    body = _report(oversight, every_demo_patient_counted)
    by_language = _activation_by_language(body)
    assert every_demo_patient_counted(body), by_language
    assert body["population"]["patients"] >= len(creds["patients"])
    assert all(not cell["judged"] and not cell["flagged"] for cell in by_language.values())
    assert body["flags"] == []  # a demo of a few patients is too small to judge


def test_a_department_without_the_oversight_scope_gets_403(stack):
    for name, dept in demo_departments(stack).items():
        resp = dept.get("/equity/v1/report")
        assert resp.status_code == 403, name
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    creds = stack.credentials()["departments"]["primary-care"]
    asking = Department(stack.gateway, creds["client_id"], creds["client_secret"],
                        scope="system/Equity.r system/Patient.r")
    assert asking.get("/equity/v1/report").status_code == 403
