"""Seed the demo on first start: departments, the oversight client, portal client, patients,
portal accounts.

Departments and the portal client are created with the gateway's admin functions (the
gateway's own code, on its own database); everything else goes through the public API as a
department and a patient would: import the bundles, ask for activation codes, activate.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import requests

DEMO_DIR = Path(__file__).resolve().parent / "patients"
CREDENTIALS = "demo-credentials.json"


def patient_of(bundle: dict) -> dict:
    """Return the Patient resource of a Synthea bundle."""
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def preferred_language(patient: dict) -> str:
    """Return the first language code of Patient.communication, else 'en'."""
    for comm in patient.get("communication", []):
        for coding in comm.get("language", {}).get("coding", []):
            if coding.get("code"):
                return coding["code"]
    return "en"


def department_token(gateway: str, creds: dict, scope: str | None = None) -> str:
    """Get a client-credentials access token with client_secret_basic (RFC 6749 section 4.4)."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    resp = requests.post(f"{gateway}/oauth/token", data=data, timeout=10,
                         auth=(creds["client_id"], creds["client_secret"]))
    resp.raise_for_status()
    return resp.json()["access_token"]


def write_private(path: Path, doc: dict) -> None:
    """Write DOC as JSON readable by the owner only (mode 0600), atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def run(env: dict[str, str], out=sys.stdout) -> dict:
    """Seed once; later starts only print the credentials already written."""
    var_dir = Path(env["PHR_VAR_DIR"])
    path = var_dir / CREDENTIALS
    if path.exists():
        doc = json.loads(path.read_text())
        print(f"demo: already seeded; credentials in {path}", file=out, flush=True)
        print_credentials(doc, out)
        return doc

    from gateway.admin import clients as admin
    from gateway.authz.departments import DEPARTMENT_SCOPES, OVERSIGHT_CLIENT_ID, OVERSIGHT_SCOPES
    from services.common.config import load_settings
    from services.common.db import make_engine

    gateway = env.get("PHR_ISSUER") or f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    engine = make_engine(load_settings("gateway", env).database_url)
    try:
        departments = {name: admin.ensure_department(engine, name, scopes)
                       for name, scopes in DEPARTMENT_SCOPES.items()}
        oversight = admin.ensure_department(engine, OVERSIGHT_CLIENT_ID, OVERSIGHT_SCOPES)
        portal = admin.ensure_portal_client(engine, [f"{gateway}/portal/callback"])
    finally:
        engine.dispose()
    if any(d["client_secret"] is None for d in [*departments.values(), oversight]):
        raise RuntimeError("departments exist but their credentials file is gone; "
                           f"delete {var_dir} to start the demo afresh")

    token = department_token(gateway, departments["primary-care"])
    auth = {"Authorization": f"Bearer {token}"}
    patients = []
    bundles = sorted(DEMO_DIR.glob("*.json"))
    for n, bundle_path in enumerate(bundles, 1):
        bundle = json.loads(bundle_path.read_text())
        patient = patient_of(bundle)
        resp = requests.post(f"{gateway}/fhir", json=bundle, headers=auth, timeout=60)
        if resp.status_code != 200:
            raise RuntimeError(f"import of {bundle_path.name} failed: {resp.status_code} {resp.text[:300]}")
        print(f"demo: [{n}/{len(bundles)}] imported {len(bundle['entry'])} resources for "
              f"{patient['name'][0]['given'][0]} {patient['name'][0]['family']}", file=out, flush=True)
        code = requests.post(f"{gateway}/accounts/v1/activation-codes", json={"patient": patient["id"]},
                             headers=auth, timeout=10)
        code.raise_for_status()
        username = f"{patient['name'][0]['given'][0].lower().rstrip('0123456789')}.{patient['id'][:4]}"
        password = secrets.token_urlsafe(12)
        act = requests.post(f"{gateway}/accounts/v1/activate", timeout=10, json={
            "code": code.json()["code"], "birth_date": patient["birthDate"],
            "username": username, "password": password})
        act.raise_for_status()
        patients.append({"patient": patient["id"], "username": username, "password": password,
                         "language": preferred_language(patient)})

    # The oversight client is not a department that exchanges records: a key of its own.
    doc = {"gateway": gateway, "departments": departments, "oversight": oversight,
           "portal": {"client_id": portal["client_id"], "redirect_uri": portal["redirect_uri"]},
           "patients": patients}
    write_private(path, doc)
    print(f"demo: seeded; credentials written to {path} (mode 0600)", file=out, flush=True)
    print_credentials(doc, out)
    return doc


def print_credentials(doc: dict, out=sys.stdout) -> None:
    """Print the demo credentials as a short table."""
    print(f"demo: gateway {doc['gateway']}", file=out)
    for name, d in doc["departments"].items():
        print(f"demo: department {name:<13} client_id={d['client_id']} client_secret={d['client_secret']}", file=out)
    if doc.get("oversight"):
        d = doc["oversight"]
        print(f"demo: oversight  client_id={d['client_id']} client_secret={d['client_secret']} "
              "(the equity report)", file=out)
    print(f"demo: portal client_id={doc['portal']['client_id']} redirect_uri={doc['portal']['redirect_uri']}", file=out)
    for p in doc["patients"]:
        print(f"demo: patient {p['patient']} username={p['username']} password={p['password']} "
              f"language={p['language']}", file=out)
    out.flush()
