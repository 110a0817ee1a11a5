"""A worker's periodic threads slow down while their database is quiet (services/common/worker.py)."""
import threading

import sqlalchemy as sa

from services.common.db import ChangeProbe, make_engine, transaction
from services.common.worker import run_on_change


class Rounds:
    """A task that counts its rounds and stops the loop after LIMIT of them."""

    def __init__(self, stop, limit, busy=()):
        self.stop, self.limit, self.busy, self.count = stop, limit, list(busy), 0

    def __call__(self):
        self.count += 1
        if self.count >= self.limit:
            self.stop.set()
        if self.count == 2:
            raise RuntimeError("database away")  # logged; the loop goes on
        return self.busy.pop(0) if self.busy else 0


def _database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'quiet.db'}")
    with transaction(engine) as conn:
        conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    return engine


def test_a_thread_on_a_quiet_database_waits_for_the_floor_between_rounds(tmp_path):
    engine, stop = _database(tmp_path), threading.Event()
    task = Rounds(stop, limit=100)
    probe = ChangeProbe(engine, 3600)
    probe.changed()  # the first look reads the version
    thread = threading.Thread(target=run_on_change, args=(stop, 0.01, task, "test", probe))
    thread.start()
    thread.join(0.5)
    stop.set()
    thread.join(5)
    assert task.count == 1  # the probe never said yes: no change, and the floor is an hour away


def test_a_commit_brings_the_next_round_without_waiting_for_the_floor(tmp_path):
    engine, stop = _database(tmp_path), threading.Event()
    task = Rounds(stop, limit=3)
    probe = ChangeProbe(engine, 3600)
    probe.changed()  # the first look reads the version
    thread = threading.Thread(target=run_on_change, args=(stop, 0.01, task, "test", probe))
    thread.start()
    for _ in range(200):
        if task.count >= 3:
            break
        with transaction(engine) as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        stop.wait(0.02)
    stop.set()
    thread.join(5)
    assert task.count >= 3  # rounds went on after the failing one, each after a commit


def test_a_thread_that_found_work_goes_again_at_once_when_asked_to(tmp_path):
    engine, stop = _database(tmp_path), threading.Event()
    task = Rounds(stop, limit=4, busy=[5, 0, 5, 5])  # the second round fails: not busy
    thread = threading.Thread(target=run_on_change, args=(stop, 3600, task, "test", ChangeProbe(engine, 3600)),
                              kwargs={"at_once_when_busy": True})
    thread.start()
    thread.join(0.5)
    assert task.count == 2  # round 1 busy -> round 2 at once; round 2 failed -> it waits
    stop.set()
    thread.join(5)
