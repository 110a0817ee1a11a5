"""Search index (main date, coded values) and claim checks for phr.records.fetch.

Revision ID: 0002
Revises: 0001
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("resources", sa.Column("main_date", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_resources_custodian_type_patient", "resources", ["custodian", "resource_type", "patient_id"])
    op.create_index("ix_resources_type_main_date", "resources", ["resource_type", "main_date"])
    op.create_index("ix_resources_type_last_updated", "resources", ["resource_type", "last_updated"])
    tokens = op.create_table(
        "resource_tokens",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("param", sa.String(32), primary_key=True),
        sa.Column("system", sa.String(255), primary_key=True),
        sa.Column("code", sa.String(255), primary_key=True),
    )
    op.create_index("ix_resource_tokens_lookup", "resource_tokens", ["resource_type", "param", "code"])
    op.create_table(
        "claim_checks",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(100), nullable=False, unique=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("resource_count", sa.Integer, nullable=False),
        sa.Column("redacted_count", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    _backfill(tokens)


def _backfill(tokens: sa.Table) -> None:
    """Index the resources stored before this revision."""
    from services.records.domain.search import index_of

    conn = op.get_bind()
    res = sa.table("resources", sa.column("resource_type"), sa.column("id"), sa.column("content"),
                   sa.column("main_date", sa.DateTime(timezone=True)))
    rows = conn.execute(sa.select(res.c.resource_type, res.c.id, res.c.content)).fetchall()
    for row in rows:
        index = index_of(json.loads(row.content))
        if index.main_date is not None:
            conn.execute(res.update().where(res.c.resource_type == row.resource_type, res.c.id == row.id)
                         .values(main_date=index.main_date))
        if index.tokens:
            conn.execute(tokens.insert(), [dict(resource_type=row.resource_type, id=row.id, param=t.param,
                                                system=t.system[:255], code=t.code[:255]) for t in index.tokens])


def downgrade() -> None:
    op.drop_table("claim_checks")
    op.drop_index("ix_resource_tokens_lookup", "resource_tokens")
    op.drop_table("resource_tokens")
    op.drop_index("ix_resources_type_last_updated", "resources")
    op.drop_index("ix_resources_type_main_date", "resources")
    op.drop_index("ix_resources_custodian_type_patient", "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("main_date")
