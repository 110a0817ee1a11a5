"""Metrics kept in files (services/common/multiprocess.py) and the directory serve.py gives them."""
import os

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily

from services.common import serve
from services.common.multiprocess import Exposition, FileCounter
from tests.support.metrics import families, value


class _ReadAtScrape:
    def collect(self):
        family = GaugeMetricFamily("phr_read_at_scrape", "A figure read when scraped", labels=["service"])
        family.add_metric(["consent"], 4)
        yield family


def test_counts_from_two_processes_files_are_added_and_a_scrape_time_collector_shows_once(tmp_path):
    first, second = FileCounter(tmp_path, "phr_things", "Things", {"service": "consent"}), None
    first.inc(2)
    # Another live process (here: the parent) wrote the first file.
    os.rename(tmp_path / f"counter_{os.getpid()}.db", tmp_path / f"counter_{os.getppid()}.db")
    second = FileCounter(tmp_path, "phr_things", "Things", {"service": "consent"})
    second.inc(3)
    registry = CollectorRegistry()
    Counter("phr_things", "Things", ["service"], registry=registry).labels("consent").inc(3)  # this process's copy
    registry.register(_ReadAtScrape())
    text = generate_latest(Exposition(registry, [tmp_path])).decode()
    assert value(text, "phr_things_total", service="consent") == 5  # 2 + 3, this copy not added again
    names = [f.name for f in families(text)]
    assert names.count("phr_things") == 1 and names.count("phr_read_at_scrape") == 1
    first.close()
    second.close()


def test_a_worker_starting_removes_the_files_of_processes_that_are_gone(tmp_path):
    (tmp_path / "counter_999999999.db").write_bytes(b"")  # no such process
    (tmp_path / f"counter_{os.getppid()}.db").write_bytes(b"")  # alive: another worker's
    counter = FileCounter(tmp_path, "phr_things", "Things", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{os.getppid()}.db", f"counter_{os.getpid()}.db"])
    counter.close()


def test_serve_empties_a_given_metrics_directory_and_otherwise_makes_a_private_one(tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"old")
    environ = {serve.METRICS_ENV: str(given)}
    assert serve.metrics_dir(environ) is None and list(given.iterdir()) == []
    environ = {}
    made = serve.metrics_dir(environ)
    try:
        assert environ[serve.METRICS_ENV] == made and os.stat(made).st_mode & 0o077 == 0
    finally:
        os.rmdir(made)


def test_a_worker_that_cannot_write_its_metrics_directory_still_relays(tmp_path):
    from services.common import machines

    (tmp_path / "metrics").write_text("a file where the directory should be")
    counter = machines.relay_errors(tmp_path, "consent")
    counter.inc()  # counted nowhere, and no error
