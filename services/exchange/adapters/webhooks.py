"""Signed webhooks to departments: the exchange's signing key, the JWS (RFC 7515) over a notice,
and the HTTP POST that carries it.

The key is an EC P-256 JWK (ES256) kept in ``Settings.webhook_key_file``, created at first start
and never committed; its ``kid`` is its RFC 7638 thumbprint. Its public part alone is written to
``Settings.webhook_public_key_file``, the one file the gateway reads to publish it at
``/oauth/jwks`` (gateway/authz/keys.py), so a department verifies a notice with the JWK
Set it already fetches. Access tokens are RS256 only (services/common/auth.py ALGORITHMS), so
this key, in the same set, can never vouch for a token.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import tempfile
from pathlib import Path

from joserfc import jws
from joserfc.jwk import ECKey

from services.common.files import private_dir, write_once
from services.exchange.adapters.hooks import EndpointRefused, RestHook
from services.exchange.domain.receipts import JWS_TYPE, MEDIA_TYPE

ALGORITHM = "ES256"
log = logging.getLogger(__name__)


def load_or_create_key(path: Path, public_path: Path | None = None) -> ECKey:
    """Return the webhook signing key at PATH, creating it on first start (concurrent starters
    end with one key); write its public part alone to PUBLIC_PATH when that file is missing or
    holds another key (the gateway reads only that file: gateway/authz/keys.py)."""
    path = Path(path)
    if not path.exists():
        key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
        if write_once(path, json.dumps(key.as_dict(private=True))):
            log.info("created webhook signing key %s (kid %s)", path, key.kid)
    key = ECKey.import_key(json.loads(path.read_text()))
    if public_path is not None:
        publish_public_part(key, Path(public_path))
    return key


def publish_public_part(key: ECKey, path: Path) -> None:
    """Write KEY's public JWK to PATH unless it is there already; replaced whole (a reader sees
    the old file or the new one, never a part)."""
    text = json.dumps(key.as_dict(private=False))
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    log.info("wrote the public part of webhook key %s to %s", key.kid, path)


class Signer:
    """Sign a payload as a compact JWS with the webhook key at PATH, read (or made) when first
    needed: only the worker signs, and it asks for the key at start (so the gateway can publish
    it before the first notice); its public part goes to PUBLIC_PATH then."""

    def __init__(self, path: Path, public_path: Path | None = None):
        self.path, self.public_path, self._key = Path(path), public_path, None

    @property
    def key(self) -> ECKey:
        if self._key is None:
            self._key = load_or_create_key(self.path, self.public_path)
        return self._key

    @property
    def kid(self) -> str:
        return self.key.kid

    def sign(self, payload: dict) -> str:
        header = {"alg": ALGORITHM, "kid": self.key.kid, "typ": JWS_TYPE, "cty": "json"}
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return jws.serialize_compact(header, body, self.key, algorithms=[ALGORITHM])


#: What a try refused by the host policy records (never shown to the department: services/exchange/
#: entrypoints/staff.py shows a try's outcome only).
REFUSED = "refused by the outbound policy"


class HttpSender:
    """POST a signed notice to a department's URL through HOOK (adapters/hooks.py RestHook: the
    one outbound policy of department callbacks, checked on every address the URL's host resolves
    to now, and the connection made to the address checked); a 2xx answer is a delivery."""

    def __init__(self, hook: RestHook):
        self.hook = hook

    def send(self, url: str, body: str, notice_id: str) -> tuple[int | None, str | None]:
        """Return (the receiver's status code or None, what went wrong or None). Redirects are
        not followed: the URL registered is the one that gets the notice."""
        try:
            opened = self.hook.open(url)
        except EndpointRefused as exc:
            log.warning("webhook notice %s not sent: %s", notice_id, exc)
            return None, REFUSED
        except (OSError, ValueError) as exc:
            return None, type(exc).__name__
        try:
            status = opened.send(body.encode(), {"Content-Type": MEDIA_TYPE, "Idempotency-Key": notice_id})
        except (OSError, http.client.HTTPException) as exc:
            return None, type(exc).__name__
        finally:
            opened.close()
        return status, None if 200 <= status < 300 else f"HTTP {status}"
