"""Reports: anyone may say "this is wrong" (docs/architecture.md, "Reports"). Who may report what,
what an anonymous report keeps, the reference people read aloud, and how quality staff move a
report from received to closed. Pure code: no Flask, SQL or Kafka."""
from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from contracts.vocabulary import ANONYMOUS_MIN_STAFF, REPORT_KINDS, REPORT_STATUSES, STAFF_ONLY_REPORT_KINDS

RECEIVED, LOOKING, ACTED, CLOSED = REPORT_STATUSES
#: Who reported (never translated): a patient, a caregiver acting for one, a named member of
#: staff, or a member of staff who asked not to be named.
PATIENT, CAREGIVER, STAFF, ANONYMOUS = "patient", "caregiver", "staff", "anonymous-staff"
LINKS = ("correction_request", "break_glass_review", "disclosure")
HARD_WORDS = "hard-to-understand"  # the kind whose words feed the wording review

# Crockford's base 32 (no I, L, O, U): read aloud and typed back without mixing 1/I or 0/O.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A reference like R-7KQ2-M9XD-4HTW: 60 random bits, so an anonymous reporter may follow their
    report with it and nobody can guess another's."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"R-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normal_reference(text: str) -> str:
    """REFERENCE as typed by a person (lower case, spaces, O for 0, I/L for 1) in its stored form."""
    raw = "".join(c for c in text.upper() if c.isalnum())
    raw = raw.translate(str.maketrans("OIL", "011"))
    if len(raw) == 13 and raw.startswith("R"):  # the prefix, typed or not (R is a code letter too)
        raw = raw[1:]
    return f"R-{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else ""


class Refused(ValueError):
    """The report cannot be made as asked; CODE says why (never translated)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class Closed(Exception):
    """A closed report is not changed any more."""


class Backwards(ValueError):
    """A report's status moves forward only."""


class Unconditional(Exception):
    """A change sent without the version it was made on (If-Match)."""


class Stale(Exception):
    """The report changed since the version the caller read (lost update refused)."""


#: Kind -> what it must point at (the keys of `about`).
ABOUT = {"wrong-information": ("resource_type", "id"), "hard-to-understand": ("page", "words"),
         "wrong-access": ("disclosure",), "safety": (), "system-problem": ()}
assert set(ABOUT) == set(REPORT_KINDS)


def check_about(kind: str, about: dict) -> dict:
    """Return the part of ABOUT that KIND points at; raise Refused("about") when it is missing."""
    needed = ABOUT[kind]
    if any(not about.get(k) for k in needed):
        raise Refused("about")
    return {k: about[k] for k in needed}


def check_reporter(kind: str, reporter_kind: str, anonymous: bool) -> None:
    """Refuse a patient's or caregiver's safety report, and an anonymous report by anyone but staff."""
    staff = reporter_kind == STAFF
    if anonymous and not staff:
        raise Refused("anonymous")
    if kind in STAFF_ONLY_REPORT_KINDS and not staff:
        raise Refused("kind")


def shown_department(department: str, staff_count: int) -> str | None:
    """The department an anonymous report keeps: only when at least ANONYMOUS_MIN_STAFF staff
    belong to it now, else none (in a smaller one the department could name the person)."""
    return department if staff_count >= ANONYMOUS_MIN_STAFF else None


def received_time(now: datetime, anonymous: bool) -> datetime:
    """When a report is kept as received: NOW, or for an anonymous report only its day (midnight
    UTC), so its time cannot be matched with who was at work, signed in or in a log just then."""
    if not anonymous:
        return now
    day = now.astimezone(timezone.utc)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Report:
    """One report, as the exchange keeps it."""

    id: str
    reference: str
    kind: str
    about: dict
    text: str
    reporter_kind: str
    language: str
    received_at: datetime
    department: str | None = None  # whose quality staff triage it (None: every quality team)
    patient: str | None = None
    acting: str | None = None  # the caregiver acting for the patient
    staff: str | None = None  # a named member of staff (sub), their fhirUser and department
    staff_user: str | None = None
    staff_department: str | None = None
    status: str = RECEIVED
    note: str | None = None
    assignee: str | None = None
    assignee_user: str | None = None
    links: dict = field(default_factory=dict)
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def reporter(self) -> dict:
        """Who reported, as events and staff pages show it (nothing for an anonymous report)."""
        if self.reporter_kind == PATIENT:
            return {"kind": PATIENT, "patient": self.patient}
        if self.reporter_kind == CAREGIVER:
            return {"kind": CAREGIVER, "patient": self.patient, "acting": self.acting}
        if self.reporter_kind == STAFF:
            return {"kind": STAFF, "staff": {"sub": self.staff, "fhirUser": self.staff_user},
                    "department": self.staff_department}
        return {"kind": ANONYMOUS}

    def triage(self, version: int | None, now: datetime, status: str | None = None, note: str | None = None,
               assignee: dict | None = None, links: dict | None = None) -> tuple["Report", list[str]]:
        """Return this report changed by a quality team member who read VERSION, and what changed;
        raise Unconditional (no VERSION), Stale, Closed or Backwards."""
        if version is None:
            raise Unconditional(self.id)
        if version != self.version:
            raise Stale(self.id)
        if self.status == CLOSED:
            raise Closed(self.id)
        changes, changed = {}, []
        if status is not None and status != self.status:
            if REPORT_STATUSES.index(status) < REPORT_STATUSES.index(self.status):
                raise Backwards(status)
            changes.update(status=status, closed_at=now if status == CLOSED else None)
            changed.append("status")
        if note is not None and (note.strip() or None) != self.note:
            changes["note"] = note.strip() or None
            changed.append("note")
        if assignee is not None and assignee.get("sub") != self.assignee:
            changes.update(assignee=assignee["sub"], assignee_user=assignee.get("fhirUser"))
            changed.append("assignee")
        if links:
            merged = {**self.links, **{k: v for k, v in links.items() if v}}
            if merged != self.links:
                changes["links"] = merged
                changed.append("links")
        if not changed:
            return self, []
        changes.update(updated_at=now, version=self.version + 1,
                       acknowledged_at=self.acknowledged_at or now)
        return dataclasses.replace(self, **changes), changed

    def close_by_correction(self, note: str, now: datetime) -> "Report":
        """Return this report closed because its correction request was answered (NOTE in the
        reporter's language)."""
        return dataclasses.replace(self, status=CLOSED, note=note, closed_at=now, updated_at=now,
                                   acknowledged_at=self.acknowledged_at or now, version=self.version + 1)


@dataclass(frozen=True)
class HardWords:
    """Words readers found hard on one page in one language, and how many reports named them."""

    language: str
    page: str
    words: str
    count: int


def hard_words(pointed: list[tuple[str, dict]]) -> list[HardWords]:
    """Count the words of "hard to understand" reports (each (language, about)) by language,
    page and words (the same words however spaced or capitalised, shown as first written): the
    most named first, so the wording review starts with them."""
    counted: dict[tuple[str, str, str], list] = {}
    for language, about in pointed:
        words = " ".join(str(about.get("words") or "").split())
        if not words:
            continue
        key = (language, str(about.get("page") or ""), words.casefold())
        counted.setdefault(key, [words, 0])[1] += 1
    found = [HardWords(lang, page, words, n) for (lang, page, _k), (words, n) in counted.items()]
    return sorted(found, key=lambda h: (-h.count, h.language, h.page, h.words.casefold()))


def queue_key(report: Report) -> tuple:
    """The quality queue's order: open reports first, then the oldest."""
    return (report.status == CLOSED, report.received_at, report.id)
