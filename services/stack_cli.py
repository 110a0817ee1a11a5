"""``phr up``: the same as ``make up`` once installed (python -m services.stack up)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("up", help="run the whole stack in the foreground (Ctrl-C stops it)")
    p.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    p.set_defaults(func=lambda args: __import__("services.stack", fromlist=["up"]).up(demo=not args.no_demo))
