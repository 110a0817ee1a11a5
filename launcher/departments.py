"""``phr departments add|list|disable``: the directory's administrators at a terminal.

An HTTP client of the gateway's admin API (``/admin/v1/departments``, gateway/admin/api.py):
it signs in with client credentials as the administrators' client (``phr-admin``) and calls
the API as any other client would. Where it finds the gateway and the credentials, first
found wins:

- the gateway: ``--gateway``, else ``PHR_ISSUER``, else ``GATEWAY_URL``, else the demo's
  credentials file, else ``http://127.0.0.1:$GATEWAY_PORT`` (8080);
- the credentials: ``--client-id``/``--client-secret``, else ``PHR_ADMIN_CLIENT_ID`` and
  ``PHR_ADMIN_CLIENT_SECRET``, else the ``admin`` entry of the demo's credentials file
  (``$PHR_VAR_DIR/demo-credentials.json``, written by launcher/demo/seed.py).

The demo seeding registers its departments with the same client (``AdminClient``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Mapping

import requests

from contracts.vocabulary import STAFF_ROLES
from services.common.config import DEFAULT_PORTS

CREDENTIALS = "demo-credentials.json"
PATH = "/admin/v1/departments"
KINDS = ("clinical", "research", "oversight")


class AdminError(Exception):
    """The gateway refused a call, or could not be reached: MESSAGE says which and why."""

    def __init__(self, message: str, status: int | None = None, problem: dict | None = None):
        super().__init__(message)
        self.status, self.problem = status, problem or {}


def _refusal(resp: requests.Response, doing: str) -> AdminError:
    """The AdminError of a refused call, in the words of the gateway's problem (or OAuth error)."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    words = body.get("detail") or body.get("error_description") or body.get("title") or body.get("error")
    message = f"{doing}: {resp.status_code} {resp.reason}" + (f": {words}" if words else "")
    errors = body.get("errors")
    if isinstance(errors, dict):
        message += "".join(f"\n  {field}: {_flat(why)}" for field, why in sorted(errors.items()))
    return AdminError(message, resp.status_code, body)


def _flat(why) -> str:
    if isinstance(why, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in why.items())
    if isinstance(why, list):
        return " ".join(_flat(w) for w in why)
    return str(why)


class AdminClient:
    """The admin API at GATEWAY, as CLIENT_ID with CLIENT_SECRET (client_secret_basic)."""

    def __init__(self, gateway: str, client_id: str, client_secret: str, timeout: float = 15.0):
        self.gateway, self.timeout = gateway.rstrip("/"), timeout
        self.auth = (client_id, client_secret)
        self.http = requests.Session()
        self._token, self._expires = None, 0.0

    def token(self) -> str:
        """An access token of the admin client, asked for again shortly before it expires."""
        if self._token is None or time.monotonic() > self._expires:
            try:
                resp = self.http.post(f"{self.gateway}/oauth/token", auth=self.auth,
                                      data={"grant_type": "client_credentials"}, timeout=self.timeout)
            except requests.RequestException as exc:
                raise AdminError(f"cannot reach the gateway at {self.gateway}: {exc}") from None
            if resp.status_code != 200:
                raise _refusal(resp, f"the gateway at {self.gateway} refused the admin client's "
                                     f"credentials ({self.auth[0]})")
            body = resp.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + max(0, int(body.get("expires_in", 60)) - 30)
        return self._token

    def call(self, method: str, path: str, doing: str, ok: tuple[int, ...] = (200,), **kw) -> dict:
        """Call PATH with the admin token; return the JSON body, or raise AdminError."""
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        try:
            resp = self.http.request(method, f"{self.gateway}{path}", headers=headers,
                                     timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise AdminError(f"{doing}: cannot reach the gateway at {self.gateway}: {exc}") from None
        if resp.status_code not in ok:
            raise _refusal(resp, doing)
        return resp.json()

    def register(self, entry: dict) -> dict:
        """Register ENTRY; return the new entry with its client's id, secret (this once) and scope."""
        return self.call("POST", PATH, f"registering {entry.get('department')}", (201,), json=entry)

    def departments(self) -> list[dict]:
        """Every department, active and disabled, by id (every page)."""
        found, params = [], {"limit": 100}
        while True:
            page = self.call("GET", PATH, "listing the departments", params=params)
            found.extend(page["items"])
            if not page.get("next"):
                return found
            params = {"limit": 100, "cursor": page["next"]}

    def disable(self, department: str, reason: str) -> dict:
        """Disable DEPARTMENT for REASON; return its entry."""
        return self.call("POST", f"{PATH}/{department}/disable", f"disabling {department}",
                         json={"reason": reason})

    def department(self, department: str) -> dict:
        return self.call("GET", f"{PATH}/{department}", f"reading {department}")

    def invite(self, department: str, roles: list[str], display_name: str) -> dict:
        """Invite a person to DEPARTMENT's staff with ROLES; the answer holds the invite code,
        shown this once (gateway/admin/staff_api.py)."""
        return self.call("POST", f"{PATH}/{department}/invites", f"inviting to {department}",
                         ok=(201,), json={"roles": roles, "display_name": display_name})


# where the gateway and the credentials are ------------------------------------------------------
def _demo_credentials(env: Mapping[str, str]) -> dict:
    path = Path(env.get("PHR_VAR_DIR") or "var") / CREDENTIALS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def client_from(args: argparse.Namespace, env: Mapping[str, str]) -> AdminClient:
    """The AdminClient that ARGS, else ENV, else the demo's credentials file describe."""
    demo = _demo_credentials(env)
    gateway = (args.gateway or env.get("PHR_ISSUER") or env.get("GATEWAY_URL") or demo.get("gateway")
               or f"http://127.0.0.1:{env.get('GATEWAY_PORT') or DEFAULT_PORTS['gateway']}")
    admin = demo.get("admin") or {}
    client_id = args.client_id or env.get("PHR_ADMIN_CLIENT_ID") or admin.get("client_id")
    secret = args.client_secret or env.get("PHR_ADMIN_CLIENT_SECRET") or admin.get("client_secret")
    if not (client_id and secret):
        raise AdminError("no administrator credentials: give --client-id and --client-secret, or set "
                         "PHR_ADMIN_CLIENT_ID and PHR_ADMIN_CLIENT_SECRET (create the client, or give "
                         "it a new secret, with `python -m gateway.admin admin-client`)")
    return AdminClient(gateway, client_id, secret)


def names(pairs: list[str]) -> dict:
    """--name LANG=TEXT options as {LANG: TEXT}."""
    found = {}
    for pair in pairs:
        lang, sep, text = pair.partition("=")
        if not sep or not lang.strip():
            raise AdminError(f"--name {pair!r}: write it as LANG=TEXT, e.g. --name es=Fisioterapia")
        found[lang.strip()] = text.strip()
    return found


# the subcommands ---------------------------------------------------------------------------
def _rights(entry: dict) -> str:
    rights = [word for flag, word in (("may_write_records", "writes records"),
                                      ("may_claim_emergencies", "breaks the glass")) if entry.get(flag)]
    return ", ".join(rights) or "-"


def add(args, out=None) -> int:
    out = out or sys.stdout
    entry = {"department": args.department, "names": names(args.names), "kind": args.kind,
             "may_claim_emergencies": args.emergencies, "may_write_records": args.writes}
    made = client_from(args, os.environ).register(entry)
    if args.json:
        print(json.dumps(made, indent=2, ensure_ascii=False), file=out)
        return 0
    print(f"registered {made['department']} ({made['kind']}; {_rights(made)}), version {made['version']}",
          file=out)
    print(f"client_id={made['client_id']}", file=out)
    print(f"client_secret={made['client_secret']}", file=out)
    print(f"scope={made['scope']}", file=out)
    print("The secret is shown this once: give it to the department now. Only its hash is kept.",
          file=out)
    return 0


def list_(args, out=None) -> int:
    out = out or sys.stdout
    found = client_from(args, os.environ).departments()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False), file=out)
        return 0
    if not found:
        print("No departments are registered.", file=out)
        return 0
    rows = [("ID", "KIND", "STATUS", "VERSION", "RIGHTS", "NAME (EN / ES)")]
    rows += [(d["department"], d["kind"], d["status"], str(d["version"]), _rights(d),
              f"{d['names'].get('en', '')} / {d['names'].get('es', '')}") for d in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1], file=out)
    return 0


def disable(args, out=None) -> int:
    out = out or sys.stdout
    client = client_from(args, os.environ)
    before = client.department(args.department)
    entry = client.disable(args.department, args.reason)
    if args.json:
        print(json.dumps(entry, indent=2, ensure_ascii=False), file=out)
    elif before["status"] == "disabled":
        print(f"{entry['department']} was already disabled ({entry['changed_at']}): {entry['reason']}",
              file=out)
    else:
        print(f"disabled {entry['department']}, version {entry['version']}: its tokens were revoked "
              "and it gets no new ones. The services hear of it from the gateway's events.", file=out)
    return 0


def invite(args, out=None) -> int:
    out = out or sys.stdout
    made = client_from(args, os.environ).invite(args.department, args.roles, args.display_name)
    if args.json:
        print(json.dumps(made, indent=2, ensure_ascii=False), file=out)
        return 0
    roles = ", ".join(r["code"] for r in made["roles"])
    print(f"invited {made['display_name']} to {made['department']} ({roles}).\n"
          f"Invite code (shown this once): {made['invite_code']}\n"
          f"Give it to them; they make their account at <gateway>/console/join before "
          f"{made['expires']['display']}, then sign in at <gateway>/console/.", file=out)
    return 0


def register(subparsers) -> None:
    """Add ``phr departments`` to the ``phr`` command (launcher/cli.py)."""
    parser = subparsers.add_parser("departments", help="register, list and disable departments "
                                                       "(the gateway's admin API)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gateway", help="the gateway's URL (default: PHR_ISSUER, GATEWAY_URL, the "
                                          "demo's, or http://127.0.0.1:8080)")
    common.add_argument("--client-id", help="the administrators' client (default: "
                                            "PHR_ADMIN_CLIENT_ID, or the demo's)")
    common.add_argument("--client-secret", help="its secret (default: PHR_ADMIN_CLIENT_SECRET, or "
                                                "the demo's)")
    common.add_argument("--json", action="store_true", help="print the gateway's answer as JSON")
    sub = parser.add_subparsers(dest="action", required=True)

    p_add = sub.add_parser("add", parents=[common], help="register a department and create its "
                                                         "client; prints its secret once")
    p_add.add_argument("department", help="its id for good: 2 to 40 of a-z, 0-9 and '-', e.g. physiotherapy")
    p_add.add_argument("--name", dest="names", action="append", default=[], metavar="LANG=TEXT",
                       required=True, help="its name in a language; en and es are needed")
    p_add.add_argument("--kind", choices=KINDS, required=True,
                       help="clinical: treats patients; research: receives records under consent; "
                            "oversight: sees reports only")
    p_add.add_argument("--emergencies", action="store_true",
                       help="its clinicians may break the glass (clinical only)")
    p_add.add_argument("--writes", action="store_true", help="it may add and change records (clinical only)")
    p_add.set_defaults(func=_guarded(add))

    p_list = sub.add_parser("list", parents=[common], help="every department, active and disabled")
    p_list.set_defaults(func=_guarded(list_))

    p_off = sub.add_parser("disable", parents=[common], help="disable a department: its tokens stop "
                                                             "at once and it gets no new ones")
    p_off.add_argument("department")
    p_off.add_argument("--reason", required=True, help="why, in plain words (kept with the entry)")
    p_off.set_defaults(func=_guarded(disable))

    p_inv = sub.add_parser("invite", parents=[common], help="invite a person to a department's staff "
                                                            "(its first admin, say); prints the code once")
    p_inv.add_argument("department")
    p_inv.add_argument("--role", dest="roles", action="append", required=True,
                       choices=STAFF_ROLES,
                       help="a role they have (repeat for more)")
    p_inv.add_argument("--name", dest="display_name", required=True, help="the name others see")
    p_inv.set_defaults(func=_guarded(invite))


def _guarded(command):
    """COMMAND, with an AdminError said on stderr as one clear line (exit status 1)."""
    def run(args) -> int:
        try:
            return command(args)
        except AdminError as exc:
            print(f"phr departments: error: {exc}", file=sys.stderr)
            return 1
    return run
