"""The consent database: for now the messaging tables (consents arrive with the consent issue)."""
import sqlalchemy as sa

from services.common.outbox import messaging_tables

metadata = sa.MetaData()
outbox, processed_events = messaging_tables(metadata)
