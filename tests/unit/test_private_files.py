"""The local state folder holds health data and keys: its files are the owner's alone."""
import os
import stat

import pytest
import sqlalchemy as sa

from services.common.db import make_engine
from services.common.files import private_dir, private_file


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """Run with the permissive umask most shells have, as a service started by hand would."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_sqlite_database_and_its_wal_are_owner_only_under_an_open_umask(tmp_path, open_umask):
    db = tmp_path / "var" / "consent.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        created = sorted(p.name for p in db.parent.iterdir())
        modes = {name: _mode(db.parent / name) for name in created}
    engine.dispose()
    assert "consent.db-wal" in created and "consent.db-shm" in created
    assert modes == {name: 0o600 for name in created}
    assert _mode(db.parent) == 0o700


def test_a_database_left_readable_by_others_is_narrowed_when_opened(tmp_path, open_umask):
    db = tmp_path / "records.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600


def test_a_private_folder_loses_group_and_other_bits_and_keeps_its_files(tmp_path, open_umask):
    folder = tmp_path / "var"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    (folder / "keep.txt").write_text("x")
    assert _mode(private_dir(folder)) == 0o700
    assert (folder / "keep.txt").read_text() == "x"


def test_a_private_file_is_created_empty_and_never_truncated(tmp_path, open_umask):
    path = private_file(tmp_path / "a" / "lock")
    assert _mode(path) == 0o600 and path.read_bytes() == b""
    path.write_bytes(b"held")
    assert private_file(path).read_bytes() == b"held"
