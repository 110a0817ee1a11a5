"""Who the kit acts as: credentials from options, environment or a credentials file, as lazy identities."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from contracts.conformance.client import (Authenticator, Gateway, Identity, LoginError, client_credentials,
                                          patient_login, staff_token)
from contracts.conformance.model import Skip

#: Roles and what the kit does with each (shown when one is missing).
ROLES = {
    "department": "the custodian department (client credentials): FHIR and exchange operations",
    "requester": "a second department that asks for the patient's records in the consent scenarios",
    "emergency": "a department that may break the glass, holding system/BreakGlass.c (default: the "
                 "custodian department)",
    "oversight": "an oversight client (for operations only it may call)",
    "admin": "the directory's administrators' client, holding admin/Departments.crus (the admin API)",
    "patient": "patient A: a portal account (username and password) and the portal client",
    "other_patient": "patient B: another portal account, for the cross-patient checks",
    "clinician": "a clinician of the requester department (the staff APIs: requests, asking a patient to share)",
    "emergency_clinician": "a clinician of the emergency department (claiming an emergency in person)",
    "privacy_officer": "a privacy officer of the custodian department (break-the-glass reviews)",
    "records_officer": "a records officer of the custodian department (correction requests)",
    "staff_admin": "an admin of a department's staff (staff accounts and invites)",
}
#: Staff roles of the kit -> (the person's role, the kit role whose department they belong to;
#: None: any department). Members of staff come from the credentials file's "staff" list, each
#: {username, password, totp_secret, department, roles}: the kit signs them in as the staff
#: console does, with codes computed from their authenticator key.
STAFF = {"clinician": ("clinician", "requester"), "emergency_clinician": ("clinician", "emergency"),
         "privacy_officer": ("privacy-officer", "department"),
         "records_officer": ("records-officer", "department"), "quality": ("quality", "department"),
         "staff_admin": ("admin", None)}


@dataclass
class Context:
    """The deployment, the contract document, and the identities the checks may use."""

    gateway: Gateway
    spec: str
    identities: dict[str, Identity] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en", "es")
    max_examples: int = 50
    seed: int | None = None
    signing_key: dict | None = None

    def identity(self, role: str) -> Identity:
        """Return the identity for ROLE or raise Skip saying which credential is missing."""
        if role in self.identities:
            return self.identities[role]
        raise Skip(f"needs {ROLES[role]}; {self.missing.get(role, 'no credentials given')}")

    def has(self, role: str) -> bool:
        return role in self.identities


def department(base_url: str, label: str, client_id: str, secret: str, kind: str = "department",
               scope: str | None = None, named: bool = True) -> Identity:
    """A department's client; NAMED: LABEL is the department's id (the credentials file's name
    for it), else its token tells."""
    return Identity(kind, label, partial(client_credentials, base_url, client_id, secret, scope=scope),
                    named=label if named else None)


def patient(base_url: str, label: str, portal: dict, username: str, password: str) -> Identity:
    return Identity("patient", label, partial(patient_login, base_url, portal["client_id"], portal["redirect_uri"],
                                              username, password), sign_in=(username, password))


def staff(base_url: str, person: dict) -> Identity:
    return Identity("staff", person["username"], partial(staff_token, base_url, person["username"],
                                                         person["password"], Authenticator(person["totp_secret"])))


def _staff(doc: dict, base_url: str, found: dict[str, Identity], missing: dict[str, str]) -> None:
    """Add the STAFF roles from the credentials file DOC, each of its department where it says."""
    people = [p for p in doc.get("staff") or [] if {"username", "password", "totp_secret"} <= set(p)]
    for role, (person_role, of) in STAFF.items():
        # only with people to choose from is the department asked (it may take a token)
        dept = _department_of(found[of]) if people and of and of in found else None
        chosen = next((p for p in people if person_role in p.get("roles", [])
                       and (dept is None or p.get("department") == dept)), None)
        if chosen:
            found[role] = staff(base_url, chosen)
        else:
            where = f" of {dept}" if dept else ""
            missing[role] = (f"add a member of staff with the role {person_role}{where} to the credentials "
                             "file's staff list (username, password, totp_secret, department, roles)")


def _department_of(ident: Identity) -> str:
    """The department a department's identity acts as: its token's dept claim (a client id given
    on the command line need not be the department's id), else its label."""
    try:
        return ident.department or ident.label  # fetches a token only for a department given as options
    except (LoginError, requests.RequestException):
        return ident.label  # its own checks report the refused credential


def load_credentials_file(path: str | None) -> dict:
    """Read a credentials file shaped like var/demo-credentials.json ({} without a path)."""
    return json.loads(Path(path).read_text()) if path else {}


def _pick(departments: dict, preferred: str, exclude: set[str]) -> tuple[str, dict] | None:
    if preferred in departments and preferred not in exclude:
        return preferred, departments[preferred]
    for name, creds in departments.items():
        if name not in exclude and name != "oversight":
            return name, creds
    return None


def build(options: dict, base_url: str) -> tuple[dict[str, Identity], dict[str, str]]:
    """Return (identities by role, why each missing role is missing) from OPTIONS and a credentials file.

    Options win over the file. From a file: the custodian is ``primary-care`` (else the first
    department), the requester ``cardiology`` (else another), the emergency department
    ``emergency`` (else the custodian), oversight the ``oversight`` entry, patients A and B
    the first two patients, the administrators' client the ``admin`` entry.
    """
    doc = load_credentials_file(options.get("credentials"))
    depts = doc.get("departments", {})
    found: dict[str, Identity] = {}
    missing: dict[str, str] = {}

    def from_options(role: str, prefix: str, kind: str = "department") -> bool:
        cid, secret = options.get(f"{prefix}_id"), options.get(f"{prefix}_secret")
        if cid and secret:
            found[role] = department(base_url, cid, cid, secret, kind, named=False)
            return True
        if cid or secret:
            missing[role] = f"--{prefix.replace('_', '-')}-id and --{prefix.replace('_', '-')}-secret go together"
        return False

    used: set[str] = set()
    for role, prefix, preferred in (("department", "department", "primary-care"),
                                    ("requester", "requester", "cardiology")):
        if not from_options(role, prefix):
            chosen = _pick(depts, preferred, used)
            if chosen:
                name, creds = chosen
                used.add(name)
                found[role] = department(base_url, name, creds["client_id"], creds["client_secret"])
            else:
                missing.setdefault(role, f"give --{prefix}-id and --{prefix}-secret (or --credentials)")
        else:
            used.add(found[role].label)
    if not from_options("emergency", "emergency"):
        if "emergency" in depts:
            creds = depts["emergency"]
            found["emergency"] = department(base_url, "emergency", creds["client_id"], creds["client_secret"])
        elif "department" in found:
            found["emergency"] = found["department"]
    if not from_options("oversight", "oversight", "oversight"):
        creds = doc.get("oversight") or depts.get("oversight")
        if creds:
            found["oversight"] = department(base_url, "oversight", creds["client_id"], creds["client_secret"],
                                            "oversight")
        else:
            missing.setdefault("oversight", "give --oversight-id and --oversight-secret")

    if not from_options("admin", "admin", "admin"):
        creds = doc.get("admin")
        if creds:
            found["admin"] = department(base_url, "admin", creds["client_id"], creds["client_secret"], "admin")
        else:
            missing.setdefault("admin", "give --admin-id and --admin-secret")

    portal = dict(doc.get("portal", {}))
    portal.update({k: v for k, v in (("client_id", options.get("portal_client_id")),
                                     ("redirect_uri", options.get("redirect_uri"))) if v})
    patients = list(doc.get("patients", []))
    taken: set[str] = set()
    for role, prefix in (("patient", "patient"), ("other_patient", "other_patient")):
        user, password = options.get(f"{prefix}_username"), options.get(f"{prefix}_password")
        if not (user and password):
            spare = next((p for p in patients if p["username"] not in taken
                          and p["username"] != options.get("patient_username")), None)
            if spare:
                user, password = spare["username"], spare["password"]
        flag = prefix.replace("_", "-")
        if not (user and password):
            missing[role] = f"give --{flag}-username and --{flag}-password (or --credentials)"
        elif not (portal.get("client_id") and portal.get("redirect_uri")):
            missing[role] = "give --portal-client-id and --redirect-uri (or --credentials)"
        else:
            taken.add(user)
            found[role] = patient(base_url, user, portal, user, password)
    _staff(doc, base_url, found, missing)
    return found, missing
