"""`phr import FOLDER`: post every FHIR transaction Bundle of a folder through the gateway, as a
department would, with a progress line on stderr and a summary at the end."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
DEFAULT_CREDENTIALS = Path("var") / "demo-credentials.json"


def register(subparsers) -> None:
    """Add `phr import` to the `phr` command."""
    p = subparsers.add_parser("import", help="Import a folder of FHIR transaction Bundles through the gateway.",
                              description=__doc__)
    p.add_argument("folder", type=Path, help="A folder of *.json transaction Bundles (or one file).")
    p.add_argument("--gateway", default=DEFAULT_GATEWAY, help=f"Gateway base URL (default {DEFAULT_GATEWAY}).")
    p.add_argument("--client-id", help="Department client id (default: primary-care from the demo credentials).")
    p.add_argument("--client-secret", help="Department client secret (default: from the demo credentials).")
    p.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS,
                   help="Demo credentials file used when no client is given.")
    p.set_defaults(func=run)


@dataclass
class Summary:
    """What an import did."""

    bundles: int = 0
    resources: int = 0
    types: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rate = self.resources / self.seconds if self.seconds else 0.0
        out = [f"imported {self.bundles - len(self.failures)} of {self.bundles} bundles, "
               f"{self.resources} resources in {self.seconds:.1f} s ({rate:,.0f} resources/s)"]
        out += [f"  {name:<24} {n:>7}" for name, n in sorted(self.types.items())]
        out += [f"FAILED {name}: {reason}" for name, reason in self.failures]
        return out


def credentials(args) -> tuple[str, str]:
    """Return the client id and secret from the arguments or the demo credentials (primary-care)."""
    if args.client_id and args.client_secret:
        return args.client_id, args.client_secret
    try:
        demo = json.loads(args.credentials.read_text())["departments"]["primary-care"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"phr import: give --client-id and --client-secret ({args.credentials}: {exc})")
    return args.client_id or demo["client_id"], args.client_secret or demo["client_secret"]


def token(session: requests.Session, gateway: str, client_id: str, secret: str) -> str:
    """Get a client-credentials access token (client_secret_basic)."""
    resp = session.post(f"{gateway}/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret), timeout=30)
    if resp.status_code != 200:
        raise SystemExit(f"phr import: the gateway refused the client credentials ({resp.status_code}: {resp.text[:200]})")
    return resp.json()["access_token"]


def reason(resp: requests.Response) -> str:
    """Say why a post failed, from the OperationOutcome when there is one."""
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:200]}"
    issues = [f"{(i.get('expression') or ['?'])[0]}: {i.get('diagnostics')}" for i in body.get("issue", [])[:3]]
    return f"HTTP {resp.status_code}: " + ("; ".join(issues) or body.get("detail") or body.get("title", ""))


def progress(done: int, total: int, resources: int, started: float, stream=sys.stderr) -> None:
    """Redraw one progress line: a bar, counts and the rate so far."""
    width, elapsed = 30, time.perf_counter() - started
    filled = int(width * done / total) if total else width
    rate = resources / elapsed if elapsed else 0.0
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} bundles, "
                 f"{resources} resources, {rate:,.0f}/s")
    stream.flush()


def import_folder(folder: Path, gateway: str, client_id: str, secret: str, stream=sys.stderr) -> Summary:
    """Post each bundle of FOLDER in name order; return what happened."""
    files = sorted(folder.glob("*.json")) if folder.is_dir() else [folder]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token(session, gateway, client_id, secret)}",
                            "Content-Type": "application/fhir+json"})
    summary, started = Summary(bundles=len(files)), time.perf_counter()
    for i, path in enumerate(files, 1):
        try:
            body = path.read_bytes()
            bundle = json.loads(body)
        except (OSError, ValueError) as exc:
            summary.failures.append((path.name, f"not readable JSON: {exc}"))
            continue
        resp = session.post(f"{gateway}/fhir", data=body, timeout=300)
        if resp.status_code == 401:  # the token expired during a long import
            session.headers["Authorization"] = f"Bearer {token(session, gateway, client_id, secret)}"
            resp = session.post(f"{gateway}/fhir", data=body, timeout=300)
        if resp.status_code == 200:
            entries = bundle.get("entry") or []
            summary.resources += len(entries)
            summary.types.update(e.get("resource", {}).get("resourceType", "?") for e in entries)
        else:
            summary.failures.append((path.name, reason(resp)))
        progress(i, len(files), summary.resources, started, stream)
    stream.write("\n")
    summary.seconds = time.perf_counter() - started
    return summary


def run(args: argparse.Namespace) -> int:
    """Import, print the summary; exit 1 on any failure."""
    if not args.folder.exists():
        print(f"phr import: {args.folder} does not exist", file=sys.stderr)
        return 2
    client_id, secret = credentials(args)
    summary = import_folder(args.folder, args.gateway.rstrip("/"), client_id, secret)
    print("\n".join(summary.lines()))
    return 1 if summary.failures else 0
