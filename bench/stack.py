"""The whole stack as real processes on free ports, for the bench: `python -m launcher.stack up`.

A short copy of what tests/support/stack.py does (start, wait for the ready marker, stop):
the bench ships in the package and tests/ does not, and the layers in pyproject.toml keep the
bench off the launcher's modules, so it drives the launcher as an operator would, by command.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SERVICES = ("gateway", "consent", "records", "exchange")
#: The folder our packages are imported from: the stack runs there so that its processes
#: import this same copy (the checkout, or site-packages once installed).
IMPORT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port}")


class Stack:
    """A running stack: its environment, URLs, credentials and log."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str] | None = None):
        self.var_dir = var_dir
        self.ports = {name: free_port() for name in (*SERVICES, "broker")}
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("DATABASE_URL") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "PHR_ISSUER")}
        env.update({f"{n.upper()}_PORT": str(p) for n, p in self.ports.items()})
        env.update(PHR_VAR_DIR=str(var_dir), WEB_CONCURRENCY="1", LOG_LEVEL="WARNING")
        # The bench signs in from 127.0.0.1 many times: the per-address budgets would stop it.
        env.setdefault("SIGNIN_CHECKS_PER_MINUTE", "1000")
        env.setdefault("ACTIVATION_ATTEMPTS_PER_MINUTE", "1000")
        env.update(extra_env or {})
        self.env, self.extra_env = env, dict(extra_env or {})
        self.log_path = var_dir / "stack.log"
        self.proc: subprocess.Popen | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    def database_url(self, service: str) -> str:
        return self.env.get(f"{service.upper()}_DATABASE_URL") or f"sqlite:///{self.var_dir / f'{service}.db'}"

    def start(self, timeout: float = 150.0) -> "Stack":
        """Start `python -m launcher.stack up` and wait for its ready marker."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab", opener=lambda path, flags: os.open(path, flags, 0o600))
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher.stack", "up"], cwd=IMPORT_ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self.var_dir / "stack.ready").exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the stack was not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.25)
        return self

    def credentials(self) -> dict:
        return json.loads((self.var_dir / "demo-credentials.json").read_text())

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> int | None:
        """Send SIGINT as Ctrl-C would and wait; kill what is left after TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None
