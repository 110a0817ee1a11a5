"""`python -m launcher.run NAME` (docker-compose.yml's command) becomes the Procfile's process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.broker import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


def test_run_replaces_itself_with_the_procfile_line_filled_from_the_environment(tmp_path):
    port = free_port()
    env = {**os.environ, "BROKER_PORT": str(port), "PHR_VAR_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.run", "broker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=30)
        # The same process, now the broker: signals from the container reach it directly.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"services.common.broker" in cmdline and str(port).encode() in cmdline
    finally:
        proc.terminate()
        proc.wait(timeout=30)

