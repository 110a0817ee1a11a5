"""The records database: current resources, their history, and the messaging tables."""
import sqlalchemy as sa

from services.common.outbox import messaging_tables

metadata = sa.MetaData()

resources = sa.Table(
    "resources", metadata,
    sa.Column("resource_type", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=True, index=True),
    sa.Column("custodian", sa.String(100), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)

resource_history = sa.Table(
    "resource_history", metadata,
    sa.Column("resource_type", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.Integer, primary_key=True),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)

outbox, processed_events = messaging_tables(metadata)
