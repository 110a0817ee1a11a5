"""SQL access to stored resources, their search index and claim checks (SQLAlchemy Core)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from services.common import jsontext
from services.common.prepared import PreparedSelect

from services.records.adapters.tables import (claim_checks, compartment_stamps, deleted_resources, resource_history,
                                              resource_tokens, resources)
from services.records.domain.plain_language import VISIBLE_TYPES, PagePlace, page_place
from services.records.domain.search import SearchIndex, SearchQuery, index_of

_KEY = 255


@dataclass
class StoredResource:
    """A resource row as the service layer sees it."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    patient_id: str | None
    custodian: str
    content: dict | None = None
    text: str | None = None
    index: SearchIndex | None = field(default=None, repr=False)

    def body(self) -> dict:
        """Return the resource as a dict (parsed once, on first use)."""
        if self.content is None:
            self.content = json.loads(self.text)
        return self.content

    def search_index(self) -> SearchIndex:
        """Return the search index entries (computed from the body when the caller gave none)."""
        if self.index is None:
            self.index = index_of(self.body())
        return self.index

    def page_place(self) -> PagePlace:
        """Return where the resource's item sits in the patient's list of records."""
        return page_place(self.body())

    def serialized(self) -> str:
        """Return the resource as compact JSON (as stored, without a parse/dump round trip)."""
        if self.text is None:
            self.text = jsontext.compact(self.content)
        return self.text


@dataclass
class ClaimCheck:
    """A prepared Bundle waiting to be fetched by reference."""

    ref: str
    request_id: str
    patient_id: str
    requester: str
    resource_count: int
    redacted_count: int
    content: str
    created_at: datetime
    expires_at: datetime
    downloaded_at: datetime | None = None  # the first download


def _stored(row) -> StoredResource:
    return StoredResource(row.resource_type, row.id, row.version_id, row.last_updated,
                          row.patient_id, row.custodian, text=row.content)


def _derived(s: StoredResource) -> dict:
    """The columns computed from the body: every write of a resource row fills them here."""
    place = s.page_place()
    return dict(main_date=s.search_index().main_date, page_date=place.date, page_category=place.category)


def touch_compartments(conn: sa.Connection, patient_ids) -> None:
    """Count one more change in each compartment of PATIENT_IDS (the stamp of its list of
    records: tables.compartment_stamps), making its row on the first."""
    ordered = sorted(set(patient_ids))  # sorted: concurrent writers lock rows in one order
    if not ordered:
        return
    table, insert = compartment_stamps, (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
    conn.execute(insert(table).values([dict(patient_id=p, epoch=uuid.uuid4().hex, changes=1) for p in ordered])
                 .on_conflict_do_update(index_elements=[table.c.patient_id],
                                        set_={"changes": table.c.changes + 1}))


def _listed_compartments(items) -> list[str]:
    return [s.patient_id for s in items if s.patient_id and s.resource_type in VISIBLE_TYPES]


_GET = sa.select(resources).where(resources.c.resource_type == sa.bindparam("resource_type"),
                                  resources.c.id == sa.bindparam("rid"))
_COLUMNS = tuple(c.name for c in resources.columns)


class ResourceReads:
    """Reads by id compiled once for DIALECT and run on a raw cursor (services.common.prepared):
    a FHIR read is the records service's most frequent request."""

    def __init__(self, dialect):
        self._get = PreparedSelect(_GET, dialect)

    def get(self, cursor, resource_type: str, rid: str) -> StoredResource | None:
        """The same answer as SqlResourceRepository.get."""
        rows = self._get.rows(cursor, resource_type=resource_type, rid=rid)
        if not rows:
            return None
        row = dict(zip(_COLUMNS, rows[0]))
        return StoredResource(row["resource_type"], row["id"], row["version_id"], row["last_updated"],
                              row["patient_id"], row["custodian"], text=row["content"])


class SqlResourceRepository:
    """Resources of one database connection (one unit of work)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self._changed: set[str] = set()  # compartments whose list of records changed, not yet counted

    def count_changes(self) -> None:
        """Count one change in each compartment whose list of records this transaction changed:
        once, as it ends (the unit of work calls this before committing), so the row lock of a
        compartment's stamp is held for the least time and taken in one order."""
        touch_compartments(self.conn, self._changed)
        self._changed = set()

    def get(self, resource_type: str, rid: str) -> StoredResource | None:
        """Load the current version of Type/id, or None."""
        row = self.conn.execute(_GET, {"resource_type": resource_type, "rid": rid}).first()
        return None if row is None else _stored(row)

    def get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredResource]:
        """Load the current versions of many Type/id at once (one query per 500 keys)."""
        return {(row.resource_type, row.id): _stored(row) for row in self._rows_of(keys, *resources.c)}

    def _rows_of(self, keys: list[tuple[str, str]], *columns):
        """Yield COLUMNS of the current rows of KEYS (Type, id), one query per 500 keys."""
        for chunk in (keys[i:i + 500] for i in range(0, len(keys), 500)):
            by_type: dict[str, list[str]] = {}
            for rtype, rid in chunk:
                by_type.setdefault(rtype, []).append(rid)
            # One statement, an OR of (type = ? AND id IN (...)): each term is a primary-key
            # lookup (SQLite's multi-index OR, PostgreSQL's bitmap OR); a row-value IN is not.
            where = sa.or_(*(sa.and_(resources.c.resource_type == rtype, resources.c.id.in_(ids))
                             for rtype, ids in by_type.items()))
            yield from self.conn.execute(sa.select(*columns).where(where))

    def add(self, stored: StoredResource) -> None:
        """Insert a new resource and its first history entry."""
        self.add_all([stored])

    def add_all(self, items: list[StoredResource]) -> None:
        """Insert new resources, their first history entries and their index rows."""
        if not items:
            return
        self.conn.execute(resources.insert(), [dict(
            resource_type=s.resource_type, id=s.id, version_id=s.version_id,
            last_updated=s.last_updated, patient_id=s.patient_id, custodian=s.custodian,
            content=s.serialized(), **_derived(s)) for s in items])
        self._changed.update(_listed_compartments(items))
        self._history(items)
        self._tokens(items)

    def replace(self, stored: StoredResource) -> None:
        """Store a new version of an existing resource and keep the old one in history."""
        self.replace_all([stored])

    def replace_all(self, items: list[StoredResource]) -> None:
        """Store new versions of existing resources (history kept, index rewritten)."""
        if not items:
            return
        b = sa.bindparam
        # A new version may name another patient: the compartment it leaves changes too.
        moved_from = self._patients_of([(s.resource_type, s.id) for s in items if s.resource_type in VISIBLE_TYPES])
        self.conn.execute(resources.update().where(
            resources.c.resource_type == b("k_type"), resources.c.id == b("k_id")).values(
            version_id=b("version_id"), last_updated=b("last_updated"), patient_id=b("patient_id"),
            content=b("content"), main_date=b("main_date"), page_date=b("page_date"),
            page_category=b("page_category")), [dict(
                k_type=s.resource_type, k_id=s.id, version_id=s.version_id, last_updated=s.last_updated,
                patient_id=s.patient_id, content=s.serialized(), **_derived(s)) for s in items])
        self._changed.update(_listed_compartments(items) + moved_from)
        self.conn.execute(resource_tokens.delete().where(
            resource_tokens.c.resource_type == b("k_type"), resource_tokens.c.id == b("k_id")),
            [dict(k_type=s.resource_type, k_id=s.id) for s in items])
        self._history(items)
        self._tokens(items)

    def _patients_of(self, keys: list[tuple[str, str]]) -> list[str]:
        """The patients whose compartments hold the current versions of KEYS (Type, id)."""
        return list({row.patient_id for row in self._rows_of(keys, resources.c.patient_id) if row.patient_id})

    def _history(self, items: list[StoredResource]) -> None:
        self.conn.execute(resource_history.insert(), [dict(
            resource_type=s.resource_type, id=s.id, version_id=s.version_id,
            last_updated=s.last_updated, content=s.serialized()) for s in items])

    def _tokens(self, items: list[StoredResource]) -> None:
        rows = [dict(resource_type=s.resource_type, id=s.id, param=t.param, system=t.system[:_KEY],
                     code=t.code[:_KEY]) for s in items for t in s.search_index().tokens]
        if rows:
            self.conn.execute(resource_tokens.insert(), rows)

    def count_for_patient(self, patient_id: str) -> int:
        """Count the current resources in a patient's compartment."""
        return self.conn.execute(sa.select(sa.func.count()).select_from(resources)
                                 .where(resources.c.patient_id == patient_id)).scalar_one()

    def find_by_identifier(self, resource_type: str, system: str | None, value: str) -> list[str]:
        """Return the ids of stored RESOURCE_TYPEs with that identifier: none, one, or two when
        there are several (the caller needs to know only that it is not one)."""
        t = resource_tokens
        where = [t.c.resource_type == resource_type, t.c.param == "identifier", t.c.code == value[:_KEY]]
        if system is not None:
            where.append(t.c.system == system[:_KEY])
        return list(self.conn.execute(sa.select(t.c.id).where(*where).distinct().limit(2)).scalars())

    def search(self, q: SearchQuery) -> tuple[list[StoredResource], int]:
        """Return one page of matches (ordered by id, after the cursor) and the total count."""
        r = resources.c
        if q.custodian is None and q.compartment is None:
            return [], 0  # a search is always over someone's resources, never everyone's
        where = [r.resource_type == q.resource_type]
        if q.custodian is not None:
            where.append(r.custodian == q.custodian)
        if q.compartment is not None:  # a Patient's own row is in its compartment (bundle.patient_of)
            where.append(r.patient_id == q.compartment)
        if q.patient is not None:
            where.append(r.patient_id == q.patient)
        if q.since is not None:
            where.append(r.last_updated >= q.since)
        for d in q.dates:
            where.extend({"eq": [r.main_date >= d.low, r.main_date < d.high], "ge": [r.main_date >= d.low],
                          "gt": [r.main_date >= d.high], "le": [r.main_date < d.high],
                          "lt": [r.main_date < d.low]}[d.prefix])
        for tok in q.tokens:
            t = resource_tokens.alias()
            cond = [t.c.resource_type == r.resource_type, t.c.id == r.id, t.c.param == tok.param,
                    t.c.code == tok.code[:_KEY]]
            if tok.system is not None:
                cond.append(t.c.system == tok.system[:_KEY])
            where.append(sa.exists().where(*cond))
        total = self.conn.execute(sa.select(sa.func.count()).select_from(resources).where(*where)).scalar_one()
        page_where = where + ([r.id > q.after] if q.after is not None else [])
        rows = self.conn.execute(sa.select(resources).where(*page_where).order_by(r.id).limit(q.count + 1)).all()
        return [_stored(row) for row in rows], total

    def delete(self, current: StoredResource, now: datetime) -> StoredResource:
        """Delete CURRENT (its history stays) and leave its tombstone: the next version number."""
        tomb = StoredResource(current.resource_type, current.id, current.version_id + 1, now,
                              current.patient_id, current.custodian, text="")
        key = dict(k_type=current.resource_type, k_id=current.id)
        for table in (resources, resource_tokens):
            self.conn.execute(table.delete().where(table.c.resource_type == sa.bindparam("k_type"),
                                                   table.c.id == sa.bindparam("k_id")), key)
        self._changed.update(_listed_compartments([current]))
        self.conn.execute(deleted_resources.insert().values(
            resource_type=tomb.resource_type, id=tomb.id, version_id=tomb.version_id, deleted_at=now,
            patient_id=tomb.patient_id, custodian=tomb.custodian))
        return tomb

    def tombstones(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredResource]:
        """The deleted resources among KEYS (Type, id), each as the version its delete was."""
        found = {}
        d = deleted_resources.c
        for chunk in (keys[i:i + 500] for i in range(0, len(keys), 500)):
            by_type: dict[str, list[str]] = {}
            for rtype, rid in chunk:
                by_type.setdefault(rtype, []).append(rid)
            where = sa.or_(*(sa.and_(d.resource_type == rtype, d.id.in_(ids)) for rtype, ids in by_type.items()))
            for row in self.conn.execute(sa.select(deleted_resources).where(where)):
                found[(row.resource_type, row.id)] = StoredResource(
                    row.resource_type, row.id, row.version_id, row.deleted_at, row.patient_id, row.custodian, text="")
        return found

    def forget_tombstones(self, keys: list[tuple[str, str]]) -> None:
        """Drop the tombstones of KEYS: their ids hold a resource again."""
        d = deleted_resources.c
        for rtype, rid in keys:
            self.conn.execute(deleted_resources.delete().where(d.resource_type == rtype, d.id == rid))

    def referring(self, resource_type: str, targets: list[str], custodian: str | None,
                  compartment: str | None) -> list[StoredResource]:
        """Return the RESOURCE_TYPE resources whose JSON names one of TARGETS ('Type/id') as a
        reference, of CUSTODIAN or in COMPARTMENT (the caller checks which element names it).
        Stored JSON is compact (StoredResource.serialized), so the text is exact."""
        if not targets or (custodian is None and compartment is None):
            return []
        r = resources.c
        where = [r.resource_type == resource_type,
                 sa.or_(*(r.content.contains(f'"reference":{json.dumps(t)}', autoescape=True) for t in targets))]
        if custodian is not None:
            where.append(r.custodian == custodian)
        if compartment is not None:
            where.append(r.patient_id == compartment)
        rows = self.conn.execute(sa.select(resources).where(*where).order_by(r.id).limit(1000))
        return [_stored(row) for row in rows]

    def history(self, resource_type: str, rid: str) -> list[StoredResource]:
        """Return every version of Type/id, newest first (the custodian comes from the current row)."""
        current = self.get(resource_type, rid) or self.tombstones([(resource_type, rid)]).get((resource_type, rid))
        if current is None:
            return []
        h = resource_history.c
        rows = self.conn.execute(sa.select(resource_history).where(
            h.resource_type == resource_type, h.id == rid).order_by(h.version_id.desc())).all()
        return [StoredResource(row.resource_type, row.id, row.version_id, row.last_updated,
                               current.patient_id, current.custodian, text=row.content) for row in rows]

    def for_patient(self, patient_id: str, resource_types: list[str] | None) -> list[StoredResource]:
        """Return the current resources of a patient's compartment (the Patient too), of these types."""
        r = resources.c
        where = [sa.or_(r.patient_id == patient_id, sa.and_(r.resource_type == "Patient", r.id == patient_id))]
        if resource_types:
            where.append(r.resource_type.in_(resource_types))
        rows = self.conn.execute(sa.select(resources).where(*where).order_by(r.resource_type, r.id)).all()
        return [_stored(row) for row in rows]

    def for_patient_containing(self, patient_id: str, resource_type: str, text: str) -> list[StoredResource]:
        """Return the patient's current RESOURCE_TYPE resources whose JSON contains TEXT (a code
        that marks a few of them among many, such as the statements of disagreement among a
        patient's clinical notes: the database skips the others without their being parsed)."""
        r = resources.c
        rows = self.conn.execute(sa.select(resources).where(
            r.patient_id == patient_id, r.resource_type == resource_type, r.content.contains(text, autoescape=True)))
        return [_stored(row) for row in rows]

    # claim checks (phr.records.fetch)

    def claim_check_for_request(self, request_id: str) -> ClaimCheck | None:
        row = self.conn.execute(sa.select(claim_checks).where(claim_checks.c.request_id == request_id)).first()
        return None if row is None else ClaimCheck(**row._mapping)

    def claim_check(self, ref: str) -> ClaimCheck | None:
        row = self.conn.execute(sa.select(claim_checks).where(claim_checks.c.ref == ref)).first()
        return None if row is None else ClaimCheck(**row._mapping)

    def add_claim_check(self, check: ClaimCheck) -> None:
        self.conn.execute(claim_checks.insert().values(**check.__dict__))

    def mark_downloaded(self, ref: str, now: datetime) -> None:
        """Note the first download of REF (a later one keeps the first time)."""
        self.conn.execute(claim_checks.update().where(claim_checks.c.ref == ref,
                                                      claim_checks.c.downloaded_at.is_(None))
                          .values(downloaded_at=now))

    def delete_claim_checks(self, expired_by: datetime, downloaded_before: datetime) -> int:
        """Delete the checks expired by EXPIRED_BY or downloaded before DOWNLOADED_BEFORE."""
        return self.conn.execute(claim_checks.delete().where(sa.or_(
            claim_checks.c.expires_at <= expired_by,
            claim_checks.c.downloaded_at < downloaded_before))).rowcount
