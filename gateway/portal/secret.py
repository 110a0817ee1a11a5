"""The keys that sign the portal's session cookie (and the device cookies and vouched addresses
derived from it): given by the operator, or random, made at first start, never committed.

Given (``GATEWAY_SESSION_KEY_FILE``): one key a line, in hex; every gateway process reads the
same file. The first signs; the others still verify (Flask's SECRET_KEY_FALLBACKS), so that a
change of keys signs nobody out (README, "Changing keys").
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from gateway.authz.keys import KeyFileError
from services.common.files import private_dir

KEY_FILE = "gateway-session-key"
MIN_BYTES = 32
log = logging.getLogger(__name__)


def session_keys(var_dir: Path, key_file: Path | None) -> tuple[bytes, ...]:
    """The keys from KEY_FILE (GATEWAY_SESSION_KEY_FILE) when given, the signing one first; else
    the one key in VAR_DIR."""
    if key_file is None:
        return (load_or_create_session_key(var_dir),)
    return load_session_key_file(Path(key_file))


def load_session_key_file(path: Path, setting: str = "GATEWAY_SESSION_KEY_FILE") -> tuple[bytes, ...]:
    """Read hex keys, one a line (blank lines and lines starting with # skipped); raise
    KeyFileError naming SETTING when the file cannot be used."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(setting, path, f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise KeyFileError(setting, path, "is not text: write one key a line, in hex") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = bytes.fromhex(line)
        except ValueError:
            raise KeyFileError(setting, path, f"line {number} is not a key in hex") from None
        if len(key) < MIN_BYTES:
            raise KeyFileError(setting, path, f"line {number} is a key of {len(key)} bytes; use at "
                                              f"least {MIN_BYTES} (python -c 'import secrets; "
                                              f"print(secrets.token_hex({MIN_BYTES}))')")
        keys.append(key)
    if not keys:
        raise KeyFileError(setting, path, "holds no key: write one key a line, in hex")
    if len(set(keys)) != len(keys):
        raise KeyFileError(setting, path, "holds the same key twice")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); it should be 0600", path, mode)
    return tuple(keys)


def load_or_create_session_key(var_dir: Path) -> bytes:
    """Return the session key in VAR_DIR, creating it (mode 0600) on first start."""
    path = Path(var_dir) / KEY_FILE
    if not path.exists():
        private_dir(path.parent)
        # As with the signing key (gateway/authz/keys.py): write a complete file, then link it in;
        # when two workers start together, the second link fails and both read the first key.
        fd, tmp = tempfile.mkstemp(prefix=".session-key-", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())
