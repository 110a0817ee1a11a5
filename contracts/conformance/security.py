"""Security negatives: every bad token and every wrong caller is refused with a problem that discloses nothing.

The bad tokens are made from a real one (its claims, its key id): signed by another key,
``alg: none``, and expired. An expired token the deployment would otherwise accept can only
be signed with the deployment's own key: give it with ``--signing-key`` (a JWK file, as
the gateway keeps in its var directory); without it the expired check is not run, since a
token signed by any other key tests the signature, not the expiry.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey, import_key

from contracts.conformance import apps
from contracts.conformance.accessibility import ask_patient_to_share
from contracts.conformance.client import Identity, LoginError, claims_of
from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed

PROBLEM = "application/problem+json"
FHIR_JSON = "application/fhir+json"


def _b64(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).rstrip(b"=").decode()


def header_of(token: str) -> dict:
    try:
        head = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (IndexError, ValueError):
        return {}


def _fresh(claims: dict, **changes) -> dict:
    return {**claims, "jti": str(uuid.uuid4()), **changes}


def forged(real: str) -> str:
    """Return REAL's claims and key id signed by a key the deployment has never seen."""
    head = header_of(real)
    key = RSAKey.generate_key(2048)
    return jwt.encode({"alg": "RS256", "typ": head.get("typ", "at+jwt"), "kid": head.get("kid", "k")},
                      _fresh(claims_of(real)), key)


def unsigned(real: str) -> str:
    """Return REAL's claims with ``alg: none`` and no signature (RFC 7519 section 6)."""
    head = {**header_of(real), "alg": "none"}
    return f"{_b64(head)}.{_b64(_fresh(claims_of(real)))}."


def expired(real: str, key_doc: dict) -> str:
    """Return REAL's claims, expired ten minutes ago, signed with the deployment's own KEY_DOC."""
    key = import_key(key_doc)
    now = int(time.time())
    head = header_of(real)
    return jwt.encode({"alg": head.get("alg", "RS256"), "typ": head.get("typ", "at+jwt"),
                       "kid": key_doc.get("kid") or head.get("kid")},
                      _fresh(claims_of(real), iat=now - 900, nbf=now - 900, exp=now - 600), key)


def refused(resp, statuses=(401, 403), secrets: tuple[str, ...] = ()) -> str | None:
    """Return what is wrong with RESP as a refusal (None if it is a proper one)."""
    if resp.status_code not in statuses:
        return f"answered {resp.status_code}, expected {' or '.join(map(str, statuses))}"
    # On /fhir a refusal may be an OperationOutcome in FHIR's media type (its body a problem too).
    fhir = urlsplit(getattr(resp, "url", "") or "").path.startswith("/fhir")
    accepted = (PROBLEM, FHIR_JSON) if fhir else (PROBLEM,)
    if not resp.headers.get("Content-Type", "").startswith(accepted):
        return f"the refusal is {resp.headers.get('Content-Type')!r}, not {' or '.join(accepted)}"
    try:
        body = resp.json()
    except ValueError:
        return "the refusal is not JSON"
    if not isinstance(body, dict) or body.get("status") != resp.status_code or not body.get("type") \
            or not body.get("title"):
        return "the refusal lacks type, title or the right status"
    body.pop("instance", None)  # the path asked for is the caller's own, not a disclosure
    leaked = [s for s in secrets if s and s in json.dumps(body)]
    if leaked or body.get("entry") or body.get("items") or \
            body.get("resourceType", "OperationOutcome") != "OperationOutcome":
        return f"the refusal discloses data ({', '.join(leaked) or 'records'})"
    return None


class Targets:
    """Two requests a valid token may make: a department's read and a patient's read."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def department(self) -> tuple[Identity, str]:
        who = self.ctx.identity("department")
        patient = self.ctx.identities["patient"].patient if self.ctx.has("patient") else None
        path = f"/fhir/Patient/{patient}" if patient else "/exchange/v1/ledger/verify"
        return who, path

    def patient(self) -> tuple[Identity, str]:
        return self.ctx.identity("patient"), "/patient/v1/me"

    def all(self) -> list[tuple[Identity, str]]:
        found = []
        for target in (self.department, self.patient):
            try:
                found.append(target())
            except Skip:
                pass
        if not found:
            raise Skip("needs a department's or a patient's credentials")
        return found


def _control(ctx: Context, who: Identity, path: str) -> None:
    resp = ctx.gateway.get(path, who)
    if resp.status_code != 200:
        raise AssertionError(f"a valid token on GET {path} answered {resp.status_code}, so refusals prove nothing")


def _expect_refusal(ctx: Context, result: Result, path: str, token: str | None, statuses=(401,),
                    secrets: tuple[str, ...] = ()) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = ctx.gateway.get(path, headers=headers)
    wrong = refused(resp, statuses, secrets)
    if wrong:
        result.fail(f"GET {path}: {wrong}")


def _token_check(ctx: Context, name: str, make) -> Result:
    result = Result("security", name)
    with timed(result):
        for who, path in Targets(ctx).all():
            _control(ctx, who, path)
            _expect_refusal(ctx, result, path, make(who.token))
    return result


def cross_patient(ctx: Context) -> Result:
    """Patient A's token reads none of patient B's records or consents, and no FHIR resource of B."""
    result = Result("security", "a token for patient A used on patient B")
    with timed(result):
        a, b = ctx.identity("patient"), ctx.identity("other_patient")
        if a.patient == b.patient:
            raise Skip("patients A and B are the same patient")
        secrets = (b.patient,)
        probes = [f"/fhir/Patient/{b.patient}"]
        records = ctx.gateway.get("/patient/v1/records", b)
        for item in (records.json().get("items") or [])[:1] if records.status_code == 200 else []:
            probes.append(f"/patient/v1/records/{item['id']}")
        consents = ctx.gateway.get("/patient/v1/consents", b)
        for item in (consents.json().get("items") or [])[:1] if consents.status_code == 200 else []:
            probes.append(f"/patient/v1/consents/{item['id']}")
        if len(probes) == 1:
            result.details.append(f"patient B has no record or consent to probe; only GET {probes[0]} was tried")
        for path in probes:
            wrong = refused(ctx.gateway.get(path, a), (401, 403, 404), secrets)
            if wrong:
                result.fail(f"GET {path} with patient A's token: {wrong}")
    return result


def missing_scope(ctx: Context) -> Result:
    """A token without the scope a route needs is refused with 403."""
    result = Result("security", "a token without the scope it needs")
    with timed(result):
        narrow = ctx.identity("department")
        dept_path = Targets(ctx).department()[1]
        other = "system/Patient.r" if dept_path.startswith("/exchange") else "system/Exchange.r"
        try:
            token = narrow.fetch.func(*narrow.fetch.args, scope=other)["access_token"]
        except LoginError as exc:
            raise Skip(f"the token endpoint would not issue a token with only {other}: {exc}") from None
        if set(str(claims_of(token).get("scope", "")).split()) - {other}:
            result.details.append(f"asked for {other}, was granted {claims_of(token).get('scope')}")
        _expect_refusal(ctx, result, dept_path, token, (403,))
        if ctx.has("patient"):
            who = ctx.identities["patient"]
            portal = who.fetch
            kw = dict(portal.keywords or {})
            kw["scope"] = "openid fhirUser patient/Observation.rs"
            try:
                token = portal.func(*portal.args, **kw)["access_token"]
            except LoginError as exc:
                result.fail(f"a patient login with a narrow scope failed: {exc}")
                return result
            _expect_refusal(ctx, result, "/patient/v1/consents", token, (403,))
    return result


#: The scope break-the-glass needs: a deployment must not let any wildcard scope cover it.
BREAK_GLASS_SCOPE = "system/BreakGlass.c"
#: A patient id no deployment holds: a refusal that wrongly succeeds touches no real record.
NOBODY = "phr-conformance-no-such-patient"


def break_glass_without_its_scope(ctx: Context) -> Result:
    """Every department given whose token does not name system/BreakGlass.c is refused with 403."""
    result = Result("security", "break-the-glass without its own scope")
    with timed(result):
        tried = []
        for role in ("department", "requester"):
            who = ctx.identities.get(role)
            if who is None or BREAK_GLASS_SCOPE in who.scopes:
                continue
            tried.append(who.label)
            resp = ctx.gateway.post("/consent/v1/break-glass", who, json={
                "patient": NOBODY, "reason": "phr-conformance: this claim must be refused"})
            wrong = refused(resp, (403,))
            if wrong:
                result.fail(f"{who.label} (scopes {' '.join(who.scopes)}) broke the glass: POST "
                            f"/consent/v1/break-glass {wrong}")
        if not tried:
            raise Skip(f"every department given holds {BREAK_GLASS_SCOPE}; give one that does not")
        result.details.append(f"tried {', '.join(tried)}")
    return result


def decision_about_another_department(ctx: Context) -> Result:
    """A department may ask a consent decision only about itself: about another, a 403 that says nothing."""
    result = Result("security", "a decision asked about another department")
    with timed(result):
        asker, other = ctx.identity("requester"), ctx.identity("department")
        mine, theirs = asker.department, other.department
        if not mine or not theirs or mine == theirs:
            raise Skip("needs two different departments (the requester and the custodian)")
        patient = ctx.identities["patient"].patient if ctx.has("patient") else NOBODY
        question = {"patient": patient, "purpose": "TREAT", "classes": ["Observation"]}
        own = ctx.gateway.post("/consent/v1/decisions", asker, json={**question, "actor": mine})
        if own.status_code != 200:
            raise AssertionError(f"{mine} asking about itself answered {own.status_code}, so a refusal proves nothing")
        resp = ctx.gateway.post("/consent/v1/decisions", asker, json={**question, "actor": theirs})
        wrong = refused(resp, (403,), (patient,))
        if not wrong and any(k in resp.json() for k in ("decision", "consent_id", "obligations")):
            wrong = "the refusal carries a decision"
        if wrong:
            result.fail(f"{mine} asking about {theirs}: POST /consent/v1/decisions {wrong}")
    return result


def staff_keep_to_their_work(ctx: Context) -> Result:
    """A member of staff does only their roles' work, and only their own department's: a
    clinician cannot review an emergency claim, answer a correction request, read the
    accounting of disclosures or the measures, a privacy officer cannot claim an emergency, and another
    department's item is not found."""
    result = Result("security", "staff do only their roles' work, in their own department")
    with timed(result):
        clinician, officer = ctx.identity("clinician"), ctx.identity("privacy_officer")
        emergency = ctx.identity("emergency_clinician")
        # The refusals must come before the patient matters: a wrongful success touches no real record.
        patient = NOBODY
        tries = [
            ("a clinician lists the emergency claims to review", clinician, "GET",
             "/staff/v1/break-glass-reviews", None, (403,)),
            ("a clinician lists correction requests", clinician, "GET", "/staff/v1/corrections", None, (403,)),
            ("a clinician reads the accounting of disclosures", clinician, "GET", "/staff/v1/disclosures",
             None, (403,)),
            *((f"a clinician reads the {service}'s measures", clinician, "GET", f"/staff/v1/measures/{service}",
               None, (403,)) for service in ("gateway", "consent", "records", "exchange")),
            ("a privacy officer claims an emergency", officer, "POST", "/staff/v1/break-glass",
             {"patient": patient, "reason": "Conformance check: this must be refused."}, (403,)),
            ("a privacy officer asks for records", officer, "POST", "/staff/v1/requests",
             {"patient": patient, "purpose": "TREAT", "resource_types": ["Observation"],
              "reason": "Conformance check"}, (403,)),
        ]
        ask_patient_to_share(ctx)  # an item of the clinician's department to look for from another
        mine = ctx.gateway.get("/staff/v1/sharing-requests", clinician)
        items = mine.json().get("items") if mine.status_code == 200 else None
        if items and emergency.department != clinician.department:
            tries.append(("another department's clinician reads a sharing request", emergency, "GET",
                          f"/staff/v1/sharing-requests/{items[0]['id']}", None, (404,)))
        else:
            result.details.append("no sharing request of the clinician's department to read from another")
        for what, who, method, path, body, statuses in tries:
            resp = ctx.gateway.request(method, path, who, **({"json": body} if body else {}))
            wrong = refused(resp, statuses, (patient,) if method == "POST" else ())
            if wrong:
                result.fail(f"{what}: {method} {path} {wrong}")
        result.details.append(f"tried {len(tries)} cases")
    return result


def run(ctx: Context) -> list[Result]:
    """Run every security negative; one result each."""
    results = [Result("security", "no token")]
    with timed(results[0]):
        for _who, path in Targets(ctx).all():
            _expect_refusal(ctx, results[0], path, None)
    expired_result = Result("security", "an expired token")
    with timed(expired_result):
        if ctx.signing_key is None:
            raise Skip("needs the deployment's signing key (--signing-key) to sign a token that is only "
                       "expired; a token signed by another key is the forged-token check")
        for who, path in Targets(ctx).all():
            _control(ctx, who, path)
            _expect_refusal(ctx, expired_result, path, expired(who.token, ctx.signing_key))
    results.append(expired_result)
    results.append(_token_check(ctx, "a forged token signed by another key", forged))
    results.append(_token_check(ctx, "a token with alg none", unsigned))
    results.append(cross_patient(ctx))
    results.append(missing_scope(ctx))
    results.append(break_glass_without_its_scope(ctx))
    results.append(decision_about_another_department(ctx))
    results.append(staff_keep_to_their_work(ctx))
    results.extend(apps.run(ctx))  # a patient's own app (SMART App Launch 2)
    return results
