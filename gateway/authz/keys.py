"""The gateway's token signing keys (RFC 7517 JWK): given by the operator, or created once; all
published as a JWK Set.

Given (``GATEWAY_SIGNING_KEY_FILE``, a JWK or a JWK Set): every gateway process reads the same
keys. The first key signs; every key in the file is published and trusted, so that during a
change of keys the file holds two (README, "Changing keys"). Not given: one key made at first
start in var/, as a single host runs it.
"""
from __future__ import annotations

import functools
import json
import logging
import stat
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import ECKey, KeySet, RSAKey

from services.common.files import write_once

KEY_FILE = "gateway-signing-key.json"
log = logging.getLogger(__name__)


class KeyFileError(ValueError):
    """A key file the operator named cannot be used; the message names the setting and the file."""

    def __init__(self, setting: str, path: Path, why: str):
        super().__init__(f"{setting}={path}: {why}")


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs, first, and every key a token signed by us may carry (RFC 7517 "kid")."""

    signing: RSAKey
    trusted: tuple[RSAKey, ...]

    def key_set(self) -> KeySet:
        """Every trusted key, for verifying our own tokens (joserfc picks one by the token's kid)."""
        return KeySet(list(self.trusted))


def signing_keys(var_dir: Path, key_file: Path | None) -> SigningKeys:
    """The keys from KEY_FILE (GATEWAY_SIGNING_KEY_FILE) when given, else the one key in VAR_DIR."""
    if key_file is None:
        key = load_or_create_signing_key(var_dir)
        return SigningKeys(key, (key,))
    return load_signing_key_file(Path(key_file))


def load_signing_key_file(path: Path, setting: str = "GATEWAY_SIGNING_KEY_FILE") -> SigningKeys:
    """Read a JWK or JWK Set of RSA keys; the first must be private (it signs), the others may be
    public only (a key that signed tokens still in force). Raise KeyFileError naming SETTING."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise KeyFileError(setting, path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError:
        raise KeyFileError(setting, path, "is not JSON (a JWK or a JWK Set, RFC 7517)") from None
    entries = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(entries, list) or not entries:
        raise KeyFileError(setting, path, "holds no key (a JWK Set needs at least one in \"keys\")")
    keys = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("alg", "RS256") != "RS256":
            raise KeyFileError(setting, path, f"key {number} is not an RSA JWK for RS256 (the one "
                                              "algorithm tokens are signed with)")
        try:
            key = RSAKey.import_key(entry)
        except Exception as exc:  # joserfc and cryptography name a broken key in many ways
            raise KeyFileError(setting, path, f"key {number} cannot be read ({exc})") from None
        key.ensure_kid()  # a key without one is known by its thumbprint (RFC 7638)
        keys.append(key)
    if not keys[0].is_private:
        raise KeyFileError(setting, path, "the first key signs, so it needs its private part")
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise KeyFileError(setting, path, "two keys have the same kid")
    _warn_if_readable(path, private=any(key.is_private for key in keys))
    return SigningKeys(keys[0], tuple(keys))


def _warn_if_readable(path: Path, private: bool = True) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if private and mode & 0o077:
        log.warning("%s is readable by others (mode %o); it should be 0600", path, mode)


def load_or_create_signing_key(var_dir: Path) -> RSAKey:
    """Return the RSA 2048 signing key in VAR_DIR, creating it on first start."""
    path = Path(var_dir) / KEY_FILE
    if not path.exists():
        _create(path)
    _warn_if_readable(path)
    return RSAKey.import_key(json.loads(path.read_text()))


def _create(path: Path) -> None:
    """Write a new key so that concurrent starters end with exactly one, never a partial file."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    if write_once(path, json.dumps(key.as_dict(private=True))):
        log.info("created signing key %s (kid %s)", path, key.kid)
    # else another worker won the race; use its key


def public_jwks(keys: SigningKeys, *others: dict) -> dict:
    """Return the JWK Set with only the public part of every trusted key (RFC 7517 section 5),
    the signing key first, and OTHERS (public JWKs) after them."""
    return {"keys": [*(key.as_dict(private=False) for key in keys.trusted), *others]}


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
