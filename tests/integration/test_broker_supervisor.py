"""`python -m services.common.broker` (the Procfile's broker) starts Tansu again when it dies."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from tests.support.broker import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cluster_id(bootstrap: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            try:
                return admin.describe_cluster()["cluster_id"]
            finally:
                admin.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def supervised():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "services.common.broker", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_port("127.0.0.1", port)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for child in _children(proc.pid):
            os.kill(child, signal.SIGKILL)


def test_a_killed_broker_comes_back_on_the_same_port_with_a_new_cluster_id_and_a_signal_stops_both(supervised):
    proc, port = supervised
    bootstrap = f"127.0.0.1:{port}"
    first = _cluster_id(bootstrap)
    [tansu] = _children(proc.pid)
    os.kill(tansu, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _children(proc.pid) in ([], [tansu]):
        time.sleep(0.1)
    [again] = _children(proc.pid)
    assert again != tansu and proc.poll() is None
    wait_port("127.0.0.1", port)
    assert _cluster_id(bootstrap) not in (first, None)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not _children(proc.pid)
    assert "exited unasked" in proc.stdout.read()
