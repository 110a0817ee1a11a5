"""The ``phr`` command: one entry point whose subcommands live with the service they drive.

Each service's command module has ``register(subparsers)``, adding its subcommand(s) with
``set_defaults(func=...)``; ``func(args)`` returns the exit code. ``phr up`` is the launcher's
own: the same as ``make up`` once installed; ``phr departments`` is the admin API's client
(launcher/departments.py).
"""
from __future__ import annotations

import argparse
import sys

from launcher import departments
from services.exchange.entrypoints import cli as exchange_cli
from services.records.entrypoints import cli as records_cli


def _register_up(subparsers) -> None:
    from launcher import stack

    p = subparsers.add_parser("up", help="run the whole stack in the foreground (Ctrl-C stops it)")
    stack.add_up_arguments(p)

    def up(args) -> int:
        return stack.up_command(args)

    p.set_defaults(func=up)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phr", description="PHR exchange command line.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in (_register_up, departments.register, records_cli.register, exchange_cli.register):
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
