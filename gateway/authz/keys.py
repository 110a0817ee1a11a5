"""The gateway's token signing key (RFC 7517 JWK), created once and published as a JWK Set."""
from __future__ import annotations

import functools
import json
import logging
import stat
from pathlib import Path

from joserfc.jwk import ECKey, RSAKey

from services.common.files import write_once

KEY_FILE = "gateway-signing-key.json"
log = logging.getLogger(__name__)


def load_or_create_signing_key(var_dir: Path) -> RSAKey:
    """Return the RSA 2048 signing key in VAR_DIR, creating it on first start."""
    path = Path(var_dir) / KEY_FILE
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); it should be 0600", path, mode)
    return RSAKey.import_key(json.loads(path.read_text()))


def _create(path: Path) -> None:
    """Write a new key so that concurrent starters end with exactly one, never a partial file."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    if write_once(path, json.dumps(key.as_dict(private=True))):
        log.info("created signing key %s (kid %s)", path, key.kid)
    # else another worker won the race; use its key


def public_jwks(key: RSAKey, *others: dict) -> dict:
    """Return the JWK Set with only the public part of KEY (RFC 7517 section 5), and OTHERS
    (public JWKs) after it."""
    return {"keys": [key.as_dict(private=False), *others]}


@functools.lru_cache(maxsize=4)
def _public_part(path: str, mtime_ns: int) -> dict:
    key = ECKey.import_key(json.loads(Path(path).read_text()))
    return key.as_dict(private=False)


def webhook_key(path: Path | None) -> tuple[dict, ...]:
    """The exchange's webhook signing key from PATH, the public-only file the exchange writes
    (Settings.webhook_public_key_file; the gateway never reads the private key, so it cannot sign
    notices), to publish beside the token key so that a department verifies a signed notice with
    the JWK Set it already trusts; none while the file is missing (the exchange makes it at first
    start). Only a public part is ever published, even if the file held a private key. Access
    tokens are verified as RS256 only (services/common/auth.py ALGORITHMS), so this ES256 key
    cannot vouch for a token."""
    if path is None:
        return ()
    try:
        return (_public_part(str(path), Path(path).stat().st_mtime_ns),)
    except FileNotFoundError:
        return ()
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("webhook key %s is not an EC JWK: %s", path, exc)
        return ()
