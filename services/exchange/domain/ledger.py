"""The disclosure ledger: a hash chain, so that no entry can be edited or removed unnoticed.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the
entry together with the previous entry's hash; the first entry follows GENESIS. A head
record (last sequence number and hash) is kept beside the chain, so a removed last entry
shows too.

Verification may start from a checkpoint an auditor kept from an earlier verdict (the number
and hash of the last entry it checked): then only the entries after it are hashed, and the
stored entry at the checkpoint must still carry the kept hash. Any rewrite of the chain up to
there changes that hash (each hash covers all before it), so it shows; an edit that left the
stored hashes alone shows only to a full verification, which auditors run now and then.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

GENESIS = "0" * 64


def canonical(doc: dict) -> str:
    """Return the canonical JSON text of DOC (sorted keys, compact, non-ASCII kept)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict, prev_hash: str) -> str:
    """Return SHA-256 (hex) over the canonical JSON of ENTRY plus PREV_HASH."""
    return hashlib.sha256(canonical({"entry": entry, "prev_hash": prev_hash}).encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored entry, as read back from storage."""

    seq: int
    entry_text: str
    prev_hash: str
    hash: str


@dataclass
class Verdict:
    """What verification found: valid or not, and each problem with the entry it concerns.

    CHECKED is how many entries this verification hashed, ENTRIES how many the chain holds
    counting those up to the checkpoint it started AFTER (0: it hashed them all).
    """

    entries: int = 0
    head: str = GENESIS
    problems: list[dict] = field(default_factory=list)
    checked: int = 0
    after: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"valid": self.valid, "entries": self.entries, "head": self.head,
                "problems": self.problems, "checked": self.checked, "after": self.after}


@dataclass(frozen=True)
class Checkpoint:
    """The last entry an earlier verification checked: its sequence number and its hash."""

    seq: int
    hash: str


def verify(links: list[Link], head: tuple[int, str] | None, start: Checkpoint | None = None,
           stored_at_start: str | None = None) -> Verdict:
    """Check LINKS (in sequence order) against each other and against the stored HEAD.

    With START, LINKS are the entries after it and STORED_AT_START is the hash stored today
    for entry START.seq (None when there is no such entry).
    """
    verdict, prev, expected_seq = Verdict(), GENESIS, 1
    if start is not None and start.seq > 0:
        verdict.after, prev, expected_seq = start.seq, start.hash, start.seq + 1
        if stored_at_start is None:
            verdict.problems.append({"seq": start.seq, "problem": "missing",
                                     "detail": f"entry {start.seq}, checked before, is not in the ledger"})
        elif stored_at_start != start.hash:
            verdict.problems.append({"seq": start.seq, "problem": "altered",
                                     "detail": "its hash is not the one checked before: the chain "
                                               "up to here was rewritten"})
    for link in links:
        if link.seq != expected_seq:
            verdict.problems.append({"seq": expected_seq, "problem": "missing",
                                     "detail": f"entries {expected_seq} to {link.seq - 1} are missing"})
        if link.prev_hash != prev:
            verdict.problems.append({"seq": link.seq, "problem": "broken-link",
                                     "detail": "does not follow the entry before it"})
        try:
            entry = json.loads(link.entry_text)
        except ValueError:
            entry = None
        if entry is None or entry_hash(entry, link.prev_hash) != link.hash:
            verdict.problems.append({"seq": link.seq, "problem": "altered",
                                     "detail": "its content does not match its hash"})
        prev, expected_seq = link.hash, link.seq + 1
        verdict.checked += 1
    verdict.entries, verdict.head = verdict.after + verdict.checked, prev
    head_seq, head_hash = head or (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != prev:
        verdict.problems.append({"seq": head_seq, "problem": "head-mismatch",
                                 "detail": f"the ledger head says {head_seq} entries ending in "
                                           f"{head_hash[:12]}; the chain has {expected_seq - 1} "
                                           f"ending in {prev[:12]}"})
    return verdict
