"""Dynamic client registration for patients' own apps (RFC 7591; SMART App Launch 2).

Anyone may register an app, without a token: what keeps this safe is what an app may be. It
gets a client id it does not choose, only patients' read scopes, and no token until a patient
signs in and approves it on the approval page (gateway/authz/authorize.py). A public app (a
browser or phone app) uses PKCE with S256; a confidential one authenticates with
private_key_jwt (RFC 7523) under keys it sends inline as ``jwks``. A ``jwks_uri`` is refused:
fetching a URL an anonymous caller names would need its own guard (timeouts, private
addresses), and ``jwks`` does the same work.
"""
from __future__ import annotations

import time
import unicodedata
import uuid
from urllib.parse import urlsplit

from authlib.oauth2.rfc7591 import (ClientRegistrationEndpoint, InvalidClientMetadataError,
                                    InvalidRedirectURIError)
from flask import Blueprint, jsonify, request as flask_request

from gateway.authz.app_store import AppStore
from gateway.proxy.ratelimit import Limiter
from services.common import bodies, smart
from services.common.i18n import N_
from services.common.problem import Problem

#: The registration body: a few redirect URIs and a JWK Set of a few keys fit easily.
MAX_BODY = 16 * bodies.KIB
MAX_REDIRECT_URIS = 5
MAX_URI_LENGTH = 2000
NAME_LENGTH = 64  # the clients table's name column
#: The non-clinical scopes a patient's app may ask for.
APP_SCOPES = ("launch/patient", "openid", "fhirUser", "offline_access")
#: What an app registers when it names no scope.
DEFAULT_SCOPE = "launch/patient openid fhirUser patient/*.rs"
AUTH_METHODS = ("none", "private_key_jwt")
GRANT_TYPES = ("authorization_code", "refresh_token")
#: Loopback hosts a native app may listen on with plain http (RFC 8252 section 7.3).
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def app_scope_allowed(scope: str) -> bool:
    """Whether a patient's app may register SCOPE: the fixed ones above, or patient read and
    search scopes (patient/*.rs, patient/Observation.r, ...)."""
    if scope in APP_SCOPES:
        return True
    parsed = smart.parse(scope)
    return (parsed is not None and parsed[0] == "patient" and set(parsed[2]) <= set("rs")
            and (parsed[1] == "*" or parsed[1] not in smart.NAMED_ONLY) and "?" not in scope)


def redirect_uri_allowed(uri: str) -> bool:
    """An https URI without a fragment, or http on the loopback for a native app (RFC 8252
    section 7.3); no userinfo (``https://good@evil``) either."""
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH or any(c.isspace() for c in uri):
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (a port that is not a number raises)
    except ValueError:
        return False
    if parts.fragment or "#" in uri or not parts.hostname or "@" in parts.netloc:
        return False
    if parts.scheme == "https":
        return True
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.startswith("[") else parts.netloc.split("]")[0] + "]"
    return parts.scheme == "http" and host in LOOPBACK


def clean_name(name) -> str:
    """The app's name as the patient will read it: printable, one line, at most NAME_LENGTH."""
    if not isinstance(name, str):
        raise InvalidClientMetadataError(description="'client_name' must be a string.")
    text = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if not text:
        raise InvalidClientMetadataError(description="'client_name' is empty.")
    if len(text) > NAME_LENGTH:
        raise InvalidClientMetadataError(description=f"'client_name' is longer than {NAME_LENGTH}.")
    return text


class AppRegistration(ClientRegistrationEndpoint):
    """POST /oauth/register: authlib checks the metadata's shapes, this class what an app may be."""

    def __init__(self, server, apps: AppStore):
        super().__init__(server)
        self.apps = apps

    def authenticate_token(self, request):
        return True  # open registration: see the module's docstring

    def get_server_metadata(self):
        return {"token_endpoint_auth_methods_supported": list(AUTH_METHODS),
                "grant_types_supported": list(GRANT_TYPES), "response_types_supported": ["code"]}

    def resolve_public_key(self, request):
        return None  # no software statements

    def extract_client_metadata(self, request):
        data = request.payload.data
        if "jwks_uri" in data:
            raise InvalidClientMetadataError(description="'jwks_uri' is not supported: send the keys as 'jwks'.")
        try:
            metadata = super().extract_client_metadata(request)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # authlib's claim checks assume each field has its registered JSON type (a
            # 'client_uri' of 5, 'jwks' as a string, [null] as 'response_types' raise inside it)
            raise InvalidClientMetadataError(description="A field has the wrong type.") from exc
        uris = metadata.get("redirect_uris")
        if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
            raise InvalidRedirectURIError(
                description=f"Register 1 to {MAX_REDIRECT_URIS} 'redirect_uris'.")
        bad = [u for u in uris if not redirect_uri_allowed(u)]
        if bad:
            raise InvalidRedirectURIError(
                description="A redirect URI must use https, or http on 127.0.0.1, [::1] or localhost.")
        # From the body itself: authlib fills in RFC 7591's default, client_secret_basic, which
        # no app gets here; an app that sends no method is public, or uses the keys it sent.
        method = data.get("token_endpoint_auth_method") or (
            "private_key_jwt" if metadata.get("jwks") else "none")
        if method not in AUTH_METHODS:
            raise InvalidClientMetadataError(description="'token_endpoint_auth_method' must be 'none' or 'private_key_jwt'.")
        if (method == "private_key_jwt") != bool(metadata.get("jwks")):
            raise InvalidClientMetadataError(description="'private_key_jwt' needs 'jwks', and 'jwks' needs 'private_key_jwt'.")
        scope = metadata.get("scope") or DEFAULT_SCOPE
        if not isinstance(scope, str) or len(scope) > 1000:
            raise InvalidClientMetadataError(description="'scope' must be a short string.")
        refused = [s for s in scope.split() if not app_scope_allowed(s)]
        if refused:
            raise InvalidClientMetadataError(
                description="A patient's app may only have patient read scopes; refused: " + " ".join(refused[:5]))
        metadata.update(redirect_uris=uris, token_endpoint_auth_method=method,
                        scope=" ".join(dict.fromkeys(scope.split())),
                        grant_types=metadata.get("grant_types") or ["authorization_code"],
                        response_types=metadata.get("response_types") or ["code"],
                        client_name=clean_name(metadata.get("client_name", "App")))
        return metadata

    def generate_client_info(self, request):
        # Chosen here, never by the app; an app never gets a secret (private_key_jwt or PKCE).
        return {"client_id": "app-" + uuid.uuid4().hex, "client_id_issued_at": int(time.time())}

    def save_client(self, client_info, client_metadata, request):
        self.apps.register(client_info["client_id"], client_metadata["client_name"],
                           client_metadata["scope"], client_metadata["redirect_uris"],
                           client_metadata.get("jwks"), flask_request.remote_addr or "?")
        return client_info["client_id"]


def create_blueprint(server, apps: AppStore, limit: Limiter) -> Blueprint:
    """``POST /oauth/register``, within LIMIT's registrations per address (APP_REGISTRATIONS_PER_HOUR)."""
    bp = Blueprint("registration", __name__)
    endpoint = AppRegistration(server, apps)
    server.register_endpoint(endpoint)

    @bp.post("/oauth/register")
    def register():
        """Register a patient's app (RFC 7591 section 3)."""
        wait = limit.take(flask_request.remote_addr or "?")
        if wait:
            raise Problem(429, N_("Too Many Requests"),
                          N_("Too many apps were registered from your address. Wait, then try again."),
                          headers={"Retry-After": str(wait)})
        body = bodies.json_body(MAX_BODY)  # the size first (413), then the JSON
        if not isinstance(body, dict):
            # RFC 7591 section 3.2.2's error, as for every other fault in the metadata
            return jsonify(error="invalid_client_metadata",
                           error_description="Send the app's metadata as a JSON object."), 400
        return server.create_endpoint_response(AppRegistration.ENDPOINT_NAME)

    return bp
