"""How cost grows with the data a hospital keeps: each measure at a small and a big size,
reported as big ÷ small against its target.

On SQLite and on PostgreSQL (when it answers at PHR_BENCH_POSTGRES), each on a stack of its own
started for this section, so that the rows loaded here never reach the other sections. Rows are written straight into the services'
databases (a million resources through the API would take hours on two cores); what is
timed goes through the routes users call, over HTTP, except the outbox relay, which is timed
in this process against the stack's broker. `python -m bench --quick` skips this section;
PHR_BENCH_GROWTH_SCALE (default 1) scales every size for a trial run.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from bench import load
from bench.harness import Context, Row, department_token
from bench.sections.records_import import _templates, post_import
from bench.stack import Stack
from contracts.conformance.client import patient_login
from services.common import envelope, kafka
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, enqueue
from services.consent.adapters.tables import consents
from services.exchange.adapters.tables import ledger, ledger_head
from services.exchange.domain.ledger import GENESIS, canonical, entry_hash
from services.records import MIGRATIONS_DIR as RECORDS_MIGRATIONS
from services.records.adapters.repository import touch_compartments
from services.records.adapters.tables import outbox as records_outbox
from services.records.adapters.tables import resources
from services.records.domain.plain_language import page_place

SCALE = float(os.environ.get("PHR_BENCH_GROWTH_SCALE", "1"))
POSTGRES = os.environ.get("PHR_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECONDS = 4.0  # per HTTP measure: twelve of them per database
CLIENTS = 4
CHUNK = 5000  # rows per INSERT batch


def _n(size: int) -> int:
    return max(10, int(size * SCALE))


@dataclass
class Growth:
    """One measure at two sizes: a row each, and big ÷ small against TARGET (LOWER: at most;
    None: shown for contrast, no target)."""

    what: str
    small_label: str
    big_label: str
    small: load.Result
    big: load.Result
    target: float | None
    lower: bool = True
    by: Callable[[load.Result], float] = lambda r: r.percentile(0.5)

    @property
    def ratio(self) -> float:
        return self.by(self.big) / self.by(self.small)

    def note(self, db: str) -> str:
        if not (self.small.requests and self.big.requests):
            return (f"Growth ({db}) {self.what}, {self.small_label} → {self.big_label}: no request finished "
                    f"in {SECONDS:.0f} s at the {'small' if not self.small.requests else 'big'} size "
                    f"({'no target' if self.target is None else 'target NOT met'}).")
        head = f"Growth ({db}) {self.what}, {self.small_label} → {self.big_label}: **{self.ratio:.2f}**"
        if self.target is None:
            return head + " (no target: for contrast)."
        met = self.ratio <= self.target if self.lower else self.ratio >= self.target
        return f"{head} (target {'≤' if self.lower else '≥'} {self.target}: {'met' if met else 'NOT met'})."

    def rows(self, db: str) -> list[Row]:
        return [Row.of(f"growth ({db}): {self.what}, {self.small_label}", self.small),
                Row.of(f"growth ({db}): {self.what}, {self.big_label}", self.big)]


def _insert(engine, table: sa.Table, rows) -> int:
    """Insert ROWS (an iterable of dicts) in batches of CHUNK; return how many."""
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            with transaction(engine) as conn:
                conn.execute(table.insert(), batch)
            count, batch = count + len(batch), []
    if batch:
        with transaction(engine) as conn:
            conn.execute(table.insert(), batch)
        count += len(batch)
    return count


def _settle(engine, table: sa.Table) -> None:
    """On PostgreSQL, what autovacuum and the checkpointer do soon after a load: statistics for
    the planner, the visibility map, the WAL written out; so that what is timed next is the
    database in its steady state, not the aftermath of the load (SQLite needs none of it)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(sa.text(f"VACUUM ANALYZE {table.name}"))
        conn.execute(sa.text("CHECKPOINT"))


def _run(name: str, url: str, headers: dict, **kw) -> load.Result:
    return load.run(name, url, headers=headers, concurrency=CLIENTS, seconds=SECONDS, warmup=1.0, **kw)


# --- consent decisions: 1,000 vs 100,000 consents -------------------------------------------


def _consent_rows(count: int, now: datetime):
    for i in range(count):
        yield dict(id=str(uuid.uuid4()), patient=f"growth-{i % max(1, count // 2)}", grantee_kind="department",
                   grantee_id=("cardiology", "physiotherapy", "primary-care")[i % 3],
                   purposes='["TREAT"]', classes='["Observation"]', period_start=now, period_end=None,
                   status="active", version=1, notify=False, created_at=now, created_by_kind="patient",
                   created_by_id=f"growth-{i}", revoked_at=None, revoked_by_kind=None, revoked_by_id=None,
                   expired_at=None, language="en", text="I share my lab results.",
                   text_sha256=hashlib.sha256(b"x").hexdigest())


def consent_decisions(stack: Stack) -> Growth:
    engine = make_engine(stack.database_url("consent"))
    patient = stack.credentials()["patients"][0]["patient"]
    headers = {"Authorization": f"Bearer {department_token(stack, 'cardiology')}",
               "Content-Type": "application/json"}
    body = json.dumps({"patient": patient, "actor": "cardiology", "purpose": "TREAT",
                       "classes": ["Observation"]}).encode()
    url = f"{stack.url('consent')}/consent/v1/decisions"
    now = datetime.now(timezone.utc)
    small_n, big_n = _n(1_000), _n(100_000)
    try:
        _insert(engine, consents, _consent_rows(small_n, now))
        small = _run("growth-consent-small", url, headers, method="POST", body=body)
        _insert(engine, consents, ({**row, "patient": f"growth-big-{i}"} for i, row in
                                   enumerate(_consent_rows(big_n - small_n, now))))
        _settle(engine, consents)
        big = _run("growth-consent-big", url, headers, method="POST", body=body)
    finally:
        engine.dispose()
    return Growth("consent decision p50 (direct)", f"{small_n:,} consents", f"{big_n:,} consents",
                  small, big, 1.5)


# --- records: the patient page and FHIR search; import into a big database ------------------


def _observation(template: dict, rid: str, patient: str, when: datetime) -> dict:
    doc = {**template, "id": rid, "subject": {"reference": f"Patient/{patient}"},
           "effectiveDateTime": when.isoformat()}
    doc.pop("meta", None)
    return doc


def _resource_rows(count: int, template: dict, patient: Callable[[int], str], custodian: str,
                   start: datetime):
    """Rows as the repository writes them, with the columns it computes from the body (the
    search date, the place in the patient's list) computed by the same domain functions."""
    for i in range(count):
        rid, when = str(uuid.uuid4()), start - timedelta(minutes=i)
        doc = _observation(template, rid, patient(i), when)
        place = page_place(doc)
        yield dict(resource_type="Observation", id=rid, version_id=1, last_updated=when,
                   patient_id=patient(i), custodian=custodian, main_date=when,
                   page_date=place.date, page_category=place.category,
                   content=json.dumps(doc, separators=(",", ":")))


def _touch(engine, patient: str) -> None:
    """Count the rows written straight into PATIENT's compartment as a change, as the
    repository does for every write (the page's ETag stands on it)."""
    with transaction(engine) as conn:
        touch_compartments(conn, [patient])


def _template(engine, patient: str) -> tuple[dict, str]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(resources.c.content, resources.c.custodian).where(
            resources.c.resource_type == "Observation", resources.c.patient_id == patient).limit(1)).first()
    return json.loads(row.content), row.custodian


def records_growth(stack: Stack) -> list[Growth]:
    """The patient page (100 vs 10,000 resources), FHIR search (10k vs 1M) and import (empty vs 1M)."""
    engine = make_engine(stack.database_url("records"))
    creds = stack.credentials()
    who = next((p for p in creds["patients"] if p["language"].startswith("en")), creds["patients"][0])
    template, _ = _template(engine, who["patient"])
    patient_token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                                  who["username"], who["password"],
                                  scope="openid fhirUser offline_access patient/*.rs")["access_token"]
    page_url, page_headers = f"{stack.gateway}/patient/v1/records", {"Authorization": f"Bearer {patient_token}"}
    department = "primary-care"  # the demo data's custodian: it searches its own records
    search_url = f"{stack.gateway}/fhir/Observation?_count=50"
    search_headers = {"Authorization": f"Bearer {department_token(stack, department)}"}
    import_token, templates = department_token(stack, "primary-care"), _templates()
    page_small_n, page_big_n = _n(100), _n(10_000)
    search_small_n, search_big_n = _n(10_000), _n(1_000_000)
    start = datetime.now(timezone.utc) - timedelta(days=1)
    try:
        # The demo patient holds some resources already: top them up to the small size.
        with engine.connect() as conn:
            held = conn.execute(sa.select(sa.func.count()).select_from(resources).where(
                resources.c.patient_id == who["patient"])).scalar()
        _insert(engine, resources, _resource_rows(max(0, page_small_n - held), template,
                                                  lambda i: who["patient"], department, start))
        _touch(engine, who["patient"])
        _insert(engine, resources, _resource_rows(search_small_n, template, lambda i: f"growth-{i % 5000}",
                                                  department, start))
        print("bench: growth, small sizes ...", flush=True)
        page_small = _run("growth-page-small", page_url, page_headers)
        search_small = _run("growth-search-small", search_url, search_headers)
        import_small = post_import(stack.gateway, import_token, templates, SECONDS, CLIENTS)
        print(f"bench: growth, loading {search_big_n:,} resources ...", flush=True)
        _insert(engine, resources, _resource_rows(page_big_n - max(held, page_small_n), template,
                                                  lambda i: who["patient"], department, start))
        _touch(engine, who["patient"])
        _insert(engine, resources, _resource_rows(search_big_n - search_small_n - page_big_n, template,
                                                  lambda i: f"growth-big-{i % 50000}", department, start))
        _settle(engine, resources)
        print("bench: growth, big sizes ...", flush=True)
        page_big = _run("growth-page-big", page_url, page_headers)
        search_big = _run("growth-search-big", search_url, search_headers)
        import_big = post_import(stack.gateway, import_token, templates, SECONDS, CLIENTS)
    finally:
        engine.dispose()
    return [Growth("patient page p50 (20 items, through the gateway)", f"{page_small_n:,} resources",
                   f"{page_big_n:,} resources", page_small, page_big, 1.5),
            Growth("FHIR search _count=50 p50 (through the gateway)", f"{search_small_n:,} resources",
                   f"{search_big_n:,} resources", search_small, search_big, 1.5),
            Growth("import rate (resources/s)", "demo data only", f"{search_big_n:,} more resources",
                   import_small, import_big, 0.8, lower=False, by=lambda r: r.rps)]


# --- the ledger: verifying 100 new entries after 10,000 vs 100,000 -------------------------


def _extend_ledger(engine, count: int) -> tuple[int, str]:
    """Append COUNT entries to the chain (and move its head); return the new head."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(ledger_head.c.seq, ledger_head.c.hash)).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    rows = []
    for _ in range(count):
        seq += 1
        entry = {"seq": seq, "request_id": str(uuid.uuid4()), "patient": f"growth-{seq % 5000}",
                 "recipient": "cardiology", "purpose": "TREAT", "basis": "consent"}
        digest = entry_hash(entry, prev)
        rows.append(dict(seq=seq, request_id=entry["request_id"], patient=entry["patient"],
                         entry=canonical(entry), prev_hash=prev, hash=digest))
        prev = digest
    _insert(engine, ledger, rows)
    with transaction(engine) as conn:
        if head:
            conn.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=prev))
        else:
            conn.execute(ledger_head.insert().values(id=1, seq=seq, hash=prev))
    return seq, prev


def ledger_growth(stack: Stack) -> list[Growth]:
    engine = make_engine(stack.database_url("exchange"))
    url = f"{stack.gateway}/exchange/v1/ledger/verify"
    headers = {"Authorization": f"Bearer {department_token(stack, 'cardiology')}"}
    small_n, big_n, new = _n(10_000), _n(100_000), 100
    try:
        seq, digest = _extend_ledger(engine, small_n)
        _extend_ledger(engine, new)
        since_small = _run("growth-ledger-small", f"{url}?after={seq}&hash={digest}", headers)
        full_small = _run("growth-ledger-full-small", url, headers)
        seq, digest = _extend_ledger(engine, big_n - small_n - new)
        _extend_ledger(engine, new)
        _settle(engine, ledger)
        since_big = _run("growth-ledger-big", f"{url}?after={seq}&hash={digest}", headers)
        full_big = _run("growth-ledger-full-big", url, headers)
    finally:
        engine.dispose()
    return [Growth(f"ledger verification of the {new} newest entries after a checkpoint, p50",
                   f"{small_n:,} entries", f"{big_n:,} entries", since_small, since_big, 1.5),
            Growth("full ledger verification p50 (for contrast: it grows with the ledger)",
                   f"{small_n:,} entries", f"{big_n:,} entries", full_small, full_big, None)]


# --- the outbox relay: an empty outbox vs a week of published events ------------------------


def _relay_latency(url: str, bootstrap: str, label: str, count: int = 150) -> load.Result:
    """Enqueue one event and relay it to the broker, acknowledged, COUNT times in a row."""
    engine = make_engine(url)
    relay = OutboxRelay(engine, records_outbox, KafkaPublisher(kafka.producer(bootstrap, client_id="bench")),
                        retention=None)
    latencies, started = [], time.perf_counter()
    try:
        for i in range(count):
            t0 = time.perf_counter()
            with transaction(engine) as conn:
                enqueue(conn, records_outbox, "phr.records.v1", envelope.new_event(
                    "phr.records.imported", "/services/records", f"growth-{i}", {"patient": f"growth-{i}"}))
            sent = relay.run_once()
            assert sent == 1, sent
            latencies.append(time.perf_counter() - t0)
    finally:
        engine.dispose()
    return load.Result(label, len(latencies), 0, time.perf_counter() - started, latencies)


def _published_week(count: int, now: datetime):
    step = timedelta(days=7) / count
    for i in range(count):
        when = now - timedelta(days=7) + i * step
        yield dict(event_id=str(uuid.uuid4()), topic="phr.records.v1", key=f"growth-{i % 5000}",
                   payload='{"type":"phr.records.imported"}', traceparent=None, created_at=when, sent_at=when)


def relay_growth(url: str, bootstrap: str) -> Growth:
    migrate(url, RECORDS_MIGRATIONS)
    small = _relay_latency(url, bootstrap, "growth-relay-small")
    big_n = _n(600_000)  # a week at one event a second
    engine = make_engine(url)
    try:
        _insert(engine, records_outbox, _published_week(big_n, datetime.now(timezone.utc)))
        _settle(engine, records_outbox)
    finally:
        engine.dispose()
    big = _relay_latency(url, bootstrap, "growth-relay-big")
    return Growth("outbox relay, enqueue to acknowledged, p50 (one relay, in process)", "an empty outbox",
                  f"{big_n:,} events published over a week", small, big, 1.5)


# --- running it on both databases ------------------------------------------------------------


def _measures(stack: Stack, relay_url: str) -> list[Growth]:
    out = [consent_decisions(stack)]
    out += records_growth(stack)
    out += ledger_growth(stack)
    out.append(relay_growth(relay_url, stack.bootstrap))
    return out


def _postgres_databases(count: int) -> list[str] | None:
    """Create COUNT fresh databases on PHR_BENCH_POSTGRES; None when PostgreSQL does not answer."""
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        names = [f"phr_bench_{uuid.uuid4().hex[:10]}" for _ in range(count)]
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        print(f"bench: growth on PostgreSQL skipped, no server at {POSTGRES}: {exc}", flush=True)
        return None
    finally:
        admin.dispose()
    base = sa.engine.make_url(POSTGRES)
    return [base.set(database=name).render_as_string(hide_password=False) for name in names]


def _drop(urls: list[str]) -> None:
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for url in urls:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _on(stack: Stack, db: str, relay_url: str, ctx: Context) -> list[Row]:
    rows: list[Row] = []
    print(f"bench: growth on {db} (a stack of its own) ...", flush=True)
    try:
        stack.start()
        for g in _measures(stack, relay_url):
            rows += g.rows(db)
            ctx.notes.append(g.note(db))
    finally:
        stack.stop()
    return rows


def run(ctx: Context) -> list[Row]:
    if ctx.quick:
        ctx.notes.append("Growth section skipped (--quick).")
        return []
    base, env = Path(ctx.stack.var_dir), ctx.stack.extra_env
    rows = _on(Stack(base / "growth-sqlite", extra_env=env), "SQLite",
               f"sqlite:///{base / 'growth-relay.db'}", ctx)
    urls = _postgres_databases(5)
    if urls is None:
        ctx.notes.append(f"Growth on PostgreSQL not measured: no server answered at {POSTGRES}.")
        return rows
    services = ("gateway", "consent", "records", "exchange")
    stack = Stack(base / "growth-postgres",
                  extra_env={**env, **{f"{s.upper()}_DATABASE_URL": u for s, u in zip(services, urls)}})
    try:
        rows += _on(stack, "PostgreSQL", urls[4], ctx)
    finally:
        _drop(urls)
    return rows
