"""Where each resource's item sits in the patient's list of records (its date and category),
stored beside the row so that GET /patient/v1/records pages in the database, by an index; and
a count of each compartment's changes, which the page's ETag stands on.

Revision ID: 0007
Revises: 0006
"""
import json

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
    if op.get_bind().dialect.name == "postgresql":
        # The page orders by code point, as Python compares strings; the database's own
        # collation (en_US.UTF-8, say) may not, so the index holds the order the query asks for.
        op.execute(f'CREATE INDEX {INDEX} ON resources (patient_id, page_date COLLATE "C", '
                   'resource_type COLLATE "C", id COLLATE "C")')
    else:
        op.create_index(INDEX, "resources", ["patient_id", "page_date", "resource_type", "id"])
    # Nothing to backfill: a patient without a row has the stamp ("", 0) until the next write
    # makes the row with a fresh epoch, so no earlier ETag can come back.
    op.create_table(
        "compartment_stamps",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("epoch", sa.String(32), nullable=False),
        sa.Column("changes", sa.BigInteger, nullable=False),
    )
    _backfill()


def _backfill() -> None:
    """Place the resources stored before this revision, a batch of rows at a time, in key order.

    The values come from the live domain function, not a copy written out here: the columns
    must equal what the page shows (plain_language.to_item), and a frozen copy would drift
    from it. The table itself is written out, as in every migration of this service.
    """
    from services.records.domain.plain_language import page_place

    conn = op.get_bind()
    res = sa.table("resources", sa.column("resource_type"), sa.column("id"), sa.column("content"),
                   sa.column("page_date"), sa.column("page_category"))
    after = None
    while True:
        query = sa.select(res.c.resource_type, res.c.id, res.c.content)
        if after is not None:
            query = query.where(sa.or_(res.c.resource_type > after[0],
                                       sa.and_(res.c.resource_type == after[0], res.c.id > after[1])))
        rows = conn.execute(query.order_by(res.c.resource_type, res.c.id).limit(BATCH)).all()
        if not rows:
            return
        b = sa.bindparam
        updates = []
        for row in rows:
            place = page_place(json.loads(row.content)) if row.content else None
            if place is not None and (place.date or place.category):
                updates.append(dict(k_type=row.resource_type, k_id=row.id, date=place.date,
                                    category=place.category))
        if updates:
            conn.execute(res.update().where(res.c.resource_type == b("k_type"), res.c.id == b("k_id"))
                         .values(page_date=b("date"), page_category=b("category")), updates)
        after = (rows[-1].resource_type, rows[-1].id)


def downgrade() -> None:
    op.drop_table("compartment_stamps")
    op.drop_index(INDEX, "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("page_category")
        batch.drop_column("page_date")
