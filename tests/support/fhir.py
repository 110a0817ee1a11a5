"""Small FHIR fixtures built in code, and the demo bundles shipped in demo/."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "launcher" / "demo" / "patients"


def demo_bundle(name: str = "Liz_Conn") -> dict:
    return json.loads(next(DEMO.glob(f"{name}_*.json")).read_text())


def small_bundle(patient_id: str | None = None, observations: int = 2) -> dict:
    """A transaction Bundle with one Patient and some Observations that point at it by urn:uuid."""
    pid = patient_id or str(uuid.uuid4())
    entries = [{"fullUrl": f"urn:uuid:{pid}", "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient", "id": pid, "birthDate": "1980-02-03",
                             "name": [{"family": "Test", "given": ["Ana"]}]}}]
    for i in range(observations):
        oid = str(uuid.uuid4())
        entries.append({"fullUrl": f"urn:uuid:{oid}", "request": {"method": "POST", "url": "Observation"},
                        "resource": {"resourceType": "Observation", "id": oid, "status": "final",
                                     "code": {"text": f"Heart rate {i}"},
                                     "subject": {"reference": f"urn:uuid:{pid}"},
                                     "valueQuantity": {"value": 70 + i, "unit": "/min"}}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
