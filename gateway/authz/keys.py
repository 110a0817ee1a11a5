"""The gateway's token signing key (RFC 7517 JWK), created once and published as a JWK Set."""
from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from pathlib import Path

from joserfc.jwk import RSAKey

from services.common.files import private_dir

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
    private_dir(path.parent)
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    # mkstemp opens with O_CREAT|O_EXCL and mode 0600; os.link then publishes the complete
    # file under its final name and, like O_EXCL, fails if another process got there first.
    fd, tmp = tempfile.mkstemp(prefix=".signing-key-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(key.as_dict(private=True), fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
            log.info("created signing key %s (kid %s)", path, key.kid)
        except FileExistsError:
            pass  # another worker won the race; use its key
    finally:
        os.unlink(tmp)


def public_jwks(key: RSAKey) -> dict:
    """Return the JWK Set with only the public part of KEY (RFC 7517 section 5)."""
    return {"keys": [key.as_dict(private=False)]}
