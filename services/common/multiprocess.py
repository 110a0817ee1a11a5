"""Prometheus metrics kept in files, so that /metrics adds up what several processes counted.

An HTTP process runs WEB_CONCURRENCY granian workers (services/common/serve.py), each with its
own memory: counted in memory, /metrics would answer with the counts of whichever worker took
the scrape. serve.py gives its workers one fresh directory in PROMETHEUS_MULTIPROC_DIR, where
prometheus_client's multiprocess mode keeps each worker's counters and histograms in a file of
its own; /metrics merges the files (Exposition).

A service's worker process (the outbox relay, the consumers) serves no /metrics. What it counts
goes to files of its own directory (worker_dir, under the service's var/), in the same format,
and the HTTP process merges them too (FileCounter). Counting in the database instead would need
a table in every service and a write on the very path that is failing (the relay when the
broker is away); a file costs nothing, and the HTTP process and the worker of a service share
var/ (docker-compose.yml gives them one volume for it).

A figure computed from counts at scrape time (the share of patient responses served in their
language, services/common/contract_checks.py) reads the counts added up (samples), not the
counter of the worker that took the scrape.

No prometheus_client Gauge is kept in memory here (the gauges on /metrics are read at scrape
time by collectors), so no gauge needs a multiprocess_mode, and a worker that exits leaves only
counts, which must stay. A live Gauge added later must choose one (``livesum`` for a count in
progress, ``max`` for a time).
"""
from __future__ import annotations

import glob
import logging
import os
import threading
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

#: The variable prometheus_client reads at import to keep metrics in files (serve.py sets it).
ENV = "PROMETHEUS_MULTIPROC_DIR"


def worker_dir(var_dir: Path, service: str) -> Path:
    """The directory of the files SERVICE's worker process counts in."""
    return Path(var_dir) / "metrics" / f"{service}-worker"


def files_dirs(extra: list[Path]) -> list[Path]:
    """The directories /metrics merges: this process group's (when in files), then EXTRA."""
    own = os.environ.get(ENV)
    return [*([Path(own)] if own else []), *extra]


class Exposition:
    """What /metrics shows: the families merged from the files of DIRECTORIES, then the
    families of REGISTRY that the files do not hold (the collectors read at scrape time)."""

    def __init__(self, registry, directories: list[Path]):
        self.registry, self.directories = registry, directories

    def collect(self):
        shared = merged(self.directories)
        names = {family.name for family in shared}
        yield from shared
        # This process's own copy of a metric in the files would count it twice.
        for family in self.registry.collect():
            if family.name not in names:
                yield family


def merged(directories: list[Path]) -> list:
    """The metric families counted in the files of DIRECTORIES, added up over the processes."""
    files = [name for directory in directories for name in glob.glob(str(directory / "*.db"))]
    try:
        return MultiProcessCollector.merge(files, accumulate=True) if files else []
    except Exception as exc:  # a scrape reports what it can (a file removed meanwhile, say)
        log.warning("metrics files not read: %s", exc)
        return []


def samples(metric, directories: list[Path]) -> list:
    """The samples of METRIC (a Counter or Histogram of this process) as /metrics shows them:
    added up over every process that counts in the files of DIRECTORIES when this process
    counts in files, its own otherwise (one process, a test).

    For a figure computed from counts at scrape time (a ratio, say): METRIC's own collect()
    would read only the counts of the worker that took the scrape.
    """
    if not os.environ.get(ENV):
        return [sample for family in metric.collect() for sample in family.samples]
    name = metric.describe()[0].name
    return [sample for family in merged(directories) if family.name == name for sample in family.samples]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_dead(directory: Path) -> None:
    """Remove the files of DIRECTORY left by processes that are gone (and this pid's, reused)."""
    for name in glob.glob(str(directory / "*.db")):
        pid = Path(name).stem.rpartition("_")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or not _alive(int(pid)):
            os.remove(name)


class FileCounter:
    """A counter NAME{LABELS} of a process that serves no /metrics, kept in a file of DIRECTORY
    in prometheus_client's multiprocess format (starting at 0, so the series exists at once)."""

    def __init__(self, directory: Path, name: str, help_text: str, labels: dict[str, str]):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        clear_dead(directory)
        self._file = MmapedDict(str(directory / f"counter_{os.getpid()}.db"))
        self._key = mmap_key(name, f"{name}_total", list(labels), list(labels.values()), help_text)
        self._lock, self._value = threading.Lock(), 0.0
        self._file.write_value(self._key, 0.0, 0.0)

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount
            self._file.write_value(self._key, self._value, 0.0)

    def close(self) -> None:
        self._file.close()
