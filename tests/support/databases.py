"""Real databases for tests: a SQLite file, or a fresh database in the local PostgreSQL."""
from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import sqlalchemy as sa

from services.common.db import migrate
from services.common.files import private_file

PG_ADMIN_URL = os.environ.get("PHR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def create_postgres_database(prefix: str = "phr_test") -> str:
    """Create an empty database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class PostgresDatabases:
    """Fresh, empty PostgreSQL databases, made ahead in a thread of their own while the tests run,
    and used ones dropped there too: a CREATE DATABASE writes a copy of template1 (several MB)
    through the WAL, about a third of a second on a busy machine, and a test no longer waits for
    it or for the DROP. ``close()`` drops whatever is left.
    """

    def __init__(self, ahead: int = 2):
        self.ahead = ahead
        self._ready: queue.Queue[str] = queue.Queue()
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def take(self) -> str:
        """The URL of an empty database no one else has had."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="postgres-databases", daemon=True)
            self._thread.start()
            for _ in range(self.ahead):
                self._jobs.put(("create", None))
        self._jobs.put(("create", None))
        while True:
            try:
                return self._ready.get(timeout=5)
            except queue.Empty:
                if not self._thread.is_alive():  # it died: make one here, as before
                    return create_postgres_database()

    def drop(self, url: str) -> None:
        """Drop URL's database (its connections ended first) once the thread gets to it."""
        if self._thread is None or not self._thread.is_alive():
            drop_postgres_database(url)
        else:
            self._jobs.put(("drop", url))

    def close(self) -> None:
        """Finish the pending work, then drop the databases made ahead and not taken."""
        if self._thread is None:
            return
        self._jobs.put(("stop", None))
        self._thread.join()
        while not self._ready.empty():
            drop_postgres_database(self._ready.get())
        self._thread = None

    def _work(self) -> None:
        while True:
            job, url = self._jobs.get()
            if job == "stop":
                return
            if job == "create":
                self._ready.put(create_postgres_database())
            else:
                drop_postgres_database(url)


def migrated(url: str, migrations_dir) -> None:
    """Bring the database at URL to the newest revision in MIGRATIONS_DIR (services.common.db.migrate),
    from a copy of the session's template when URL is a SQLite file not made yet (`from_template`)."""
    from_template(url, migrations_dir)
    migrate(url, migrations_dir)


def from_template(url: str, migrations_dir) -> None:
    """Make URL, a SQLite file not made yet, a copy of one that MIGRATIONS_DIR's migrations built
    earlier in the session; leave any other URL alone. Copying takes a thousandth of a second
    where running every migration took a tenth, for each test; a `migrate` after it finds the
    database at head and does nothing.
    """
    path = _new_sqlite_file(url)
    if path is not None:
        template = _sqlite_template(Path(migrations_dir))
        private_file(path)  # 0600, as the service makes its own (services/common/files.py)
        shutil.copyfile(template, path)


_TEMPLATES: dict[Path, Path] = {}
_TEMPLATE_DIR: tempfile.TemporaryDirectory | None = None


def _sqlite_template(migrations_dir: Path) -> Path:
    """A SQLite file migrated to head by MIGRATIONS_DIR, made once per session."""
    global _TEMPLATE_DIR
    if migrations_dir not in _TEMPLATES:
        if _TEMPLATE_DIR is None:
            _TEMPLATE_DIR = tempfile.TemporaryDirectory(prefix="phr-test-templates-")
        path = Path(_TEMPLATE_DIR.name) / f"{len(_TEMPLATES)}.db"
        migrate(f"sqlite:///{path}", migrations_dir)  # disposes its engine: no -wal file is left
        _TEMPLATES[migrations_dir] = path
    return _TEMPLATES[migrations_dir]


def _new_sqlite_file(url: str) -> Path | None:
    """The path of URL's SQLite file if that file does not exist yet, else None."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def alembic_config(migrations_dir, url: str, conn):
    """An Alembic configuration of one service's MIGRATIONS_DIR that runs on the open connection CONN."""
    from alembic.config import Config

    from services.common.db import normalise_url
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    cfg.attributes["connection"] = conn
    return cfg
