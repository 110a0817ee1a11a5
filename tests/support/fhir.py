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


SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-r4"


def synthea_bundle(name: str = "Agustin_Fonseca") -> dict:
    """One patient's transaction Bundle of tests/data/synthea-r4, as Synthea wrote it."""
    return json.loads(next(SYNTHEA.glob(f"{name}_*.json")).read_text())


def first_entry(bundle: dict, resource_type: str) -> int:
    """The index of BUNDLE's first entry holding a RESOURCE_TYPE."""
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == resource_type)
