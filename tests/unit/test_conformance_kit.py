"""The conformance kit's own logic: verdicts, reports, which token an operation gets, bad tokens, refusals."""
import base64
import io
import json
import time
import xml.etree.ElementTree as ET

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from contracts.conformance import accessibility, context, report, schema, security
from contracts.conformance.client import Identity, claims_of
from contracts.conformance.model import FAILED, NOT_RUN, PASSED, Result, Skip, timed


def _results():
    return [Result("openapi", "GET /a", cases=30), Result("openapi", "GET /b", cases=12).fail("Server error", "curl x"),
            Result("security", "no token"), Result("consent", "break-the-glass").skip("needs an emergency department")]


def test_any_failure_exits_non_zero_and_checks_not_run_only_with_require_all():
    assert report.verdict_of(_results()) == 1
    passing = [r for r in _results() if not r.failed]
    assert report.verdict_of(passing) == 0
    assert report.verdict_of(passing, require_all=True) == 1


def test_the_summary_counts_each_category_and_names_every_failure_and_check_not_run():
    out = io.StringIO()
    report.summary(_results(), out, 1.5)
    text = out.getvalue()
    assert "openapi          1 passed    1 failed    0 not run, 42 generated cases" in text
    assert "FAIL [openapi] GET /b: Server error" in text and "    - curl x" in text
    assert "NOT RUN [consent] break-the-glass: needs an emergency department" in text
    assert "42 generated cases" in text and "DOES NOT CONFORM: openapi:" in text


def test_a_run_with_checks_not_run_conforms_but_says_so():
    out = io.StringIO()
    report.summary([Result("security", "no token"), Result("consent", "x").skip("why")], out, 1.0)
    assert "CONFORMS (some checks did not run; --require-all makes that a failure)" in out.getvalue()


def test_the_junit_xml_has_a_suite_per_category_with_failures_and_skips(tmp_path):
    path = tmp_path / "out" / "junit.xml"
    report.junit(_results(), path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "1"
    suites = {s.get("name"): s for s in root}
    assert list(suites) == ["openapi", "security", "consent"]
    failed = suites["openapi"].findall("testcase")[1]
    assert failed.get("name") == "GET /b" and failed.find("failure").get("message") == "Server error"
    assert "curl x" in failed.find("failure").text
    assert failed.find("properties/property").get("value") == "12"
    assert suites["consent"].find("testcase/skipped").get("message") == "needs an emergency department"


def test_timed_turns_a_skip_into_not_run_and_an_error_into_a_failure():
    with timed(Result("x", "skip")) as skipped:
        raise Skip("no credentials")
    with timed(Result("x", "boom")) as broken:
        raise ConnectionError("refused")
    with timed(Result("x", "fine")) as fine:
        pass
    assert (skipped.outcome, skipped.message) == (NOT_RUN, "no credentials")
    assert broken.outcome == FAILED and "ConnectionError: refused" in broken.message
    assert fine.outcome == PASSED


def _identity(kind, scope, label="x"):
    token = security.unsigned("e30." + security._b64({"scope": scope, "exp": int(time.time()) + 300}) + ".")
    return Identity(kind, label, lambda: {"access_token": token})  # only its claims are read here


def test_each_operation_gets_the_identity_whose_scopes_fit_best():
    people = {"department": _identity("department", "system/*.rs system/Exchange.cr"),
              "oversight": _identity("oversight", "system/Equity.r"),
              "patient": _identity("patient", "openid patient/*.rs patient/Consent.cruds")}
    assert schema.caller_for([], people) is None
    assert schema.caller_for(["system/{type}.r"], people) is people["department"]
    assert schema.caller_for(["system/Equity.r"], people) is people["oversight"]  # literal beats wildcard
    assert schema.caller_for(["patient/Consent.d"], people) is people["patient"]
    with pytest.raises(Skip, match="system/Patient.c"):
        schema.caller_for(["system/Patient.c"], people)


def test_scope_grants_follow_smart_v2_wildcards_and_v1_names():
    assert schema.grants(["system/*.rs"], "system/Observation.r") == 1
    assert schema.grants(["system/Observation.read"], "system/Observation.rs") == 1
    assert schema.grants(["system/Observation.r"], "system/Observation.r") == 2
    assert schema.grants(["system/Observation.r"], "system/Observation.s") == 0
    assert schema.grants(["patient/*.rs"], "system/Observation.r") == 0


def _real_token(key):
    now = int(time.time())
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"},
                      {"iss": "i", "aud": "i", "sub": "s", "scope": "system/*.rs", "iat": now, "exp": now + 300}, key)


def test_the_bad_tokens_keep_the_claims_and_break_exactly_one_thing():
    key = RSAKey.generate_key(2048, auto_kid=True)
    real = _real_token(key)
    forged = security.forged(real)
    assert security.header_of(forged)["kid"] == key.kid and claims_of(forged)["sub"] == "s"
    with pytest.raises(JoseError):
        jwt.decode(forged, key)
    unsigned = security.unsigned(real)
    assert security.header_of(unsigned)["alg"] == "none" and unsigned.endswith(".")
    expired = security.expired(real, key.as_dict(private=True))
    assert jwt.decode(expired, key).claims["exp"] < time.time() and claims_of(expired)["scope"] == "system/*.rs"


class _Resp:
    def __init__(self, status, body, content_type="application/problem+json"):
        self.status_code, self._body, self.headers = status, body, {"Content-Type": content_type}

    def json(self):
        return json.loads(self._body)


def test_a_refusal_must_be_a_problem_with_the_right_status_that_discloses_nothing():
    good = {"type": "t", "title": "Unauthorized", "status": 401, "instance": "/fhir/Patient/p-b"}
    assert security.refused(_Resp(401, json.dumps(good)), secrets=("p-b",)) is None
    assert "answered 200" in security.refused(_Resp(200, "{}"))
    assert "not application/problem+json" in security.refused(_Resp(401, "{}", "text/html"))
    assert "right status" in security.refused(_Resp(401, json.dumps({**good, "status": 403})))
    leaky = {**good, "detail": "Patient p-b is not yours"}
    assert "discloses data (p-b)" in security.refused(_Resp(401, json.dumps(leaky)), secrets=("p-b",))


def test_a_patient_facing_answer_in_the_wrong_language_is_a_violation():
    body = {"summary": "Tu registro."}
    assert accessibility.judge(body, {"Content-Language": "es"}, "es") == []
    found = accessibility.judge(body, {"Content-Language": "en"}, "es")
    assert found and found[0].startswith("content-language-matches")


def test_credentials_come_from_the_demo_file_and_options_override_them(tmp_path):
    doc = {"departments": {n: {"client_id": n, "client_secret": "s"} for n in
                           ("primary-care", "cardiology", "emergency", "research")},
           "portal": {"client_id": "portal", "redirect_uri": "http://x/cb"},
           "patients": [{"username": u, "password": "p"} for u in ("ana", "ben", "cy")]}
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(doc))
    found, missing = context.build({"credentials": str(path), "patient_username": "cy", "patient_password": "p"},
                                   "http://gw")
    assert {r: i.label for r, i in found.items()} == {
        "department": "primary-care", "requester": "cardiology", "emergency": "emergency",
        "patient": "cy", "other_patient": "ana"}
    assert "oversight" in missing
    only_options, missing = context.build({"department_id": "d", "department_secret": "s"}, "http://gw")
    assert set(only_options) == {"department", "emergency"} and only_options["emergency"] is only_options["department"]
    assert "--patient-username" in missing["patient"] and "requester" in missing


def test_staff_come_from_the_file_each_of_the_department_its_role_works_for(tmp_path):
    def person(username, department, *roles):
        return {"username": username, "password": "p", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                "department": department, "roles": list(roles)}
    doc = {"departments": {n: {"client_id": n, "client_secret": "s"} for n in ("primary-care", "cardiology")},
           "staff": [person("er", "emergency", "clinician"), person("cardio", "cardiology", "clinician"),
                     person("po", "primary-care", "privacy-officer"), person("other.ro", "cardiology", "records-officer"),
                     {"username": "no.key", "password": "p", "department": "primary-care", "roles": ["admin"]}]}
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(doc))
    found, missing = context.build({"credentials": str(path)}, "http://gw")
    staff = {r: i.label for r, i in found.items() if i.kind == "staff"}
    # the requester is cardiology: its clinician; no emergency department in the file, so the
    # custodian stands in for it, and primary care has no clinician
    assert staff == {"clinician": "cardio", "privacy_officer": "po"}
    assert "records-officer of primary-care" in missing["records_officer"]
    assert "role admin" in missing["staff_admin"]  # a person without an authenticator key is no use
    assert "clinician of primary-care" in missing["emergency_clinician"]


def test_the_authenticator_waits_for_a_new_code_rather_than_use_one_twice(monkeypatch):
    from contracts.conformance import client
    clock = [1_000_000.0]
    monkeypatch.setattr(client.time, "time", lambda: clock[0])
    monkeypatch.setattr(client.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    app = client.Authenticator("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    first, second = app(), app()
    assert first != second and clock[0] >= 1_000_000.0 + 30 - (1_000_000.0 % 30)


def test_staff_are_matched_to_a_department_given_as_options_by_its_tokens_department(tmp_path, monkeypatch):
    person = {"username": "cardio", "password": "p", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
              "department": "cardiology", "roles": ["clinician"]}
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"staff": [person]}))
    claims = base64.urlsafe_b64encode(json.dumps({"dept": "cardiology", "exp": time.time() + 600}).encode())
    # the client's token, as the gateway would answer: its dept is not its client id
    monkeypatch.setattr(context, "client_credentials",
                        lambda *_a, **_kw: {"access_token": f"x.{claims.decode().rstrip('=')}.x"})
    options = {"credentials": str(path), "requester_id": "cardio-client-7", "requester_secret": "s"}
    found, _missing = context.build(options, "http://gw")
    assert found["requester"].label == "cardio-client-7" and found["requester"].department == "cardiology"
    assert found["clinician"].label == "cardio"


def test_the_kit_tries_a_staff_sign_in_again_only_when_the_code_was_refused(monkeypatch):
    from contracts.conformance import client
    tries = []

    def login(*_a, **_kw):
        tries.append(1)
        raise refusal

    monkeypatch.setattr(client, "staff_login", login)
    app = client.Authenticator("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    refusal = client.LoginError("the password step answered 400")
    with pytest.raises(client.LoginError):
        client.staff_token("http://gw", "ana", "wrong", app)
    assert len(tries) == 1  # a wrong password is not tried again (nor waited for)
    refusal, tries[:] = client.CodeRefused("the code was refused"), []
    with pytest.raises(client.CodeRefused):
        client.staff_token("http://gw", "ana", "right", app)
    assert len(tries) == 2
