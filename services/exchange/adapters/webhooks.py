"""Signed webhooks to departments: the exchange's signing key, the JWS (RFC 7515) over a notice,
and the HTTP POST that carries it.

The key is an EC P-256 JWK (ES256) kept in ``Settings.webhook_key_file``, created at first start
and never committed; its ``kid`` is its RFC 7638 thumbprint. The gateway publishes its public
part at ``/oauth/jwks`` (gateway/authz/keys.py), so a department verifies a notice with the JWK
Set it already fetches. Access tokens are RS256 only (services/common/auth.py ALGORITHMS), so
this key, in the same set, can never vouch for a token.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import requests
from joserfc import jws
from joserfc.jwk import ECKey

from services.common.files import write_once
from services.exchange.domain.receipts import JWS_TYPE, MEDIA_TYPE

ALGORITHM = "ES256"
log = logging.getLogger(__name__)


def load_or_create_key(path: Path) -> ECKey:
    """Return the webhook signing key at PATH, creating it on first start (concurrent starters
    end with one key)."""
    path = Path(path)
    if not path.exists():
        key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
        if write_once(path, json.dumps(key.as_dict(private=True))):
            log.info("created webhook signing key %s (kid %s)", path, key.kid)
    return ECKey.import_key(json.loads(path.read_text()))


class Signer:
    """Sign a payload as a compact JWS with the webhook key at PATH, read (or made) when first
    needed: only the worker signs, and it asks for the key at start (so the gateway can publish
    it before the first notice)."""

    def __init__(self, path: Path):
        self.path, self._key = Path(path), None

    @property
    def key(self) -> ECKey:
        if self._key is None:
            self._key = load_or_create_key(self.path)
        return self._key

    @property
    def kid(self) -> str:
        return self.key.kid

    def sign(self, payload: dict) -> str:
        header = {"alg": ALGORITHM, "kid": self.key.kid, "typ": JWS_TYPE, "cty": "json"}
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return jws.serialize_compact(header, body, self.key, algorithms=[ALGORITHM])


class HttpSender:
    """POST a signed notice to a department's URL; a 2xx answer is a delivery."""

    def __init__(self, timeout: float = 5.0, session: requests.Session | None = None):
        self.timeout, self.session = timeout, session or requests.Session()

    def send(self, url: str, body: str, notice_id: str) -> tuple[int | None, str | None]:
        """Return (the receiver's status code or None, what went wrong or None). Redirects are
        not followed: the URL registered is the one that gets the notice."""
        try:
            resp = self.session.post(url, data=body.encode(), timeout=self.timeout, allow_redirects=False,
                                     headers={"Content-Type": MEDIA_TYPE, "Idempotency-Key": notice_id})
        except requests.RequestException as exc:
            return None, type(exc).__name__
        resp.close()
        return resp.status_code, None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
