"""Run the whole stack as real processes (the same Procfile as `make up`) on free ports."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "consent", "records", "exchange")


class Stack:
    """A running stack: its environment, URLs, credentials and log."""

    def __init__(self, var_dir: Path, database_urls: dict[str, str] | None = None,
                 extra_env: dict[str, str] | None = None, up_args: tuple[str, ...] = ()):
        """UP_ARGS: more options of `up` (``--scale gateway=2``: launcher/scale.py)."""
        self.var_dir = var_dir
        self.up_args = tuple(up_args)
        self.ports = {name: free_port() for name in (*SERVICES, "broker")}
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("DATABASE_URL") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "PHR_ISSUER")}
        env.update({f"{n.upper()}_PORT": str(p) for n, p in self.ports.items()})
        env.update(PHR_VAR_DIR=str(var_dir), WEB_CONCURRENCY="1", LOG_LEVEL="WARNING")
        # Every test signs in from 127.0.0.1: the per-address budget of password checks
        # (gateway/accounts/throttle.py) would be one budget for the whole session's tests.
        env.setdefault("SIGNIN_CHECKS_PER_MINUTE", "1000")
        env.setdefault("ACTIVATION_ATTEMPTS_PER_MINUTE", "1000")
        for name, url in (database_urls or {}).items():
            env[f"{name.upper()}_DATABASE_URL"] = url
        env.update(extra_env or {})
        self.env = env
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

    def __enter__(self) -> "Stack":
        """Start the stack; stop whatever did start if it does not come up."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 150.0) -> "Stack":
        """Start `python -m launcher.stack up` and wait for its ready marker."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        # The log holds what the services print (ids, paths): owner only, like the rest of var/.
        log = open(self.log_path, "ab", opener=lambda path, flags: os.open(path, flags, 0o600))
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher.stack", "up", *self.up_args], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        ready = self.var_dir / "stack.ready"
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the stack was not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.25)
        return self

    def pids(self, command: str) -> list[int]:
        """The pids of the stack's processes (descendants of its launcher) whose command line
        holds COMMAND (a module name, say)."""
        parents, cmdlines = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdlines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])  # after the name: state ppid

        def descends(pid: int) -> bool:
            while pid > 1:
                pid = parents.get(pid, 0)
                if pid == self.proc.pid:
                    return True
            return False

        return [pid for pid, line in cmdlines.items() if command in line and descends(pid)]

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
