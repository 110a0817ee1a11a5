"""Seed the demo on first start: the administrators' client, the departments, the portal
client, patients, portal accounts.

The administrators' client and the portal client are created with the gateway's admin
functions (the gateway's own code, on its own database). Everything else goes through the
public API as its users would: the administrator registers the departments of
departments.json through the admin API (``phr departments add`` does the same), then waits
until every service has heard of them; a department imports the bundles and asks for
activation codes; the patients activate.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import requests

from launcher.departments import AdminClient, AdminError

HERE = Path(__file__).resolve().parent
DEMO_DIR = HERE / "patients"
DEPARTMENTS_FILE = HERE / "departments.json"
CREDENTIALS = "demo-credentials.json"
#: The services that keep a copy of the directory, and how long to wait for them to learn it.
DIRECTORY_COPIES = ("consent", "records", "exchange")
DIRECTORY_WAIT_SECONDS = 60.0


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
    from launcher.demo.staff import seed_staff
    from services.common.config import load_settings
    from services.common.db import make_engine

    gateway = env.get("PHR_ISSUER") or f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    engine = make_engine(load_settings("gateway", env).database_url)
    try:
        administrator = admin.ensure_admin_client(engine)
        portal = admin.ensure_portal_client(engine, [f"{gateway}/portal/callback"])
        admin.ensure_console_client(engine, [f"{gateway}/console/callback"])
    finally:
        engine.dispose()

    entries = json.loads(DEPARTMENTS_FILE.read_text())
    client = AdminClient(gateway, administrator["client_id"], administrator["client_secret"])
    registered = {}
    for entry in entries:
        try:
            made = client.register(entry)
        except AdminError as exc:
            if exc.status == 409:
                raise RuntimeError("departments exist but their credentials file is gone; "
                                   f"delete {var_dir} to start the demo afresh") from None
            raise
        registered[made["department"]] = {"client_id": made["client_id"],
                                          "client_secret": made["client_secret"]}
    print(f"demo: registered {len(registered)} departments: {', '.join(registered)}", file=out, flush=True)
    wait_for_directory(env, len(registered), out=out)
    # The oversight team is not a department that exchanges records: a key of its own.
    oversight = [e["department"] for e in entries if e["kind"] == "oversight"]
    departments = {name: creds for name, creds in registered.items() if name not in oversight}

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

    engine = make_engine(load_settings("gateway", env).database_url)
    try:
        staff = seed_staff(engine)
    finally:
        engine.dispose()
    print(f"demo: made {len(staff)} staff accounts: {', '.join(p['username'] for p in staff)}",
          file=out, flush=True)

    doc = {"gateway": gateway, "departments": departments,
           "oversight": registered[oversight[0]] if oversight else None, "admin": administrator,
           "portal": {"client_id": portal["client_id"], "redirect_uri": portal["redirect_uri"]},
           "patients": patients, "staff": staff}
    write_private(path, doc)
    print(f"demo: seeded; credentials written to {path} (mode 0600)", file=out, flush=True)
    print_credentials(doc, out)
    return doc


def directory_sizes(env: dict[str, str]) -> dict[str, int | None]:
    """How many departments each service's copy of the directory holds, by its /readyz
    (``facts.departments``); None when it does not say (not up yet, or an older service)."""
    from services.common.config import service_url

    sizes = {}
    for name in DIRECTORY_COPIES:
        try:
            facts = requests.get(f"{service_url(env, name)}/readyz", timeout=2).json().get("facts") or {}
        except (requests.RequestException, ValueError, AttributeError):
            facts = {}
        size = facts.get("departments")
        sizes[name] = size if isinstance(size, int) and not isinstance(size, bool) else None
    return sizes


def wait_for_directory(env: dict[str, str], count: int, timeout: float = DIRECTORY_WAIT_SECONDS,
                       out=sys.stdout, pause: float = 0.5) -> bool:
    """Wait until every service's directory holds at least COUNT departments (the gateway's
    events reach them through its worker and the broker); True when they all do. After TIMEOUT
    seconds say which do not and go on: the demo's next calls would then be refused by those."""
    started = time.monotonic()
    said = started
    while True:
        sizes = directory_sizes(env)
        late = {name: size for name, size in sizes.items() if size is None or size < count}
        if not late:
            print(f"demo: every service knows the {count} departments "
                  f"({time.monotonic() - started:.1f} s)", file=out, flush=True)
            return True
        waited = time.monotonic() - started
        if waited >= timeout:
            print(f"demo: warning: after {timeout:.0f} s these services do not show the {count} "
                  f"departments on /readyz: {_sizes(late)}; going on", file=out, flush=True)
            return False
        if time.monotonic() - said >= 5:
            said = time.monotonic()
            print(f"demo: waiting for the services to learn the {count} departments: {_sizes(sizes)}",
                  file=out, flush=True)
        time.sleep(pause)


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{name} {'?' if size is None else size}" for name, size in sizes.items())


def print_credentials(doc: dict, out=sys.stdout) -> None:
    """Print the demo credentials as a short table."""
    print(f"demo: gateway {doc['gateway']}", file=out)
    for name, d in doc["departments"].items():
        print(f"demo: department {name:<13} client_id={d['client_id']} client_secret={d['client_secret']}", file=out)
    if doc.get("admin"):
        d = doc["admin"]
        print(f"demo: admin      client_id={d['client_id']} client_secret={d['client_secret']} "
              "(the directory: phr departments ...)", file=out)
    if doc.get("oversight"):
        d = doc["oversight"]
        print(f"demo: oversight  client_id={d['client_id']} client_secret={d['client_secret']} "
              "(the equity report)", file=out)
    print(f"demo: portal client_id={doc['portal']['client_id']} redirect_uri={doc['portal']['redirect_uri']}", file=out)
    for p in doc["patients"]:
        print(f"demo: patient {p['patient']} username={p['username']} password={p['password']} "
              f"language={p['language']}", file=out)
    for p in doc.get("staff") or []:
        print(f"demo: staff {p['username']:<13} password={p['password']} {p['department']} "
              f"{'+'.join(p['roles'])} authenticator key={p['totp_secret']}", file=out)
    out.flush()
