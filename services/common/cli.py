"""The ``phr`` command: one entry point whose subcommands live with the service they drive.

Each module in COMMANDS has ``register(subparsers)``, adding its subcommand(s) with
``set_defaults(func=...)``; ``func(args)`` returns the exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "services.stack_cli",
    "services.records.entrypoints.cli",
    "services.exchange.entrypoints.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phr", description="PHR exchange command line.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
