"""The authorization server (authlib): grants, client authentication and token endpoints.

RFC 6749 (code, client credentials, refresh), RFC 7636 (PKCE, S256 only), RFC 7523 section 2.2
(private_key_jwt), RFC 7009 (revocation), RFC 7662 (introspection), RFC 9068 (JWT access tokens).
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Callable

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (InvalidClientError, InvalidGrantError, InvalidRequestError,
                                    InvalidScopeError, grants)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from gateway import storage
from gateway.accounts import caregivers
from gateway.accounts.models import ActingCaregiver, StaffAccount
from gateway.accounts.staff import StaffError, check_may_sign_in
from gateway.accounts.staff_store import StaffStore
from gateway.accounts.stores import AccountStore, GrantStore
from gateway.authz.departments import staff_scopes
from gateway.authz.keys import SigningKeys
from gateway.authz.app_store import AppStore
from gateway.authz.models import APP, DEPARTMENT, TokenRecord
from gateway.authz.stores import ClientStore, CodeStore, TokenStore
from services.common import smart
from services.common.auth import LEEWAY_SECONDS
from services.common.config import Settings

ASSERTION_ALGS = ["RS256", "RS384", "ES256", "ES384"]
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
#: department id -> its directory entry (gateway/directory/store.py DirectoryStore.entry) or None;
#: handed in by the wiring, since the directory sits above the authorization server.
DepartmentEntry = Callable[[str], "dict | None"]


def department_active(entry: dict | None) -> bool:
    return entry is not None and entry.get("status") == "active"


# RFC 9068 --------------------------------------------------------------------------------
class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Issue RFC 9068 JWT access tokens with a kid, our audience and the SMART context claims."""

    def __init__(self, key: RSAKey, settings: Settings, department: DepartmentEntry):
        super().__init__(issuer=settings.issuer, alg="RS256",
                         refresh_token_generator=lambda **_: generate_token(48),
                         expires_generator=lambda client, grant_type: settings.access_token_minutes * 60)
        self.key, self.audience, self.department = key, settings.audience, department

    def generate(self, grant_type, client, user=None, scope=None, expires_in=None,
                 include_refresh_token=True):
        """Issue a refresh token only to a patient who asked for offline_access.

        A caregiver's token carries no more than the grant's rights and ends with the grant. A
        member of staff's carries no more than their roles allow in their department, read
        again at every refresh (a role or an emergency right taken away counts at once).
        """
        scope = self.get_allowed_scope(client, scope)
        if isinstance(user, StaffAccount):
            entry = self.department(user.department)
            may_claim = bool(entry and entry.get("may_claim_emergencies"))
            scope = " ".join(smart.within(scope or "", staff_scopes(user.roles, may_claim)))
            if not scope:
                raise InvalidScopeError(description="The staff member's roles do not allow this scope.")
        elif isinstance(user, ActingCaregiver):
            scope = " ".join(smart.within(scope, user.scope))
            if not scope:
                raise InvalidScopeError(description="The caregiver's rights do not allow this scope.")
            left = user.ends_at - int(time.time())
            if left <= 0:
                raise InvalidGrantError("The caregiver's access has ended.")
            expires_in = min(expires_in or self._get_expires_in(client, grant_type), left)
        include_refresh_token = (include_refresh_token and user is not None
                                 and "offline_access" in scope.split())
        return super().generate(grant_type, client, user, scope, expires_in, include_refresh_token)

    def access_token_generator(self, client, grant_type, user, scope):
        """Sign the token (RFC 9068 section 2.2 claims, section 2.1 header)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.audience,
            "sub": str(user.get_user_id()) if user else client.get_client_id(),
            "client_id": client.get_client_id(), "scope": scope,
            "jti": str(uuid.uuid4()), "iat": now,
            "exp": now + self._get_expires_in(client, grant_type),
        }
        if client.kind == DEPARTMENT:
            claims["dept"] = client.name
        if isinstance(user, StaffAccount):
            # A person acting for their department (contracts/vocabulary.py ROLE_SCOPES).
            claims.update(dept=user.department, role=list(user.roles), fhirUser=user.fhir_user)
        elif isinstance(user, ActingCaregiver):
            # RFC 8693 section 4.1: sub is the person acted for, act.sub the one acting.
            claims.update(sub=user.patient_account_id, patient=user.patient,
                          act={"sub": user.id}, exp=min(claims["exp"], user.ends_at))
            if user.language:
                claims["locale"] = user.language
        elif user is not None:
            claims["patient"] = user.patient
            claims["fhirUser"] = f"Patient/{user.patient}"
            if getattr(user, "language", None):
                # The patient's preferred language (FHIR Patient.communication, kept at
                # activation), so each service answers in it without another lookup.
                claims["locale"] = user.language
        header = {"alg": self.alg, "typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key)


def unverified_claims(token: str) -> dict:
    """Read the claims of a JWT this server just signed."""
    return json.loads(jws.extract_compact(token.encode()).payload)


# RFC 7636 --------------------------------------------------------------------------------
class S256CodeChallenge(CodeChallenge):
    """PKCE that every authorization request must use, with S256 (RFC 9700 section 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if self.required and not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE with S256 is required).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


# RFC 6749 grants -------------------------------------------------------------------------
class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code for the public portal and console clients and patients' apps
    (section 4.1); an app that registered keys authenticates with private_key_jwt."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "private_key_jwt"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        staff = isinstance(request.user, StaffAccount)
        client = request.client
        scope = client.get_allowed_scope(request.scope) or ""
        if client.kind == APP:  # what the patient approved, for the Connected apps page
            self.server.apps.approve(request.user.id, client.get_client_id(), scope)
        self.server.codes.save_code(
            code, client.get_client_id(), None if staff else request.user.id,
            request.payload.redirect_uri or "", request.scope,
            data["code_challenge"], data["code_challenge_method"],
            grant_id=getattr(request.user, "grant_id", None),
            staff_id=request.user.id if staff else None,
            nonce=(data.get("nonce") or None) and str(data["nonce"])[:255])

    def query_authorization_code(self, code, client):
        return self.server.codes.code(code, client.get_client_id())

    def authenticate_user(self, authorization_code):
        """Use up the code (once only, section 4.1.2) and return its account."""
        if not self.server.codes.delete_code(authorization_code.code_hash):
            raise InvalidGrantError("The authorization code was already used.")
        if authorization_code.staff_id:
            return self.server.staff_member(authorization_code.staff_id)
        return caregivers.principal(self.server.accounts, self.server.grants,
                                    authorization_code.account_id, authorization_code.grant_id)

    def delete_authorization_code(self, authorization_code):
        pass  # already deleted by authenticate_user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials for departments (section 4.4, SMART Backend Services)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh with rotation (section 6; RFC 9700 section 4.14.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "private_key_jwt"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        record = self.server.tokens.token_by_refresh(refresh_token)
        if record is None:
            return None
        record.presented = "refresh_token"
        if record.refresh_revoked:
            # A rotated refresh token came back: someone holds a copy. End the whole login.
            self.server.tokens.revoke_family(record.family)
            self.server.on_revoked()
            return None
        return None if record.is_expired() else record

    def authenticate_user(self, refresh_token):
        if not self.server.tokens.retire_refresh(refresh_token.jti):
            raise InvalidGrantError("The refresh token was already used.")
        if refresh_token.staff_id:  # the account and its department are checked again
            return self.server.staff_member(refresh_token.staff_id)
        return caregivers.principal(self.server.accounts, self.server.grants,
                                    refresh_token.account_id, refresh_token.grant_id)

    def revoke_old_credential(self, refresh_token):
        pass  # already retired by authenticate_user


# RFC 7523 section 2.2 --------------------------------------------------------------------
class PrivateKeyJWT(JWTBearerClientAssertion):
    """Client authentication with a JWT signed by a key from the client's registered JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, clients: ClientStore, audiences: list[str]):
        super().__init__(validate_jti=True, leeway=LEEWAY_SECONDS)
        self.clients, self.audiences = clients, audiences

    def get_audiences(self):
        return self.audiences

    def resolve_client_public_key(self, client):
        return KeySet.import_key_set(client.jwks)

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The client assertion is not valid.") from exc
        self.verify_claims(token.claims)
        # SMART Backend Services: exp no more than five minutes in the future.
        if token.claims["exp"] > time.time() + 300 + self.leeway:
            raise InvalidClientError(description="The client assertion lives too long.")
        return token.claims

    def validate_jti(self, claims, jti):
        return self.clients.remember_assertion(f"{claims['sub']} {jti}", int(claims["exp"]))


# RFC 7009 / RFC 7662 ----------------------------------------------------------------------
def _find_token(server, token_string: str, hint: str | None) -> TokenRecord | None:
    """Find a token by value: a JWT access token by its jti, else a refresh token."""
    if token_string.count(".") == 2 and hint != "refresh_token":
        try:
            claims = jwt.decode(token_string, server.trusted_keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return None
        record = server.tokens.token_by_jti(str(claims.get("jti", "")))
        return record
    record = server.tokens.token_by_refresh(token_string)
    if record is not None:
        record.presented = "refresh_token"
    return record


class Revocation(RevocationEndpoint):
    """POST /oauth/revoke."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]

    def query_token(self, token_string, token_type_hint):
        return _find_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token, request):
        """Revoke an access token alone, or a refresh token with its whole login (section 2.1)."""
        if token.presented == "refresh_token":
            self.server.tokens.revoke_family(token.family)
        else:
            self.server.tokens.revoke([token.jti], refresh=False)
        self.server.on_revoked()


class Introspection(IntrospectionEndpoint):
    """POST /oauth/introspect; a client may introspect the tokens issued to it."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]

    def query_token(self, token_string, token_type_hint):
        return _find_token(self.server, token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        client = self.server.clients.client(token.client_id)
        body = {"active": True, "client_id": token.client_id, "scope": token.scope,
                "token_type": "Bearer" if token.presented == "access_token" else "refresh_token",
                "sub": token.account_id or token.client_id, "iss": self.server.settings.issuer,
                "aud": self.server.settings.audience, "iat": token.issued_at,
                "exp": (token.expires_at if token.presented == "access_token"
                        else token.refresh_expires_at), "jti": token.jti}
        grant = self.server.grants.grant(token.grant_id) if token.grant_id else None
        if grant is not None:  # a caregiver's token (RFC 8693 section 4.1)
            body.update(sub=grant["patient_account_id"], act={"sub": token.account_id},
                        patient=token.patient)
        elif token.patient:
            body.update(patient=token.patient, fhirUser=f"Patient/{token.patient}")
        elif token.staff_id:
            staff = self.server.staff.account(account_id=token.staff_id)
            body["sub"] = token.staff_id
            if staff is not None:
                body.update(dept=staff.department, role=list(staff.roles), fhirUser=staff.fhir_user)
        if client is not None and client.kind == DEPARTMENT:
            body["dept"] = client.name
        return body


# wiring ----------------------------------------------------------------------------------
class GatewayAuthorizationServer(AuthorizationServer):
    """authlib's Flask server bound to the gateway's stores, key and settings."""

    def __init__(self, keys: SigningKeys, settings: Settings, on_revoked: Callable[[], None], *,
                 clients: ClientStore, codes: CodeStore, tokens: TokenStore,
                 accounts: AccountStore, grants: GrantStore, staff: StaffStore,
                 department: DepartmentEntry, apps: AppStore):
        # before super().__init__: it may load the config, which builds the token generator
        self.department = department
        super().__init__()
        self.signing_key, self.settings, self.on_revoked = keys.signing, settings, on_revoked
        # every key in the JWK Set, so a token signed before a change of keys is still ours
        self.keys, self.trusted_keys = keys, keys.key_set()
        self.clients, self.codes, self.tokens = clients, codes, tokens
        # who a code or refresh token was issued to: an account, a caregiver under a grant, or
        # a member of a department's staff
        self.accounts, self.grants, self.staff = accounts, grants, staff
        self.apps = apps  # patients' own apps and their approvals

    def staff_member(self, staff_id: str) -> StaffAccount:
        """The member of staff a code or refresh token was issued to, when they may still sign
        in (an active account of an active department); else InvalidGrantError."""
        account = self.staff.account(account_id=staff_id)
        if account is None:
            raise InvalidGrantError("The staff account is gone.")
        try:
            check_may_sign_in(account, department_active(self.department(account.department)))
        except StaffError as refused:
            raise InvalidGrantError(f"The staff account may not sign in ({refused.reason}).") from None
        return account

    def load_config(self, config):
        self.register_token_generator("default", AccessTokenGenerator(self.signing_key, self.settings,
                                                                      self.department))
        self.scopes_supported = None  # clients' own scope lists decide (Client.get_allowed_scope)

    def query_client(self, client_id):
        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            return None
        return self.clients.client(client_id)

    def save_token(self, token, request):
        """Record the token's jti (and refresh token hash) for introspection and revocation."""
        claims = unverified_claims(token["access_token"])
        user = request.user
        previous = getattr(request, "refresh_token", None)
        refresh = token.get("refresh_token")
        refresh_expires_at = claims["iat"] + REFRESH_TOKEN_SECONDS if refresh else None
        grant_id = user.grant_id if isinstance(user, ActingCaregiver) else None
        staff = isinstance(user, StaffAccount)
        if grant_id and refresh:
            refresh_expires_at = min(refresh_expires_at, user.ends_at)
        app = request.client.kind == APP and user is not None and not staff
        app_use = (lambda conn: self.apps.touch(conn, user.id, claims["client_id"])) if app else None
        saved = self.tokens.save_token(
            app_use=app_use,
            jti=claims["jti"], client_id=claims["client_id"],
            account_id=user.id if user and not staff else None, patient=claims.get("patient"),
            staff_id=user.id if staff else None,
            scope=claims["scope"], issued_at=claims["iat"], expires_at=claims["exp"],
            access_revoked=False, refresh_revoked=refresh is None,
            refresh_hash=storage.digest(refresh) if refresh else None,
            refresh_expires_at=refresh_expires_at, grant_id=grant_id,
            family=previous.family if isinstance(previous, TokenRecord) else claims["jti"])
        if not saved and grant_id:  # the patient stopped the grant while this token was being made
            raise InvalidGrantError("The caregiver's access has ended or was stopped.")
        if not saved and staff:  # the account or its department was disabled meanwhile
            raise InvalidGrantError("The staff account may not sign in.")
        if not saved and app:  # the patient disconnected the app
            raise InvalidGrantError("The patient disconnected this app.")
        if not saved:  # an administrator disabled the department while this token was being made
            raise InvalidClientError(description="The client was disabled.")
        if grant_id and request.payload.grant_type == "authorization_code":
            caregivers.record_sign_in(self.grants, user)
        if user is not None and not staff:
            token["patient"] = user.patient  # SMART App Launch launch context
            if "openid" in claims["scope"].split():
                code = getattr(request, "authorization_code", None)
                token["id_token"] = id_token(self.signing_key, self.settings.issuer, claims,
                                             user, getattr(code, "nonce", None))


def id_token(key: RSAKey, issuer: str, access: dict, user, nonce: str | None) -> str:
    """An OpenID Connect ID token (OIDC Core section 2) for the person the access token ACCESS
    was issued to, for its client, signed with the key of the JWKS. SMART's fhirUser names the
    patient's own Patient; a caregiver has no FHIR resource of their own here (no RelatedPerson
    is kept), so theirs names none rather than a made-up one."""
    claims = {"iss": issuer, "sub": access["sub"], "aud": access["client_id"],
              "iat": access["iat"], "exp": access["exp"]}
    if not isinstance(user, ActingCaregiver):
        claims["fhirUser"] = f"Patient/{user.patient}"
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)


def create_authorization_server(app, keys: SigningKeys, settings: Settings,
                                on_revoked: Callable[[], None], **stores) -> GatewayAuthorizationServer:
    """Build the server with only the grants and endpoints this platform uses; STORES are
    GatewayAuthorizationServer's (clients, codes, tokens, accounts, grants, staff, department)."""
    server = GatewayAuthorizationServer(keys, settings, on_revoked, **stores)
    server.init_app(app)
    token_url = settings.issuer + "/oauth/token"
    server.register_client_auth_method("private_key_jwt",
                                       PrivateKeyJWT(server.clients, [token_url, settings.issuer]))
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
