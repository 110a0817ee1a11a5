"""``phr exchange``: a department's client for exchanges, for teams that script them.

    phr exchange request --patient P --purpose TREAT --types Observation,Condition [--wait]
    phr exchange status ID
    phr exchange download ID [-o bundle.json]
    phr exchange verify-ledger [--local] [--after SEQ --hash HASH]

Credentials: --client-id/--client-secret, else PHR_CLIENT_ID/PHR_CLIENT_SECRET; the gateway is
--gateway, else PHR_GATEWAY, else http://127.0.0.1:8080. ``verify-ledger --local`` reads the
exchange database itself (EXCHANGE_DATABASE_URL, else var/exchange.db) instead of the API;
``--after``/``--hash`` (an earlier verdict's entries and head) check only the entries since.
Exit codes: 0 done (fulfilled, valid), 1 refused (denied, failed, ledger broken), 2 usage or
connection problem, 3 still pending after --wait.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
FINAL = ("fulfilled", "denied", "failed")


def register(subparsers) -> None:
    parser = subparsers.add_parser("exchange", help="ask for, follow and download exchanges; verify the ledger",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=os.environ.get("PHR_GATEWAY", DEFAULT_GATEWAY))
    parser.add_argument("--client-id", default=os.environ.get("PHR_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("PHR_CLIENT_SECRET"))
    parser.add_argument("--json", action="store_true", help="print the raw JSON answers")
    sub = parser.add_subparsers(dest="action", required=True)
    req = sub.add_parser("request", help="ask for a patient's records")
    req.add_argument("--patient", required=True)
    req.add_argument("--purpose", default="TREAT")
    req.add_argument("--types", required=True, help="comma-separated FHIR resource types")
    req.add_argument("--reason")
    req.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait for the outcome")
    req.set_defaults(func=_request)
    st = sub.add_parser("status", help="show a request's status")
    st.add_argument("id")
    st.set_defaults(func=_status)
    dl = sub.add_parser("download", help="download a fulfilled request's Bundle")
    dl.add_argument("id")
    dl.add_argument("-o", "--output", help="file to write (default: standard output)")
    dl.set_defaults(func=_download)
    ver = sub.add_parser("verify-ledger", help="check the disclosure ledger's hash chain")
    ver.add_argument("--local", action="store_true", help="read the exchange database directly")
    ver.add_argument("--after", type=int, help="an earlier verdict's entries: check only the entries after it")
    ver.add_argument("--hash", help="that verdict's head (required with --after)")
    ver.set_defaults(func=_verify)


class Client:
    """Client credentials with client_secret_basic (RFC 6749 section 4.4), one token per run."""

    def __init__(self, args):
        if not (args.client_id and args.client_secret):
            raise SystemExit("error: give --client-id and --client-secret (or PHR_CLIENT_ID and PHR_CLIENT_SECRET)")
        self.base, self.session = args.gateway.rstrip("/"), requests.Session()
        resp = self.session.post(f"{self.base}/oauth/token", auth=(args.client_id, args.client_secret),
                                 data={"grant_type": "client_credentials"}, timeout=10)
        if resp.status_code != 200:
            raise SystemExit(f"error: the gateway refused the credentials ({resp.status_code}): {resp.text[:200]}")
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def call(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, f"{self.base}{path}", timeout=30, **kw)


def _problem(resp: requests.Response) -> int:
    try:
        body = resp.json()
        text = body.get("detail") or body.get("title") or resp.text
    except ValueError:
        text = resp.text
    print(f"error {resp.status_code}: {text}", file=sys.stderr)
    return 1 if resp.status_code in (403, 404, 409, 410) else 2


def _show(status: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(status, indent=2))
    else:
        print(f"{status['id']}  {status['status']}  {status['outcome']['text']}")
        if status.get("consent"):
            c = status["consent"]
            print(f"  basis: {c.get('basis')}  consent: {c.get('id')} v{c.get('version')}")
        if status["status"] == "fulfilled":
            r = status.get("redacted") or {}
            print(f"  {status.get('resource_count')} resources; redacted {r.get('count', 0)} "
                  f"({', '.join(r.get('labels') or []) or 'none'}); ledger entry {status.get('ledger_seq')}")
            print(f"  download: phr exchange download {status['id']}")
    return {"fulfilled": 0, "denied": 1, "failed": 1}.get(status["status"], 3)


def _request(args) -> int:
    client = Client(args)
    body = {"patient": args.patient, "purpose": args.purpose,
            "resource_types": [t.strip() for t in args.types.split(",") if t.strip()]}
    if args.reason:
        body["reason"] = args.reason
    resp = client.call("POST", "/exchange/v1/requests", json=body)
    if resp.status_code != 202:
        return _problem(resp)
    request_id = resp.json()["id"]
    if not args.wait:
        print(request_id if not args.json else json.dumps(resp.json()))
        return 0
    deadline = time.monotonic() + args.wait
    while True:
        got = client.call("GET", f"/exchange/v1/requests/{request_id}")
        if got.status_code != 200:
            return _problem(got)
        if got.json()["status"] in FINAL or time.monotonic() > deadline:
            return _show(got.json(), args.json)
        time.sleep(0.2)


def _status(args) -> int:
    resp = Client(args).call("GET", f"/exchange/v1/requests/{args.id}")
    return _show(resp.json(), args.json) if resp.status_code == 200 else _problem(resp)


def _download(args) -> int:
    resp = Client(args).call("GET", f"/exchange/v1/requests/{args.id}/bundle")
    if resp.status_code != 200:
        return _problem(resp)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(resp.content)
        count = len(resp.json().get("entry") or [])
        print(f"wrote {args.output}: a Bundle of {count} resources")
    else:
        sys.stdout.write(resp.text + "\n")
    return 0


def verdict_lines(verdict: dict) -> list[str]:
    if verdict["valid"]:
        since = f" ({verdict['checked']} checked after entry {verdict['after']})" if verdict.get("after") else ""
        return [f"ledger valid: {verdict['entries']} entries{since}, head {verdict['head']}"]
    return [f"ledger BROKEN: {len(verdict['problems'])} problem(s) in {verdict['entries']} entries",
            *(f"  entry {p['seq']}: {p['problem']}: {p['detail']}" for p in verdict["problems"])]


def _verify(args) -> int:
    if (args.after is None) != (args.hash is None):
        raise SystemExit("error: give --after and --hash together (an earlier verdict's entries and head)")
    if args.local:
        from services.common.config import load_settings
        from services.common.db import make_engine
        from services.exchange.service_layer.queries import verify_ledger
        from services.exchange.service_layer.unit_of_work import SqlUnitOfWork

        engine = make_engine(load_settings("exchange").database_url)
        try:
            from services.exchange.domain.ledger import Checkpoint
            start = Checkpoint(args.after, args.hash) if args.after is not None else None
            verdict = verify_ledger(SqlUnitOfWork(engine, write=False), start).as_dict()
        finally:
            engine.dispose()
    else:
        query = {"after": args.after, "hash": args.hash} if args.after is not None else None
        resp = Client(args).call("GET", "/exchange/v1/ledger/verify", params=query)
        if resp.status_code != 200:
            return _problem(resp)
        verdict = resp.json()
    print(json.dumps(verdict, indent=2) if args.json else "\n".join(verdict_lines(verdict)))
    return 0 if verdict["valid"] else 1
