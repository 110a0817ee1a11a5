"""The key that signs the portal's session cookie: random, made at first start, never committed."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from services.common.files import private_dir

KEY_FILE = "gateway-session-key"


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
