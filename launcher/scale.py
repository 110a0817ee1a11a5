"""Run more than one copy of a Procfile process: ``python -m launcher.stack up --scale NAME=COUNT``.

An HTTP process's copy N listens on ``<NAME>_PORT_<N>`` (default: the first copy's port plus
10 × (N - 1), so gateway 2 listens on 8090) and is told the first copy's URL as its own
(``<NAME>_URL``), so that every copy issues and checks tokens for the same issuer. A worker is
simply started COUNT times; on PostgreSQL its relays claim the rows they publish (README,
"Running N instances"). SQLite has no row locks: a worker on a SQLite database is refused.
Each process still serves WEB_CONCURRENCY workers of its own; a copy is a process apart, as on
another host.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from services.common.config import SERVICES, database_url

PORT_STEP = 10
_PORT_VAR = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)_PORT\b")


class ScaleError(ValueError):
    """A --scale the stack cannot run, with the reason in words."""


def parse(values: list[str]) -> dict[str, int]:
    """Read NAME=COUNT pairs (the last one of a NAME counts)."""
    counts = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not (sep and name.strip() and count.strip().isdigit() and int(count) >= 1):
            raise ScaleError(f"--scale {value!r}: write it as NAME=COUNT, COUNT 1 or more (e.g. gateway=2)")
        counts[name.strip()] = int(count)
    return counts


def _service(process: str) -> str | None:
    """The service whose database PROCESS uses (consent-worker: consent), if any."""
    head = process.split("-")[0]
    return head if head in SERVICES else None


def copies(procs: Mapping[str, str], env: Mapping[str, str], counts: Mapping[str, int]) -> list[tuple[str, str, dict]]:
    """Return (name, command, env) for every process to start: each of PROCS once, and the
    copies COUNTS asks for (named ``gateway.2`` and so on). Raise ScaleError for a count the
    stack cannot run."""
    unknown = sorted(set(counts) - set(procs))
    if unknown:
        raise ScaleError(f"--scale {', '.join(unknown)}: no such process (the Procfile has {', '.join(procs)})")
    started = []
    for name, command in procs.items():
        count = counts.get(name, 1)
        ports = _PORT_VAR.findall(command)
        if count > 1:
            _check_scalable(name, bool(ports), env)
        started.append((name, command, dict(env)))
        for n in range(2, count + 1):
            copy = dict(env)
            for prefix in ports:
                first = int(env[f"{prefix}_PORT"])
                copy[f"{prefix}_PORT"] = env.get(f"{prefix}_PORT_{n}") or str(first + PORT_STEP * (n - 1))
                copy[f"{prefix}_URL"] = env.get(f"{prefix}_URL") or f"http://127.0.0.1:{first}"
            started.append((f"{name}.{n}", command, copy))
    return started


def _check_scalable(name: str, http: bool, env: Mapping[str, str]) -> None:
    if name == "broker":
        raise ScaleError("--scale broker: the embedded broker runs once (use a Kafka cluster for more)")
    service = _service(name)
    if http or service is None:
        return
    url = database_url(env, service, Path(env.get("PHR_VAR_DIR", "var")))
    if url.startswith("sqlite"):
        raise ScaleError(
            f"--scale {name}: the {service} database is SQLite, and SQLite has no row locks, so two "
            f"outbox relays would publish the same events: run one worker per SQLite database "
            f"(README, \"Running N instances\"), or give {service.upper()}_DATABASE_URL a PostgreSQL database")


def ready_urls(started: list[tuple[str, str, dict]]) -> list[str]:
    """The /readyz URLs of the HTTP copies beyond the first of each process."""
    urls = []
    for name, command, env in started:
        if "." in name:
            urls += [f"http://127.0.0.1:{env[f'{prefix}_PORT']}/readyz" for prefix in _PORT_VAR.findall(command)]
    return urls
