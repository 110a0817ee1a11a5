"""``make bench``: every figure next to a baseline measured in the same run.

Starts the stack, runs the ``core`` section (the bare Flask ceiling served as the services
are, the same endpoint under gunicorn for reference, the raw kafka-python round trip, an
authenticated read through the gateway), then every other
section in ``bench/sections/``; prints one table and writes ``bench/results/latest.md``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench import load
from bench.harness import Context, Row
from bench.stack import Stack

#: Beside the bench in the checkout, where `make bench` runs it (bench/results is git-ignored).
RESULTS = Path("bench") / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per HTTP target")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--messages", type=int, default=500, help="broker round trips")
    parser.add_argument("--only", nargs="*", help="run only these sections (core runs too unless --no-core)")
    parser.add_argument("--no-core", action="store_true",
                        help="skip the core section (no ceiling: the ratios against it are left out)")
    parser.add_argument("--quick", action="store_true",
                        help="skip the growth section (several minutes: it loads up to a million rows)")
    args = parser.parse_args(argv)

    var_dir = Path(tempfile.mkdtemp(prefix="phr-bench-"))
    stack = Stack(var_dir, extra_env={"WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
                                      "RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000",
                                      "CONTRACT_CHECKS": "report"})
    print(f"bench: starting the stack in {var_dir} ...", flush=True)
    stack.start()
    ctx = Context(stack=stack, seconds=args.seconds, concurrency=args.concurrency, messages=args.messages,
                  quick=args.quick)
    ctx.notes.append(load.describe())
    ctx.notes.append("Load average (1 min) when the stack was up: {:.1f}; on a shared machine every "
                     "figure is noisy, the ratios less so.".format(os.getloadavg()[0]))
    sections: list[tuple[str, list[Row]]] = []
    try:
        for name in section_names(args.only, core=not args.no_core):
            print(f"bench: section {name}", flush=True)
            module = importlib.import_module(f"bench.sections.{name}")
            sections.append((name, module.run(ctx)))
    finally:
        stack.stop()

    text = report(ctx, sections)
    print("\n" + text, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(
        {name: [row.as_dict() for row in rows] for name, rows in sections} | {"notes": ctx.notes}, indent=2))
    return 0


def section_names(only: list[str] | None, core: bool = True) -> list[str]:
    """Return "core" (unless not CORE) and then the other sections (or those in ONLY), in name order."""
    import bench.sections as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "core")
    if only:
        names = [n for n in names if n in only]
    return ["core", *names] if core else names


def report(ctx: Context, sections: list[tuple[str, list[Row]]]) -> str:
    """Render every section as one markdown table with the ratios and targets as notes."""
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
             f"{ctx.concurrency} concurrent clients, {ctx.seconds:.0f} s per HTTP target.", "",
             "| what | rate/s | p50 ms | p99 ms | errors | server CPU ms/req |",
             "|---|---:|---:|---:|---:|---:|"]
    for _name, rows in sections:
        for row in rows:
            cpu = "–" if math.isnan(row.cpu_ms) else f"{row.cpu_ms:.2f}"
            rate = "–" if math.isnan(row.rate) else f"{row.rate:,.0f}"
            p50, p99 = ("–" if math.isnan(v) else f"{v:.1f}" for v in (row.p50, row.p99))
            lines.append(f"| {row.label} | {rate} | {p50} | {p99} | {row.errors} | {cpu} |")
    lines.append("")
    lines += [f"- {note}" for note in ctx.notes]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
