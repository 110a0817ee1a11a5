"""Database engines and Alembic migrations: SQLite files by default, PostgreSQL by URL."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.files import FILE_MODE, private_file

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: Every engine make_engine made in this process (tracing.setup traces their statements when
#: spans are exported; an engine may be made before it is called).
_made: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def made_engines() -> list[Engine]:
    """The engines make_engine made in this process that are still in use."""
    return list(_made)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    engine = _make_engine(url)
    _made.add(engine)
    return engine


def _make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            private_file(path)  # health data: 0600 in a 0700 folder (services.common.files)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # SQLAlchemy, not pysqlite, decides where transactions begin (SQLAlchemy's
            # documented recipe for serializable SQLite transactions).
            dbapi_conn.isolation_level = None

        # A writer (see transaction()) takes the write lock up front with BEGIN IMMEDIATE,
        # so two writers queue on busy_timeout instead of failing on lock upgrade. Writers of
        # one process first queue on a lock of their own (_WriterQueue).
        writers = _WriterQueue()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            if not conn.get_execution_options().get("write"):
                conn.exec_driver_sql("BEGIN DEFERRED")
                return
            writers.enter(conn)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.leave(conn)
                raise

        sa.event.listen(engine, "commit", writers.leave)
        sa.event.listen(engine, "rollback", writers.leave)
        # However a transaction ends, its connection goes back to the pool or is thrown away.
        sa.event.listen(engine, "checkin", lambda _dbapi, record: writers.leave(record))
        sa.event.listen(engine, "invalidate", lambda _dbapi, record, _exc: writers.leave(record))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class _WriterQueue:
    """The write transactions of one process on one SQLite file, taken one after another.

    SQLite lets a writer that finds the file locked sleep and retry, with sleeps growing to
    100 ms (its default busy handler), so a writer of a busy worker often slept long after the
    lock was free: the exchange worker has a dozen threads writing one file. Queued on a
    threading.Lock they wake the moment the previous one commits; other processes still meet
    on SQLite's lock. A writer that waited LIMIT seconds goes on without the queue (SQLite's
    busy timeout then decides, as before), so a thread that opens a second write transaction
    inside its first cannot hang on itself.
    """

    LIMIT = 30.0

    def __init__(self):
        self._lock = threading.Lock()

    def enter(self, conn: sa.Connection) -> None:
        if self._lock.acquire(timeout=self.LIMIT):
            conn.info[self] = True

    def leave(self, conn) -> None:
        """Release the queue if CONN (a Connection, or its pool record) holds it."""
        if connection_info(conn).pop(self, False):
            self._lock.release()


def connection_info(conn) -> dict:
    """CONN's info dict, or an empty one when it was invalidated (its pool record's invalidate
    event sees the real one)."""
    try:
        return conn.info
    except sa.exc.PendingRollbackError:
        return {}


@contextmanager
def transaction(engine: Engine) -> Iterator[sa.Connection]:
    """Open a write transaction: everything inside commits together or not at all."""
    with engine.connect() as conn:
        conn = conn.execution_options(write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_only(engine: Engine) -> Iterator[sa.Connection]:
    """Open a read transaction (a deferred one on SQLite, so readers never queue behind writers)."""
    with engine.connect() as conn:
        with conn.begin():
            yield conn


class ChangeProbe:
    """Tells a poller cheaply whether anything may have been committed since it last asked.

    On a SQLite file, PRAGMA data_version on a connection of its own changes whenever another
    connection commits (sqlite.org/pragma.html#pragma_data_version): one C-level call instead
    of a pooled connection, a transaction and a compiled SELECT, which kept an idle outbox
    relay polling every 20 ms busy (README, "Benchmarks"). Elsewhere (PostgreSQL) it always says yes.
    However quiet the database, it says yes at least every FLOOR seconds, so a probe that
    failed (the file away, say) delays nothing for long.
    """

    def __init__(self, engine: Engine, floor: float = 1.0):
        self.path, self.floor = _sqlite_file(engine), floor
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._asked = 0.0

    def changed(self) -> bool:
        if self.path is None:
            return True
        now = time.monotonic()
        if now - self._asked >= self.floor:
            self._asked = now
            self._version = self._read()
            return True
        version = self._read()
        if version is None or version != self._version:
            self._version, self._asked = version, now
            return True
        return False

    def _read(self) -> int | None:
        try:
            if self._conn is None:
                # Read-only: a probe never creates the database file it watches.
                self._conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True,
                                             check_same_thread=False, isolation_level=None)
            return self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Notifications:
    """LISTEN on a PostgreSQL channel over a connection of its own, to wake a poller when a
    transaction that NOTIFYs it commits (postgresql.org/docs/current/sql-notify.html).

    A notification sent between two waits is kept by the server for this connection, so none
    is missed once the first wait has begun listening. When the connection fails (the server
    restarting, say) a wait lasts its whole timeout and says yes: the poller then reads as it
    would without notifications, and the next wait connects again.
    """

    def __init__(self, engine: Engine, channel: str):
        self.engine, self.channel = engine, channel
        self._conn = None
        self._failing = False

    def listen(self) -> None:
        """Begin listening now (else at the first wait); raises when the database is away."""
        if self._conn is not None:
            return
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        conn = self.engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        try:
            conn.autocommit = True
            conn.execute('LISTEN "%s"' % self.channel.replace('"', '""'))
        except Exception:
            conn.close()
            raise
        self._conn = conn

    def wait(self, timeout: float, stop: threading.Event, slice_seconds: float = 1.0) -> bool:
        """Wait until a notification comes (True), TIMEOUT passes (False) or STOP is set (False).

        Every notification pending is taken, so a burst of commits wakes the poller once.
        """
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.listen()
                if any(True for _ in self._conn.notifies(timeout=min(left, slice_seconds), stop_after=1)):
                    for _ in self._conn.notifies(timeout=0):
                        pass
                    self._failing = False
                    return True
                self._failing = False
            except Exception as exc:  # noqa: BLE001 - the database away: see the class docstring
                if not self._failing:
                    log.warning("not listening on %s, polling instead: %s", self.channel, exc)
                self._failing = True
                self.close()
                stop.wait(max(0.0, deadline - time.monotonic()))
                return not stop.is_set()
        return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None


def _sqlite_file(engine: Engine) -> str | None:
    """The path of a file-backed SQLite database, else None."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


#: The advisory lock key processes that change a database's schema or set-up take
#: (PostgreSQL; any fixed 64-bit number, the same in every process).
MIGRATION_LOCK_KEY = 0x5048_525F_4D49_4752  # "PHR_MIGR"


def take_migration_lock(conn: sa.Connection) -> None:
    """On PostgreSQL, wait for the database's migration lock, held until CONN's transaction
    ends: migrations (and the service clients' set-up, launcher/service_clients.py) started on
    several hosts at once run one after the other. SQLite is one host's file: ``migrate`` holds
    a file lock beside it (``migration_lock``), since two migrations' read transactions would
    otherwise both see the old schema and the second fail on its first change."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def migrate(url: str, script_location: Path) -> None:
    """Bring the database at URL to the newest Alembic revision in SCRIPT_LOCATION.

    Any number of processes, on any number of hosts, may call this at once (every worker of a
    service migrates on start): one migrates, the others wait for it (``take_migration_lock`` on
    PostgreSQL, ``migration_lock`` on SQLite), then find the schema at the newest revision and
    do nothing.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    engine = make_engine(url)
    try:
        with migration_lock(engine), engine.begin() as conn:
            take_migration_lock(conn)  # PostgreSQL's, to the end of the upgrade's transaction
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    log.info("migrated %s", script_location)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the migration lock file beside a SQLite database (only processes of one host can open
    the file, so a file lock is enough); on PostgreSQL the lock is the database's own
    (``migrate``), so nothing here."""
    database = _sqlite_file(engine)
    if database is None:
        yield
        return
    fd = os.open(f"{database}-migrate.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield
    finally:
        os.close(fd)
