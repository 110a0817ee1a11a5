"""A small, deliberately broken deployment for the conformance kit to catch.

It serves its own little contract (``SPEC``) over real HTTP and breaks it in known ways:
``GET /counts`` answers a body its schema forbids, ``GET /divide?by=0`` is a 500,
``GET /patient/v1/me`` shows a status by colour alone and has no Content-Language,
every endpoint accepts a token with ``alg: none``, any department may break the glass, and
a department may ask consent decisions about another. Everything else it does right: tokens
from its own key, expiry, scopes, patients kept apart, problem+json refusals.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from tests.support.servers import serving_thread

DEPARTMENT = ("dept", "dept-secret")
OTHER_DEPARTMENT = ("other", "other-secret")
PATIENTS = {"ana": ("ana-password", "p-a"), "ben": ("ben-password", "p-b")}
PORTAL = ("portal", "http://portal.test/callback")
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem_responses(*codes: int) -> dict:
    return {str(c): {"description": "A problem.", "content": {"application/problem+json": {"schema": PROBLEM}}}
            for c in codes}


def _op(scope: str, ok_schema: dict, *, params=(), patient_facing=False, problems=(401, 403)) -> dict:
    doc = {"responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ok_schema}}},
                         **_problem_responses(*problems)},
           "security": [{"smart": [scope]}], "parameters": list(params)}
    if patient_facing:
        doc["x-patient-facing"] = True
    return doc


SPEC = {
    "openapi": "3.1.0", "info": {"title": "a broken deployment", "version": "1"},
    "paths": {
        "/fhir/Patient/{id}": {"get": _op("system/Patient.r", {"type": "object", "required": ["id"]},
                                          params=[{"name": "id", "in": "path", "required": True,
                                                   "schema": {"type": "string", "pattern": "^[a-z-]{1,10}$"}}],
                                          problems=(401, 403, 404))},
        "/patient/v1/me": {"get": _op("patient/Patient.r", {"type": "object"}, patient_facing=True)},
        "/patient/v1/consents": {"get": _op("patient/Consent.s", {"type": "object", "required": ["items"]},
                                            patient_facing=True)},
        "/counts": {"get": _op("system/Patient.r", {"type": "object", "required": ["count"],
                                                    "properties": {"count": {"type": "integer"}}})},
        "/divide": {"get": _op("system/Patient.r", {"type": "object"},
                               params=[{"name": "by", "in": "query", "required": True,
                                        "schema": {"type": "integer", "minimum": 0, "maximum": 3}}],
                               problems=(400, 401, 403))},
    },
    "components": {
        "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status"]}},
        "securitySchemes": {"smart": {"type": "oauth2", "flows": {"clientCredentials": {
            "tokenUrl": "/oauth/token", "scopes": {}}}}},
    },
}


def _problem(status: int, title: str) -> Response:
    body = {"type": f"https://broken.test/problems/{status}", "title": title, "status": status}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def create_app(key: RSAKey) -> Flask:
    app = Flask(__name__)
    codes: dict[str, str] = {}

    def issue(claims: dict, scope: str) -> dict:
        now = int(time.time())
        token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"},
                           {"iss": "broken", "aud": "broken", "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()),
                            "scope": scope, **claims}, key)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": scope}

    def claims() -> dict | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            return None
        head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        if head.get("alg") == "none":  # THE BUG: an unsigned token is taken at its word
            body = token.split(".")[1]
            return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        try:
            found = jwt.decode(token, key).claims
        except (JoseError, ValueError):
            return None
        return found if found.get("exp", 0) > time.time() else None

    def guard(*scopes: str):
        found = claims()
        if found is None:
            return None, _problem(401, "Unauthorized")
        if not set(scopes) & set(found.get("scope", "").split()):
            return None, _problem(403, "Forbidden")
        return found, None

    @app.post("/oauth/token")
    def token():
        form = request.form
        if form.get("grant_type") == "client_credentials":
            auth = request.authorization
            if not auth or (auth.username, auth.password) not in (DEPARTMENT, OTHER_DEPARTMENT):
                return jsonify(error="invalid_client"), 401
            name = auth.username
            return jsonify(issue({"client_id": name, "dept": name, "sub": name},
                                 form.get("scope") or "system/*.rs system/Consent.r"))
        if form.get("grant_type") == "authorization_code" and form.get("code") in codes:
            patient, scope = codes.pop(form["code"]).split(" ", 1)
            return jsonify(issue({"client_id": PORTAL[0], "sub": patient, "patient": patient}, scope))
        return jsonify(error="invalid_grant"), 400

    @app.get("/oauth/authorize")
    def authorize():
        hidden = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in request.args.items())
        return f'<html lang="en"><form method="post" action="/oauth/authorize">{hidden}' \
               '<input name="username"><input name="password" type="password"></form></html>'

    @app.post("/oauth/authorize")
    def login():
        form = request.form
        user = PATIENTS.get(form.get("username", ""))
        if not user or user[0] != form.get("password"):
            return "wrong password", 401
        code = secrets.token_urlsafe(8)
        codes[code] = f"{user[1]} {form.get('scope', '')}"
        return "", 302, {"Location": f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form['state']})}"}

    @app.get("/fhir/Patient/<pid>")
    def patient_resource(pid):
        _found, refusal = guard("system/*.rs", "system/Patient.r")
        if refusal:
            return refusal
        if pid not in {p for _pw, p in PATIENTS.values()}:
            return _problem(404, "Not Found")
        return jsonify(resourceType="Patient", id=pid)

    @app.get("/patient/v1/me")
    def me():
        found, refusal = guard("patient/*.rs", "patient/Patient.r")
        if refusal:
            return refusal
        # THE BUGS: a status shown by colour alone, and no Content-Language header
        return jsonify(id=found["patient"], status={"code": "active", "colour": "green"})

    @app.get("/patient/v1/consents")
    def consents():
        _found, refusal = guard("patient/Consent.cruds", "patient/Consent.s")
        if refusal:
            return refusal
        language = "es" if request.headers.get("Accept-Language", "").startswith("es") else "en"
        return jsonify(items=[]), 200, {"Content-Language": language}

    @app.post("/consent/v1/break-glass")
    def break_glass():
        found, refusal = guard("system/*.rs", "system/Consent.r")  # THE BUG: no scope of its own
        if refusal:
            return refusal
        return jsonify(id=str(uuid.uuid4()), department=found["dept"], decision="permit"), 201

    @app.post("/consent/v1/decisions")
    def decisions():
        found, refusal = guard("system/Consent.r")
        if refusal:
            return refusal
        # THE BUG: it answers about whichever department the body names
        return jsonify(decision="deny", consent_id=None, consent_version=None, obligations=[])

    @app.get("/counts")
    def counts():
        _found, refusal = guard("system/*.rs", "system/Patient.r")
        return refusal or jsonify(count="seven")  # THE BUG: the schema says integer

    @app.get("/divide")
    def divide():
        _found, refusal = guard("system/*.rs", "system/Patient.r")
        if refusal:
            return refusal
        try:
            by = int(request.args["by"])
        except (KeyError, ValueError):
            return _problem(400, "Bad Request")
        if by == 0:  # THE BUG: nobody thought of zero
            return Response("Internal Server Error", status=500, mimetype="text/plain")
        return jsonify(result=12 / by)

    return app


class BrokenDeployment:
    """The broken app on a free port in a thread; its URL, its key and the credentials to use."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.server = make_server("127.0.0.1", 0, create_app(self.key), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = serving_thread(self.server)

    def __enter__(self) -> "BrokenDeployment":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()

    def arguments(self, tmp_path) -> list[str]:
        """Return phr-conformance arguments for this deployment (its spec and key written under TMP_PATH)."""
        spec, key = tmp_path / "openapi.json", tmp_path / "key.json"
        spec.write_text(json.dumps(SPEC))
        key.write_text(json.dumps(self.key.as_dict(private=True)))
        return ["--base-url", self.url, "--spec", str(spec), "--signing-key", str(key),
                "--department-id", DEPARTMENT[0], "--department-secret", DEPARTMENT[1],
                "--requester-id", OTHER_DEPARTMENT[0], "--requester-secret", OTHER_DEPARTMENT[1],
                "--portal-client-id", PORTAL[0], "--redirect-uri", PORTAL[1],
                "--patient-username", "ana", "--patient-password", PATIENTS["ana"][0],
                "--other-patient-username", "ben", "--other-patient-password", PATIENTS["ben"][0]]
