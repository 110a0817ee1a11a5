"""The records database: current resources, their history, search index, claim checks, messaging."""
import sqlalchemy as sa

from services.common.directory import directory_table
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
    sa.Column("main_date", sa.DateTime(timezone=True), nullable=True),  # search `date` (0002)
    # Where the row's item sits in the patient's list of records (plain_language.page_place,
    # 0007): page_category is NULL when patients do not see the resource as an item.
    sa.Column("page_date", sa.String(19), nullable=False, server_default=""),
    sa.Column("page_category", sa.String(32), nullable=True),
    sa.Index("ix_resources_custodian_type_patient", "custodian", "resource_type", "patient_id"),
    sa.Index("ix_resources_type_main_date", "resource_type", "main_date"),
    sa.Index("ix_resources_type_last_updated", "resource_type", "last_updated"),
    # On PostgreSQL its text columns are collated "C" (0007), as the page orders them.
    sa.Index("ix_resources_patient_page", "patient_id", "page_date", "resource_type", "id"),
)

#: What the patient's list of records stands on (its ETag, patient_queries.stamp): CHANGES
#: grows with every write of a listed type in the compartment (repository.touch_compartments);
#: EPOCH is drawn when the row is made, so a count that ever began again cannot repeat an ETag.
compartment_stamps = sa.Table(
    "compartment_stamps", metadata,
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.String(32), nullable=False),
    sa.Column("changes", sa.BigInteger, nullable=False),
)

resource_history = sa.Table(
    "resource_history", metadata,
    sa.Column("resource_type", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.Integer, primary_key=True),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)

#: Resources their custodian deleted (FHIR delete): the version the delete was, so a read is
#: 410 Gone rather than 404 and a later create of the same id continues the history (0006).
deleted_resources = sa.Table(
    "deleted_resources", metadata,
    sa.Column("resource_type", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=True),
    sa.Column("custodian", sa.String(100), nullable=False),
)

#: Coded values of the current version of each resource: search `code`, `category`, `identifier`.
resource_tokens = sa.Table(
    "resource_tokens", metadata,
    sa.Column("resource_type", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("param", sa.String(32), primary_key=True),
    sa.Column("system", sa.String(255), primary_key=True),
    sa.Column("code", sa.String(255), primary_key=True),
    sa.Index("ix_resource_tokens_lookup", "resource_type", "param", "code"),
)

#: Bundles prepared for phr.records.fetch requests, fetched once by reference (claim-check).
#: Deleted once expired, or a grace after the first download (handlers.prune_claim_checks).
claim_checks = sa.Table(
    "claim_checks", metadata,
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(100), nullable=False, unique=True),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("requester", sa.String(100), nullable=False),
    sa.Column("resource_count", sa.Integer, nullable=False),
    sa.Column("redacted_count", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=True, index=True),
)

outbox, processed_events = messaging_tables(metadata)
departments = directory_table(metadata)
