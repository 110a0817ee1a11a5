"""Read the disclosure ledger back from storage: verification and the patient's entries."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.db import read_only
from services.exchange.adapters.tables import ledger, ledger_head
from services.exchange.domain import ledger as chain


def verify(engine: Engine) -> chain.Verdict:
    """Check every entry's hash and link, and the head, in sequence order."""
    with read_only(engine) as conn:
        rows = conn.execute(sa.select(ledger.c.seq, ledger.c.entry, ledger.c.prev_hash, ledger.c.hash)
                            .order_by(ledger.c.seq)).all()
        head = conn.execute(sa.select(ledger_head.c.seq, ledger_head.c.hash)
                            .where(ledger_head.c.id == 1)).first()
    links = [chain.Link(r.seq, r.entry, r.prev_hash, r.hash) for r in rows]
    return chain.verify(links, (head.seq, head.hash) if head else None)


def for_patient(engine: Engine, patient: str, limit: int, offset: int) -> tuple[list[dict], bool]:
    """Return one page of PATIENT's entries (newest first) and whether more follow."""
    with read_only(engine) as conn:
        rows = conn.execute(sa.select(ledger.c.seq, ledger.c.entry, ledger.c.hash)
                            .where(ledger.c.patient == patient).order_by(ledger.c.seq.desc())
                            .limit(limit + 1).offset(offset)).all()
    entries = [{**json.loads(r.entry), "hash": r.hash} for r in rows[:limit]]
    return entries, len(rows) > limit
