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
    """Fresh PostgreSQL databases, made ahead in a thread of their own while the tests run, and
    used ones recycled or dropped there too. ``close()`` drops whatever is left.

    A CREATE DATABASE writes a copy of template1 (several MB) through the WAL, and running a
    service's migrations on it takes 1-2 s more on this 2-core machine; with about 500 tests on
    PostgreSQL that was several minutes of the suite. So a used database that is still exactly
    what its migrations build (same revision, same tables, columns, indexes, functions and
    triggers as a reference database migrated here) is emptied (TRUNCATE ... RESTART IDENTITY)
    and kept; ``adopt`` then gives it, under the new test's database name, to the next test
    that would migrate an empty database to that revision. Anything else is dropped.
    """

    def __init__(self, ahead: int = 2):
        self.ahead = ahead
        self._ready: queue.Queue[str] = queue.Queue()
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # migrations folder -> (head revision, shape of a database they build), None: never reuse
        self._kinds: dict[Path, tuple[str, str] | None] = {}
        self._clean: dict[tuple[str, str], list[str]] = {}  # (revision, shape) -> emptied databases

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

    def adopt(self, url: str, migrations_dir) -> bool:
        """Turn URL's database, still empty and unused, into an emptied one already at the head
        of MIGRATIONS_DIR, if one is kept; True when done (a `migrate` then does nothing)."""
        folder = Path(migrations_dir)
        if folder not in self._kinds:
            # Here, not in the thread: Alembic's `op` is one proxy per process, so two threads
            # migrating at once would send each other's statements to the wrong database.
            shape = _reference_shape(folder)
            kind = None if shape is None else (_head(folder), shape)
            with self._lock:
                self._kinds[folder] = kind
        kind = self._kinds[folder]
        with self._lock:
            kept = self._clean.get(kind) if kind else None
            spare = kept.pop() if kept else None
        if spare is None:
            return False
        name = url.rsplit("/", 1)[1]
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                if _in_use(conn, name) or not _empty(url):
                    with self._lock:
                        self._clean[kind].append(spare)
                    return False
                # Swap the names: the empty database goes back to the queue of fresh ones.
                swapped = f"phr_test_{uuid.uuid4().hex[:10]}"
                conn.execute(sa.text(f'ALTER DATABASE "{name}" RENAME TO "{swapped}"'))
                try:
                    conn.execute(sa.text(f'ALTER DATABASE "{spare}" RENAME TO "{name}"'))
                except sa.exc.DBAPIError:
                    conn.execute(sa.text(f'ALTER DATABASE "{swapped}" RENAME TO "{name}"'))
                    self._jobs.put(("recycle", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{spare}"))
                    return False
            self._ready.put(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{swapped}")
            return True
        finally:
            admin.dispose()

    def drop(self, url: str) -> None:
        """Recycle or drop URL's database (its connections ended first) once the thread gets to it."""
        if self._thread is None or not self._thread.is_alive():
            drop_postgres_database(url)
        else:
            self._jobs.put(("recycle", url))

    def close(self) -> None:
        """Finish the pending work, then drop the databases made ahead or kept and not taken."""
        if self._thread is None:
            return
        self._jobs.put(("stop", None))
        self._thread.join()
        while not self._ready.empty():
            drop_postgres_database(self._ready.get())
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        for names in self._clean.values():
            for name in names:
                drop_postgres_database(f"{base}/{name}")
        self._clean.clear()
        self._thread = None

    def _work(self) -> None:
        while True:
            job, url = self._jobs.get()
            if job == "stop":
                return
            if job == "create":
                self._ready.put(create_postgres_database())
            elif not self._recycled(url):
                drop_postgres_database(url)

    def _recycled(self, url: str) -> bool:
        """Empty URL's database and keep it when it is what its migrations build; else False."""
        try:
            name = url.rsplit("/", 1)[1]
            _end_connections(name)
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            try:
                with engine.begin() as conn:
                    # Services number their revisions alike ("0008"): the revision and the
                    # shape together say which service's database this is.
                    kind = (_revision(conn), _shape(conn))
                    with self._lock:
                        known = kind in self._kinds.values()
                    if not known:
                        return False
                    tables = [r for r in sa.inspect(conn).get_table_names() if r != "alembic_version"]
                    if tables:
                        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                             + " RESTART IDENTITY CASCADE"))
            finally:
                engine.dispose()
            with self._lock:
                self._clean.setdefault(kind, []).append(name)
            return True
        except Exception:  # whatever went wrong, a drop is always right
            return False


def _head(migrations_dir: Path) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _revision(conn) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _shape(conn) -> str:
    """What a database holds besides rows: its tables' columns, its indexes, functions, triggers
    and sequences (a test may have changed any of them)."""
    parts = [conn.execute(sa.text(query)).all() for query in (
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' ORDER BY 1",
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
        "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY 1")]
    return repr(parts)


def _reference_shape(migrations_dir: Path) -> str | None:
    """The shape of a database MIGRATIONS_DIR builds from nothing; None when it also holds rows
    (emptying a used one would not give it back)."""
    url = create_postgres_database("phr_reference")
    try:
        migrate(url, migrations_dir)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
                if any(conn.execute(sa.text(f'SELECT EXISTS (SELECT 1 FROM "{t}")')).scalar() for t in tables):
                    return None
                return _shape(conn)
        finally:
            engine.dispose()
    finally:
        drop_postgres_database(url)


def _in_use(conn, name: str) -> bool:
    return bool(conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :n"),
                             {"n": name}).scalar())


def _empty(url: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return not sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def _end_connections(name: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
    finally:
        engine.dispose()


def migrated(url: str, migrations_dir) -> None:
    """Bring the database at URL to the newest revision in MIGRATIONS_DIR (services.common.db.migrate),
    from a copy of the session's template when URL is a SQLite file not made yet (`from_template`)."""
    from_template(url, migrations_dir)
    migrate(url, migrations_dir)


#: The session's PostgreSQL databases (tests/conftest.py sets it), whose kept ones `from_template` adopts.
POSTGRES: PostgresDatabases | None = None


def from_template(url: str, migrations_dir) -> None:
    """Make URL, a SQLite file not made yet, a copy of one that MIGRATIONS_DIR's migrations built
    earlier in the session, or URL's empty PostgreSQL database one already at their head
    (PostgresDatabases.adopt); leave any other URL alone. Copying takes a thousandth of a second
    where running every migration took a tenth (SQLite) or 1-2 s (PostgreSQL), for each test; a
    `migrate` after it finds the database at head and does nothing.
    """
    if POSTGRES is not None and sa.engine.make_url(url).get_backend_name() == "postgresql":
        POSTGRES.adopt(url, migrations_dir)
        return
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
