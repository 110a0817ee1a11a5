"""The consent database: consents, break-the-glass grants, and the messaging tables."""
import sqlalchemy as sa

from services.common.directory import directory_table
from services.common.outbox import messaging_tables

metadata = sa.MetaData()
outbox, processed_events = messaging_tables(metadata)
departments = directory_table(metadata)


def break_glass_claimant_columns() -> list[sa.Column]:
    """Columns added in migration 0007: the clinician who claimed, when a person did (a staff
    token's sub and fhirUser); NULL for a claim by the department's own client."""
    return [sa.Column("claimed_by", sa.String(64), nullable=True),
            sa.Column("claimed_by_user", sa.String(100), nullable=True)]


def break_glass_claimant_key_columns() -> list[sa.Column]:
    """Column added in migration 0008: who holds an open claim, '' for the department's own
    client. Each person's claim is their own (recorded, told and reviewed), so the one-open-claim
    rule is per patient, department and claimant."""
    return [sa.Column("claimant", sa.String(64), nullable=False, server_default="")]


def consent_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(200), nullable=False),
        sa.Column("grantee_kind", sa.String(20), nullable=False),
        sa.Column("grantee_id", sa.String(200), nullable=False),
        sa.Column("purposes", sa.Text, nullable=False),  # JSON list of codes
        sa.Column("classes", sa.Text, nullable=False),  # JSON list of codes
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("notify", sa.Boolean, nullable=False, default=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_kind", sa.String(20), nullable=False),
        sa.Column("created_by_id", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_kind", sa.String(20), nullable=True),
        sa.Column("revoked_by_id", sa.String(200), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
    ]


def break_glass_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(200), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    ]


def break_glass_claim_columns() -> list[sa.Column]:
    """Columns added in migration 0003: what a claim names, and the marker of an open claim."""
    return [
        # JSON list of {label, reason}: the sensitive labels the claim releases, each with its reason.
        sa.Column("sensitive", sa.Text, nullable=False, server_default="[]"),
        # True while the claim may be in force, NULL once a later claim found it ended: with
        # the unique constraint below, two claims at once for the same patient and department
        # store only one (NULLs never collide, on SQLite and PostgreSQL alike).
        sa.Column("open_claim", sa.Boolean, nullable=True),
    ]


OPEN_CLAIM = "uq_break_glass_open_claim"  # (patient, department, open_claim) until 0008
OPEN_CLAIM_BY = "uq_break_glass_open_claim_by"
OPEN_CLAIM_KEY = ("patient", "department", "claimant", "open_claim")

consents = sa.Table("consents", metadata, *consent_columns(),
                    sa.Index("ix_consents_patient_grantee", "patient", "grantee_id"),
                    # Partial (migration 0009): only the expiry sweep's query may use it.
                    sa.Index("ix_consents_status_end", "status", "period_end",
                             sqlite_where=sa.text("period_end IS NOT NULL"),
                             postgresql_where=sa.text("period_end IS NOT NULL")))
break_glass = sa.Table("break_glass", metadata, *break_glass_columns(), *break_glass_claim_columns(),
                       *break_glass_claimant_columns(), *break_glass_claimant_key_columns(),
                       sa.Index("ix_break_glass_patient_dept", "patient", "department"),
                       sa.UniqueConstraint(*OPEN_CLAIM_KEY, name=OPEN_CLAIM_BY))



SHARING_OPEN = "uq_sharing_requests_open"


def sharing_request_columns() -> list[sa.Column]:
    """A department's request that a patient share records with it (services/consent/domain/sharing.py),
    with who asked and who answered (migration 0006)."""
    return [
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("requested_by_sub", sa.String(200), nullable=False),
        sa.Column("requested_by_fhir_user", sa.String(200), nullable=True),
        sa.Column("requested_by_role", sa.String(40), nullable=True),
        sa.Column("classes", sa.Text, nullable=False),  # JSON list of codes
        sa.Column("purposes", sa.Text, nullable=False),  # JSON list of one code
        sa.Column("period_days", sa.Integer, nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("exchange_request", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        # The request's kinds of record and purpose while it waits, NULL once answered or found
        # expired: with the unique constraint below, two equal requests sent at once store only
        # one (NULLs never collide, on SQLite and PostgreSQL alike).
        sa.Column("open_key", sa.String(40), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_kind", sa.String(20), nullable=True),
        sa.Column("answered_by_id", sa.String(200), nullable=True),
        sa.Column("consent_id", sa.String(64), nullable=True),
    ]


sharing_requests = sa.Table("sharing_requests", metadata, *sharing_request_columns(),
                            sa.Index("ix_sharing_requests_patient", "patient", "created_at"),
                            sa.Index("ix_sharing_requests_department", "department", "created_at"),
                            sa.UniqueConstraint("department", "patient", "open_key", name=SHARING_OPEN))
