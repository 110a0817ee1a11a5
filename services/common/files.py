"""The local state folder (``PHR_VAR_DIR``) holds health data and keys: owner only.

SQLite databases, their WAL and shared-memory files, signing and session keys, the demo's
credentials and the stack's log all live there. Files are created 0600 and the folder 0700,
whatever the process's umask, and a wider mode found on start is narrowed (a var/ made by an
older version, or restored from a backup). SQLite gives a database's -wal and -shm files the
mode of the database file itself, so creating the database 0600 covers those too.
"""
from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

DIR_MODE, FILE_MODE = 0o700, 0o600
#: The umask the launcher sets for every process it starts: nothing for group or others.
PRIVATE_UMASK = 0o077
log = logging.getLogger(__name__)


def private_dir(path: Path | str) -> Path:
    """Create PATH (and its parents) if missing; make PATH itself owner-only (0700)."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _narrow(path, DIR_MODE)
    return path


def private_file(path: Path | str) -> Path:
    """Create PATH empty with mode 0600 if missing (in a private folder); narrow it if wider."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    _narrow(path, FILE_MODE)
    return path


def _narrow(path: Path, mode: int) -> None:
    """Take away group and other bits from PATH; a file we do not own is left as it is, said in the log."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077 == 0:
        return
    try:
        os.chmod(path, current & ~0o077 & 0o7777 or mode)
        log.info("narrowed %s from mode %o to owner only", path, current)
    except PermissionError:
        log.warning("%s has mode %o (readable by others) and is not ours to change", path, current)


def _written_beside(path: Path, text: str) -> str:
    """Write TEXT, synced, to a new 0600 file beside PATH (in a private folder); return its name."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_once(path: Path | str, text: str) -> bool:
    """Write TEXT to PATH (0600, in a private folder) unless PATH exists; return whether this
    call wrote it. Concurrent writers end with exactly one complete file, never a partial one:
    mkstemp opens with O_CREAT|O_EXCL and mode 0600, and os.link then publishes the complete file
    under its final name and, like O_EXCL, fails if another process got there first."""
    path = Path(path)
    tmp = _written_beside(path, text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def replace_private(path: Path | str, text: str) -> Path:
    """Write TEXT to PATH (0600, in a private folder), replacing what was there at once: a
    reader sees the old file or the new one, never a partial one (mkstemp then os.replace)."""
    path = Path(path)
    tmp = _written_beside(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
