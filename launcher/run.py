"""Run one line of the Procfile: ``python -m launcher.run gateway``.

The Procfile (launcher/Procfile) is the one definition of the commands. `make up` runs all of
its lines with honcho (launcher/stack.py); docker-compose.yml runs each line in its own
container through this module: it reads the line NAME, fills in its ``$VARS`` from the
environment (with the same defaults as `make up`: ports and BIND_HOST) and replaces itself
with the command, so the process gets the container's signals directly.
"""
from __future__ import annotations

import os
import shlex
import string
import sys
from importlib import resources
from typing import Mapping

from honcho.environ import parse_procfile

from services.common.config import DEFAULT_PORTS


def procfile() -> dict[str, str]:
    """The Procfile's processes ({name: command line}), in their order."""
    return dict(parse_procfile((resources.files("launcher") / "Procfile").read_text()).processes)


def command_defaults(base: Mapping[str, str]) -> dict[str, str]:
    """Return BASE completed with the variables the Procfile's lines name and may take a default."""
    env = dict(base)
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("BROKER_PORT", "9092")
    for name, port in DEFAULT_PORTS.items():
        env.setdefault(f"{name.upper()}_PORT", str(port))
    return env


def argv(line: str, env: Mapping[str, str]) -> list[str]:
    """The argument list of Procfile LINE with its $VARS from ENV (KeyError names a missing one).

    string.Template does the $NAME / ${NAME} filling the shell would do for these lines (they
    have no quoting or other shell syntax); a missing variable is an error here rather than the
    empty string a shell would put in. The leading ``exec`` is the shell's and is dropped.
    """
    words = shlex.split(string.Template(line).substitute(env))
    return words[1:] if words and words[0] == "exec" else words


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    lines = procfile()
    if len(args) != 1 or args[0] not in lines:
        print(f"usage: python -m launcher.run NAME, NAME one of: {', '.join(lines)}", file=sys.stderr)
        return 2
    env = command_defaults(os.environ)
    try:
        command = argv(lines[args[0]], env)
    except KeyError as exc:
        print(f"launcher.run: the Procfile's {args[0]} line needs ${exc.args[0]}, which is not set",
              file=sys.stderr)
        return 2
    if command[0] == "python":  # this same interpreter (a venv's, even when not on PATH)
        command[0] = sys.executable
    sys.stdout.flush()
    os.execvpe(command[0], command, env)
    return 127  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
