"""The exchange database: the patient index fed by records events, and the messaging tables."""
import sqlalchemy as sa

from services.common.outbox import messaging_tables

metadata = sa.MetaData()

patient_index = sa.Table(
    "patient_index", metadata,
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("custodian", sa.String(100), nullable=False),
    sa.Column("resource_count", sa.Integer, nullable=False),
    sa.Column("resource_types", sa.Text, nullable=False),
    sa.Column("last_event_id", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

outbox, processed_events = messaging_tables(metadata)
