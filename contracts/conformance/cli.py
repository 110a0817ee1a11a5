"""`phr-conformance`: check a deployment of the public contract v1 and say plainly what breaks it."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import resources
from pathlib import Path

from contracts.conformance import accessibility, consent, schema, security
from contracts.conformance.client import Gateway
from contracts.conformance.context import Context, build
from contracts.conformance.model import CATEGORIES
from contracts.conformance.report import junit, summary, verdict_of

#: The contract shipped with the package (pyproject.toml declares it as package data).
DEFAULT_SPEC = str(resources.files("contracts") / "openapi.yaml")
ENV_PREFIX = "PHR_CONFORMANCE_"
#: Run order: the read-only and reversible checks first, fuzzing (which writes) last.
CHECKS = {"security": security.run, "consent": consent.run, "accessibility": accessibility.run,
          "openapi": schema.run}
SECRET_OPTIONS = ("department", "requester", "emergency", "oversight", "admin")


def _env(name: str, default=None):
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), default)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="phr-conformance",
        description="Check a deployment against the PHR exchange contract v1: OpenAPI conformance (fuzzed "
                    "with schemathesis), accessibility and language rules, security negatives and consent "
                    "scenarios. Every option can also be set as PHR_CONFORMANCE_<OPTION> "
                    "(e.g. PHR_CONFORMANCE_DEPARTMENT_SECRET).",
        epilog="Exit status: 0 conforms; 1 a check failed (or, with --require-all, a check could not run); "
               "2 bad usage.")
    p.add_argument("--base-url", default=_env("base-url"), help="the gateway's URL (the one origin of the contract)")
    p.add_argument("--spec", default=_env("spec", DEFAULT_SPEC),
                   help="the OpenAPI document to check against: a path or a URL (default: the committed "
                        "contracts/openapi.yaml)")
    p.add_argument("--credentials", default=_env("credentials"),
                   help="a JSON file shaped like var/demo-credentials.json; options override it")
    for role, what in (("department", "the custodian department"), ("requester", "a second department"),
                       ("emergency", "a department that may break the glass"),
                       ("oversight", "an oversight client"),
                       ("admin", "the directory's administrators' client")):
        p.add_argument(f"--{role}-id", default=_env(f"{role}-id"), help=f"client id of {what}")
        p.add_argument(f"--{role}-secret", default=_env(f"{role}-secret"), help=f"client secret of {what}")
    p.add_argument("--portal-client-id", default=_env("portal-client-id"), help="the portal's public client id")
    p.add_argument("--redirect-uri", default=_env("redirect-uri"), help="the portal client's redirect URI")
    for role, what in (("patient", "patient A"), ("other-patient", "patient B")):
        p.add_argument(f"--{role}-username", default=_env(f"{role}-username"), help=f"portal username of {what}")
        p.add_argument(f"--{role}-password", default=_env(f"{role}-password"), help=f"portal password of {what}")
    p.add_argument("--signing-key", default=_env("signing-key"),
                   help="the deployment's private signing key (JWK JSON file), to sign an expired token; "
                        "without it the expired-token check does not run")
    p.add_argument("--languages", default=_env("languages", "en,es"),
                   help="supported languages to check patient-facing answers in (default: en,es)")
    p.add_argument("--max-examples", type=int, default=int(_env("max-examples", "50")),
                   help="generated cases per operation and mode (positive, negative); default 50")
    p.add_argument("--seed", type=int, default=_env("seed"),
                   help="seed for the generated cases (default: the same cases on every run)")
    p.add_argument("--only", default=_env("only", ",".join(CATEGORIES)),
                   help=f"comma-separated categories to run (default: all: {','.join(CATEGORIES)})")
    p.add_argument("--junit-xml", default=_env("junit-xml", "phr-conformance.xml"),
                   help="where to write the JUnit XML report (default: phr-conformance.xml)")
    p.add_argument("--require-all", action="store_true", default=bool(_env("require-all")),
                   help="exit non-zero when a check could not run (for lack of a credential, for example)")
    return p


def context_from(args: argparse.Namespace) -> Context:
    """Build the run's context from parsed ARGS."""
    options = vars(args)
    identities, missing = build(options, args.base_url.rstrip("/"))
    key = json.loads(Path(args.signing_key).read_text()) if args.signing_key else None
    return Context(Gateway(args.base_url), args.spec, identities, missing,
                   tuple(x.strip() for x in args.languages.split(",") if x.strip()),
                   args.max_examples, int(args.seed) if args.seed is not None else None, key)


def main(argv: list[str] | None = None, out=None) -> int:
    """Run the checks asked for; print the summary, write JUnit XML, return the exit status."""
    out = out or sys.stdout
    p = parser()
    args = p.parse_args(argv)
    if not args.base_url:
        p.error("--base-url (or PHR_CONFORMANCE_BASE_URL) is required")
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(only) - set(CHECKS))
    if unknown:
        p.error(f"unknown categories {unknown}; choose from {', '.join(CATEGORIES)}")
    ctx = context_from(args)
    start, results = time.monotonic(), []
    for category, check in CHECKS.items():
        if category in only:
            print(f"phr-conformance: {category} ...", file=out, flush=True)
            results.extend(check(ctx))
    summary(results, out, time.monotonic() - start, args.require_all)
    junit(results, args.junit_xml)
    print(f"JUnit XML: {args.junit_xml}", file=out)
    return verdict_of(results, args.require_all)


if __name__ == "__main__":
    sys.exit(main())
