"""Mint RFC 9068 access tokens with a test key, and a validator that trusts that key."""
from __future__ import annotations

import base64
import json
import time
import uuid
from contextlib import contextmanager

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from services.common.auth import JwksCache, RevocationFeed, TokenValidator

ISSUER = "http://issuer.test"
AUDIENCE = "http://issuer.test"


class TokenMint:
    """A signing key and the tokens it signs."""

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE):
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.issuer, self.audience = issuer, audience

    def jwks(self) -> dict:
        return KeySet([self.key]).as_dict(private=False)

    def validator(self) -> TokenValidator:
        return TokenValidator(self.issuer, self.audience, JwksCache("memory://", fetch=lambda _u: self.jwks()))

    def token(self, scope: str = "system/*.cruds", lifetime: int = 300, key=None, header=None,
              **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": claims.get("sub", "client-1"),
                "client_id": "client-1", "scope": scope, "jti": str(uuid.uuid4()),
                "iat": now, "exp": now + lifetime, **claims}
        signer = key or self.key
        hdr = {"alg": "RS256", "typ": "at+jwt", "kid": signer.kid, **(header or {})}
        return jwt.encode(hdr, body, signer)

    def department(self, dept: str = "primary-care", scope: str = "system/*.cruds") -> dict:
        """Return Authorization headers for a department client."""
        return {"Authorization": f"Bearer {self.token(scope=scope, dept=dept, sub=dept, client_id=dept)}"}

    def patient(self, patient_id: str | None, scope: str = "patient/*.rs", **claims) -> dict:
        """Return Authorization headers for a patient's app: a token naming PATIENT_ID, with SCOPE
        and any other CLAIMS (sub, act for a caregiver, locale, fhirUser)."""
        return {"Authorization": f"Bearer {self.token(scope=scope, patient=patient_id, **claims)}"}

    def staff(self, dept: str = "cardiology", roles: tuple[str, ...] = ("clinician",), staff_id: str = "staff-1",
              scope: str | None = None, **claims) -> dict:
        """Return Authorization headers for a member of DEPT's staff with ROLES: the scopes of
        those roles (contracts.vocabulary.ROLE_SCOPES) unless SCOPE is given, and the claims a
        staff token carries (sub, dept, role, fhirUser)."""
        from contracts.vocabulary import ROLE_SCOPES
        scope = scope if scope is not None else " ".join(ROLE_SCOPES[r] for r in roles)
        body = {"sub": staff_id, "dept": dept, "role": list(roles), "fhirUser": f"Practitioner/{staff_id}",
                "client_id": "phr-console", **claims}
        return {"Authorization": f"Bearer {self.token(scope=scope, **body)}"}



@contextmanager
def revoked(app, headers: dict):
    """Within the block, APP's token validator holds the bearer token of HEADERS as revoked (a
    revocation feed that answers with its jti)."""
    token = headers["Authorization"].split(" ", 1)[1]
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"]
    validator = app.extensions["token_validator"]
    validator.revocations = RevocationFeed("memory://", fetch=lambda _url, _etag: (None, {jti: int(time.time()) + 300}))
    try:
        yield
    finally:
        validator.revocations.close()
        validator.revocations = None
