"""Run the whole stack from the Procfile with honcho: ``python -m launcher.stack up``.

Prepares the environment (ports, var/, the embedded broker unless KAFKA_BOOTSTRAP_SERVERS is
set), runs the migrations, starts every process in the foreground, waits until each service
is ready, seeds the demo data on first start and prints the credentials. Ctrl-C stops all.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import requests
from honcho.manager import Manager

from launcher.run import command_defaults, procfile
from services.common.files import PRIVATE_UMASK, private_dir

#: The folder our packages are imported from (the checkout, or site-packages once installed):
#: every process runs there with it on PYTHONPATH, so `python -m ...` imports this same copy.
IMPORT_ROOT = Path(__file__).resolve().parent.parent
HTTP_SERVICES = ("gateway", "consent", "records", "exchange")


def stack_env(base: dict[str, str]) -> dict[str, str]:
    """Return BASE completed with every default the processes need."""
    env = dict(base)
    env.setdefault("PHR_VAR_DIR", "var")  # in the current folder, as services/common/config.py reads it
    env["PHR_VAR_DIR"] = str(Path(env["PHR_VAR_DIR"]).resolve())
    env = command_defaults(env)
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{env['BROKER_PORT']}"
        env["PHR_EMBEDDED_BROKER"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONPATH", str(IMPORT_ROOT))
    return env


def processes(env: dict[str, str]) -> dict[str, str]:
    """Return the Procfile's processes, without the broker when an outside Kafka is used."""
    procs = procfile()
    if not env.get("PHR_EMBEDDED_BROKER"):
        procs.pop("broker", None)
    return procs


def base_url(env: dict[str, str], service: str) -> str:
    return env.get(f"{service.upper()}_URL") or f"http://127.0.0.1:{env[f'{service.upper()}_PORT']}"


def wait_ready(env: dict[str, str], timeout: float = 90.0, stop: threading.Event | None = None,
               more: list[str] = ()) -> None:
    """Wait until every HTTP service (and the /readyz URLs in MORE: copies of one) answers
    /readyz with 200, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    pending = [f"{base_url(env, name)}/readyz" for name in HTTP_SERVICES] + list(more)
    while pending:
        if stop is not None and stop.is_set():
            raise RuntimeError("stack stopped while starting")
        url = pending[0]
        try:
            if requests.get(url, timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{', '.join(pending)} not ready after {timeout:.0f} s")
        time.sleep(0.3)


def _after_start(manager: Manager, env: dict[str, str], demo: bool, started: float,
                 stop: threading.Event, more: list[str]) -> None:
    try:
        wait_ready(env, stop=stop, more=more)
        if demo:
            from launcher.demo import seed
            seed.run(env)
        print(f"stack: ready in {time.monotonic() - started:.1f} s; gateway at {base_url(env, 'gateway')}"
              " (Ctrl-C stops everything)", flush=True)
        Path(env["PHR_VAR_DIR"], "stack.ready").write_text(str(os.getpid()))
    except Exception as exc:
        print(f"stack: start-up failed: {exc}", file=sys.stderr, flush=True)
        manager.returncode = 1
        manager.terminate()


def up(demo: bool = True, scale: dict[str, int] | None = None) -> int:
    """Migrate, start every process in the foreground (SCALE: {process: copies}, see
    launcher/scale.py) and seed the demo; return the exit code."""
    from launcher import scale as scaling

    started = time.monotonic()
    env = stack_env(dict(os.environ))
    try:  # refused before anything is migrated or started
        scaling.copies(processes(env), env, scale or {})
    except scaling.ScaleError as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        return 2
    os.environ.update(env)
    # Every process started here creates its files owner-only; var/ holds health data and keys.
    os.umask(PRIVATE_UMASK)
    var_dir = private_dir(env["PHR_VAR_DIR"])
    (var_dir / "stack.ready").unlink(missing_ok=True)
    from launcher import migrate, service_clients
    for name in migrate.PACKAGES:
        migrate.migrate_service(name)
    handed = service_clients.ensure(env)
    for name in handed:  # the file is the one the processes read, not an older secret in the env
        if name.endswith("_SECRET_FILE"):
            env.pop(name.removesuffix("_FILE"), None)
    env.update(handed)
    print(f"stack: databases migrated; broker {env['KAFKA_BOOTSTRAP_SERVERS']}"
          f"{' (embedded Tansu)' if env.get('PHR_EMBEDDED_BROKER') else ''}", flush=True)
    manager = Manager()
    run = scaling.copies(processes(env), env, scale or {})
    for name, cmd, proc_env in run:
        manager.add_process(name, cmd, env=proc_env, cwd=str(IMPORT_ROOT))
    stop = threading.Event()
    threading.Thread(target=_after_start, args=(manager, env, demo, started, stop, scaling.ready_urls(run)),
                     daemon=True).start()
    manager.loop()
    stop.set()
    (var_dir / "stack.ready").unlink(missing_ok=True)
    if manager.returncode in (130, 143):  # stopped by Ctrl-C or SIGTERM, as asked: a clean exit
        print("stack: stopped", flush=True)
        return 0
    return manager.returncode or 0


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `up` (here and in `phr up`, launcher/cli.py)."""
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=COUNT",
                        help="run COUNT copies of Procfile process NAME (again for another process); "
                             "an HTTP copy N listens on <NAME>_PORT_<N>, a worker needs PostgreSQL")


def up_command(args: argparse.Namespace) -> int:
    from launcher import scale as scaling

    try:
        counts = scaling.parse(args.scale)
    except scaling.ScaleError as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        return 2
    return up(demo=not args.no_demo, scale=counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="run the whole stack in the foreground")
    add_up_arguments(p_up)
    args = parser.parse_args(argv)
    if args.command == "up":
        return up_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
