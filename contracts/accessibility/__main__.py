"""Check a JSON file against the accessibility rules: python -m contracts.accessibility FILE.json."""
from __future__ import annotations

import argparse
import json
import sys

from contracts.accessibility import RULES, check


def main(argv: list[str] | None = None) -> int:
    """Print the violations of the payload in FILE; return 1 if there are any, 2 if unreadable."""
    parser = argparse.ArgumentParser(
        prog="python -m contracts.accessibility",
        description="Check a patient-facing JSON payload against the accessibility rules "
                    "(contracts/PATIENT_FACING.md).")
    parser.add_argument("file", nargs="?", help="the JSON payload ('-' for standard input)")
    parser.add_argument("--locale", default="en", help="the payload's language (BCP 47), default en")
    parser.add_argument("--content-language", dest="content_language",
                        help="also check this Content-Language header value")
    parser.add_argument("--json", action="store_true", help="print the violations as JSON")
    parser.add_argument("--rules", action="store_true", help="list the rules and exit")
    args = parser.parse_args(argv)
    if args.rules:
        for rule in RULES:
            print(f"{rule.id}: {rule.title}\n  threshold: {rule.threshold}\n  standard: {rule.standard}")
        return 0
    if not args.file:
        parser.error("a FILE is required")
    try:
        if args.file == "-":
            payload = json.load(sys.stdin)
        else:
            with open(args.file, encoding="utf-8") as handle:
                payload = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    headers = None if args.content_language is None else {"Content-Language": args.content_language}
    violations = check(payload, locale=args.locale, headers=headers)
    if args.json:
        print(json.dumps([v.to_dict() for v in violations], ensure_ascii=False, indent=2))
    else:
        for violation in violations:
            print(violation)
        print(f"{len(violations)} violation(s) in {args.file} (locale {args.locale})",
              file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
