"""Serve one Flask app factory over HTTP with granian: ``python -m services.common.serve HOST:PORT module:factory``.

Every HTTP process of the stack (and the bench's ceiling) starts here, so that they share one
set of settings. Granian (a Rust HTTP server with a WSGI interface) replaced gunicorn's
gthread workers: gunicorn parsed HTTP and juggled keep-alive connections in Python, a large
share of each request's CPU before Flask ran, and its threads queued behind the GIL (README,
"Benchmarks", has the figures before and after).

Settings, from the environment:

- ``WEB_CONCURRENCY`` worker processes (default 2);
- ``WEB_THREADS`` threads per worker that run the app, overriding ``--threads`` (each service
  passes its own default: a service whose requests wait on another service needs more
  threads than one whose requests only use the CPU and its own database);
- ``ACCESS_LOG``: ``-`` for granian's access lines on standard error, a path to append them to
  a file (they show the full path, which may hold a patient id: the services' own access line,
  services/common/tracing.py, shows the route instead);
- ``LOG_FORMAT``: ``text`` for plain lines instead of JSON (services/common/observability.py);
- ``LOG_LEVEL`` (default ``info``);
- ``PROMETHEUS_MULTIPROC_DIR``: where the workers keep their metrics (services/common/multiprocess.py),
  emptied at start; without it, a fresh private directory removed at exit.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
import tempfile

#: The environment variable through which a worker learns the factory it serves.
FACTORY_ENV = "PHR_SERVE_FACTORY"

#: Worker processes per HTTP service when WEB_CONCURRENCY is not set.
DEFAULT_WORKERS = 2

#: The directory the workers count in (read by prometheus_client when it is first imported).
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Seconds a worker is given to finish its requests when asked to stop before it is killed.
GRACEFUL_SECONDS = 10


def _log_config(target: str | None, environ: dict[str, str]) -> dict:
    """Return the logging dictConfig granian applies: its own lines in the stack's format (JSON
    lines unless LOG_FORMAT=text, services/common/observability.py), and its access lines, when
    ACCESS_LOG names a TARGET (``-`` or a path), there."""
    handler = ({"class": "logging.StreamHandler", "stream": "ext://sys.stderr"} if target in ("-", None)
               else {"class": "logging.FileHandler", "filename": target})
    # Named, not imported: the granian main process reads this before any app is built.
    formatter = {"()": "services.common.observability.log_formatter",
                 "log_format": environ.get("LOG_FORMAT") or "json"}
    # granian merges this into its own configuration one top-level key at a time, so its
    # formatters and its own logger are repeated here.
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"generic": formatter, "access": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "generic"},
                     "access": {**handler, "formatter": "access"}},
        "loggers": {"_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
                    "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
    }


def app():
    """Build the app named by ``PHR_SERVE_FACTORY`` in a worker (behind
    services.common.drain), then freeze what it allocated.

    Granian imports this function in each worker it spawns. After the app is built, every
    object alive (modules, the FHIR models, the code lists) moves out of the garbage
    collector's reach with ``gc.freeze()``: a full collection otherwise walks them all
    (about a hundred thousand objects in each service after start-up; README, "Benchmarks"),
    a pause that lands on whichever requests are in flight.
    """
    import gc
    import importlib

    from services.common.drain import DrainRequestBody

    module, _, name = os.environ[FACTORY_ENV].partition(":")
    built = getattr(importlib.import_module(module), name)()
    # Outermost, in front of any fast path: a refusal that left the body unread would make
    # granian close the kept-alive connection under the client's next request.
    built.wsgi_app = DrainRequestBody(built.wsgi_app)
    gc.collect()
    gc.freeze()
    return built


def settings(bind: str, target: str, threads: int, environ: dict[str, str]) -> dict:
    """Return granian's keyword arguments for serving TARGET (``module:factory``) on BIND."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bind must be HOST:PORT, got {bind!r}")
    if not all(target.partition(":")[::2]):
        raise ValueError(f"the app must be named as module:factory, got {target!r}")
    access = environ.get("ACCESS_LOG") or None
    level = environ.get("LOG_LEVEL", "info").lower()
    return {
        "target": "services.common.serve:app",
        "factory": True,
        "address": host or "127.0.0.1",
        "port": int(port),
        "interface": "wsgi",
        "workers": int(environ.get("WEB_CONCURRENCY") or DEFAULT_WORKERS),
        "blocking_threads": int(environ.get("WEB_THREADS") or threads),
        "respawn_failed_workers": True,  # as gunicorn's master did: a worker that dies is replaced
        "workers_kill_timeout": GRACEFUL_SECONDS,
        "log_level": "warning" if level == "warn" else level,
        "log_access": access is not None,
        "log_dictconfig": _log_config(access, environ),
    }


def metrics_dir(environ) -> str | None:
    """Give the workers an empty PROMETHEUS_MULTIPROC_DIR in ENVIRON; return it if made here.

    Set before granian starts a worker, so that prometheus_client, imported by the app in each
    worker, keeps its counts in files that /metrics adds up. Files left by an earlier run
    would be added to this one's: a given directory is emptied.
    """
    given = environ.get(METRICS_ENV)
    if given:
        os.makedirs(given, mode=0o700, exist_ok=True)
        for name in glob.glob(os.path.join(given, "*.db")):
            os.remove(name)
        return None
    environ[METRICS_ENV] = tempfile.mkdtemp(prefix="phr-metrics-")
    return environ[METRICS_ENV]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.common.serve", description=__doc__.split("\n")[0])
    parser.add_argument("bind", help="HOST:PORT to listen on")
    parser.add_argument("target", help="module:factory returning the Flask app")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker running the app (WEB_THREADS overrides)")
    args = parser.parse_args(argv)
    from granian import Granian  # imported here: nothing is done at import time

    try:
        options = settings(args.bind, args.target, args.threads, dict(os.environ))
    except ValueError as exc:
        parser.error(str(exc))
    os.environ[FACTORY_ENV] = args.target  # read by app() in each worker
    made = metrics_dir(os.environ)
    try:
        Granian(**options).serve()
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
