"""Where each resource's item sits in the patient's list of records (its date and category),
stored beside the row so that GET /patient/v1/records pages in the database, by an index; and
a count of each compartment's changes, which the page's ETag stands on.

Revision ID: 0007
Revises: 0006
"""
import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000
INDEX = "ix_resources_patient_page"


def upgrade() -> None:
    op.add_column("resources", sa.Column("page_date", sa.String(19), nullable=False, server_default=""))
    op.add_column("resources", sa.Column("page_category", sa.String(32), nullable=True))
    op.create_table(
        "compartment_stamps",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("epoch", sa.String(32), nullable=False),
        sa.Column("changes", sa.BigInteger, nullable=False),
    )
    _backfill()
    # Made after the backfill, so its updates do not maintain the index row by row.
    if op.get_bind().dialect.name == "postgresql":
        # The page orders by code point, as Python compares strings; the database's own
        # collation (en_US.UTF-8, say) may not, so the index holds the order the query asks for.
        op.execute(f'CREATE INDEX {INDEX} ON resources (patient_id, page_date COLLATE "C", '
                   'resource_type COLLATE "C", id COLLATE "C")')
    else:
        op.create_index(INDEX, "resources", ["patient_id", "page_date", "resource_type", "id"])


def _backfill() -> None:
    """Place the resources stored before this revision, a batch of rows at a time, in key order,
    and give every patient who has any a stamp with an epoch of its own.

    The values come from the live domain function, not a copy written out here: the columns
    must equal what the page shows (plain_language.to_item), and a frozen copy would drift
    from it. The tables themselves are written out, as in every migration of this service.
    Stamps are made here rather than on each patient's next write so that an ETag served
    before a downgrade and upgrade cannot name different records after it.
    """
    from services.records.domain.plain_language import VISIBLE_TYPES, page_place

    conn = op.get_bind()
    res = sa.table("resources", sa.column("resource_type"), sa.column("id"), sa.column("content"),
                   sa.column("patient_id"), sa.column("page_date"), sa.column("page_category"))
    stamps = sa.table("compartment_stamps", sa.column("patient_id"), sa.column("epoch"), sa.column("changes"))
    key, after, patients = sa.tuple_(res.c.resource_type, res.c.id), None, set()
    while True:
        # A row-value comparison, which both databases walk the primary key's index by.
        query = sa.select(res.c.resource_type, res.c.id, res.c.content, res.c.patient_id).where(
            res.c.resource_type.in_(VISIBLE_TYPES))
        if after is not None:
            query = query.where(key > sa.tuple_(*(sa.literal(v, sa.String) for v in after)))
        rows = conn.execute(query.order_by(res.c.resource_type, res.c.id).limit(BATCH)).all()
        if not rows:
            break
        b = sa.bindparam
        updates = []
        for row in rows:
            place = page_place(json.loads(row.content)) if row.content else None
            if place is not None and (place.date or place.category):
                updates.append(dict(k_type=row.resource_type, k_id=row.id, date=place.date,
                                    category=place.category))
            if row.patient_id:
                patients.add(row.patient_id)
        if updates:
            conn.execute(res.update().where(res.c.resource_type == b("k_type"), res.c.id == b("k_id"))
                         .values(page_date=b("date"), page_category=b("category")), updates)
        after = (rows[-1].resource_type, rows[-1].id)
    ordered = sorted(patients)
    for start in range(0, len(ordered), BATCH):
        conn.execute(stamps.insert(), [dict(patient_id=p, epoch=uuid.uuid4().hex, changes=0)
                                       for p in ordered[start:start + BATCH]])


def downgrade() -> None:
    op.drop_table("compartment_stamps")
    op.drop_index(INDEX, "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("page_category")
        batch.drop_column("page_date")
