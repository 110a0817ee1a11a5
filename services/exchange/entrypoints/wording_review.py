"""``python -m services.exchange.entrypoints.wording_review`` (``make wording-review``): the words
readers said were hard to understand ("hard to understand" reports), counted by language and
page, each next to the catalog entries whose text holds them, so a translator sees which
sentence to rewrite (the catalogs: services/common/i18n.py). Words no entry holds are said so:
they may be data (a record's name, a department's) rather than our text. Reads the exchange
database (EXCHANGE_DATABASE_URL, else var/exchange.db); --language narrows to one language."""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from services.common import i18n
from services.exchange.service_layer import reports

MAX_ENTRIES = 5  # per words: more means the words are too common to point at one sentence


def review(uow, out: TextIO, language: str | None = None) -> int:
    """Print the review to OUT; return how many words were listed."""
    found = [h for h in reports.hard_words(uow, None) if language is None or h.language == language]
    if not found:
        print("No reader has said any words were hard to understand.", file=out)
    for hard in found:
        times = "1 report" if hard.count == 1 else f"{hard.count} reports"
        print(f"[{hard.language}] {hard.page}: \"{hard.words}\" ({times})", file=out)
        entries = i18n.containing(hard.words, hard.language)
        for owner, msgid, text in entries[:MAX_ENTRIES]:
            shown = text if text == msgid else f"{text}   (msgid: {msgid})"
            print(f"    {owner}: {shown}", file=out)
        if len(entries) > MAX_ENTRIES:
            print(f"    ... and {len(entries) - MAX_ENTRIES} more entries", file=out)
        if not entries:
            print("    no catalog entry holds these words (data, or text not yet in a catalog)", file=out)
    return len(found)


def main(argv: list[str] | None = None) -> int:
    from services.common.config import load_settings
    from services.common.db import make_engine
    from services.exchange.service_layer.unit_of_work import SqlUnitOfWork

    parser = argparse.ArgumentParser(prog="python -m services.exchange.entrypoints.wording_review",
                                     description=__doc__)
    parser.add_argument("--language", choices=i18n.SUPPORTED)
    args = parser.parse_args(argv)
    engine = make_engine(load_settings("exchange").database_url)
    try:
        review(SqlUnitOfWork(engine, write=False), sys.stdout, args.language)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
