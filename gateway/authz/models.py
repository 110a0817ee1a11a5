"""The objects authlib's grants work with (RFC 6749 client, code and token models); the
users they are issued to are gateway.accounts.models."""
from __future__ import annotations

import hmac
import hashlib
import time
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from services.common import smart

PORTAL, DEPARTMENT, CONSOLE = "portal", "department", "console"
#: A patient's own app, registered by itself (gateway/authz/registration.py): public (PKCE) when
#: it registered no keys, confidential with private_key_jwt when it registered a JWK Set.
APP = "app"
#: Public clients (no secret): the patient portal and the staff console, each with PKCE.
PUBLIC = (PORTAL, CONSOLE)
#: Clients that send people to the authorization endpoint.
REDIRECTING = (PORTAL, CONSOLE, APP)


@dataclass
class Client(ClientMixin):
    """A registered client: the public patient portal or a confidential department."""

    client_id: str
    kind: str
    name: str
    scope: str
    secret_hash: str | None = None
    jwks: dict | None = None
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope):
        """Grant the requested scopes this client may have; all of them when none is asked."""
        if not scope:
            return self.scope
        kept = smart.within(scope, self.scope)
        return " ".join(kept) if kept else None

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact match (RFC 9700 section 2.1)

    def check_client_secret(self, client_secret):
        if not self.secret_hash:
            return False
        candidate = hashlib.sha256(client_secret.encode()).hexdigest()
        return hmac.compare_digest(candidate, self.secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.kind in PUBLIC:
            return method == "none"
        if self.kind == APP:
            return method == ("private_key_jwt" if self.jwks else "none")
        if method == "client_secret_basic":
            return bool(self.secret_hash)
        if method == "private_key_jwt":
            return bool(self.jwks)
        return False

    def check_response_type(self, response_type):
        return self.kind in REDIRECTING and response_type == "code"

    def check_grant_type(self, grant_type):
        if self.kind in REDIRECTING:
            return grant_type in ("authorization_code", "refresh_token")
        return grant_type == "client_credentials"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code_hash: str
    client_id: str
    account_id: str | None  # a portal account's code; a member of staff's names staff_id
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: int
    grant_id: str | None = None
    staff_id: str | None = None
    nonce: str | None = None  # OpenID Connect, echoed in the id_token

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclass
class TokenRecord(TokenMixin):
    """One issued access token (by jti) and the refresh token issued with it, if any."""

    jti: str
    client_id: str
    account_id: str | None
    patient: str | None
    scope: str
    issued_at: int
    expires_at: int
    access_revoked: bool
    refresh_hash: str | None
    refresh_expires_at: int | None
    refresh_revoked: bool
    family: str
    grant_id: str | None = None
    staff_id: str | None = None  # a member of staff's token (gateway/accounts/staff.py)
    #: which of the two the caller presented ("access_token" or "refresh_token")
    presented: str = "access_token"

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_at - self.issued_at

    def is_expired(self):
        at = self.refresh_expires_at if self.presented == "refresh_token" else self.expires_at
        return at is None or at < time.time()

    def is_revoked(self):
        return self.refresh_revoked if self.presented == "refresh_token" else self.access_revoked
