"""The whole stack idle: CPU of every process the launcher started, as % of one core.

Runs after the other sections, so it first waits until the consumers are back on their idle
fetch wait (services/common/kafka.py, IDLE_AFTER_SECONDS) and the relays on their idle poll
(services/common/outbox.py, OutboxRelay busy_seconds), then reads /proc for SECONDS.
"""
from __future__ import annotations

import math
import os
import time

from bench import load
from bench.harness import Context, Row
from services.common import kafka

SECONDS = 20.0
SETTLE_SECONDS = kafka.IDLE_AFTER_SECONDS + 2
TARGET_PERCENT = 5.0


def _descendants(root: int) -> dict[int, str]:
    """Every process under ROOT, by id, named by its Procfile command (short)."""
    kids, todo, names = load._children(), [root], {}  # noqa: SLF001 - the bench's own helper
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = [a for a in f.read().decode(errors="replace").split("\0") if a]
        except OSError:
            continue
        names[pid] = _name(args)
    return names


def _name(args: list[str]) -> str:
    for arg in args:
        if arg.endswith(":create_app"):  # a web server: services.consent.entrypoints.http:create_app
            return arg.split(".")[1] if arg.startswith("services.") else arg.split(".")[0]
        if arg.startswith(("services.", "gateway.")) and arg.endswith(("worker", "broker")):
            parts = arg.split(".")
            return "broker" if parts[-1] == "broker" else f"{parts[1] if parts[0] == 'services' else parts[0]}-worker"
    return os.path.basename(args[0]) if args else "?"


def _own_cpu(pid: int) -> float:
    """CPU seconds of PID alone (not its children), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run(ctx: Context) -> list[Row]:
    print(f"bench: the stack idle for {SECONDS:g} s (after {SETTLE_SECONDS:g} s to settle) ...", flush=True)
    time.sleep(SETTLE_SECONDS)
    names = _descendants(ctx.stack.proc.pid)
    before, started = {pid: _own_cpu(pid) for pid in names}, time.monotonic()
    time.sleep(SECONDS)
    elapsed = time.monotonic() - started
    per_name: dict[str, float] = {}
    for pid, name in names.items():
        per_name[name] = per_name.get(name, 0.0) + max(_own_cpu(pid) - before[pid], 0.0)
    total = 100 * sum(per_name.values()) / elapsed
    ranked = sorted(per_name.items(), key=lambda kv: -kv[1])
    ctx.notes.append(f"The whole stack idle: **{total:.1f} %** of one core over {elapsed:.0f} s (target "
                     f"{TARGET_PERCENT:g} % or less: {'met' if total <= TARGET_PERCENT else 'NOT met'}); "
                     + ", ".join(f"{name} {100 * cpu / elapsed:.1f} %" for name, cpu in ranked if cpu > 0) + ".")
    return [Row(f"the whole stack idle, % of one core over {elapsed:.0f} s (in the p50 column)", math.nan,
                total, math.nan)]
