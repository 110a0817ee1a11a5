"""The exchange database: the patient index, exchange requests, the disclosure ledger,
notifications, and the messaging tables."""
import sqlalchemy as sa

from services.common.directory import directory_table
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


def _request_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("resource_types", sa.Text, nullable=False),  # JSON list
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("step", sa.String(16), nullable=False),  # decide | fetch | release | done
        sa.Column("outcome", sa.String(32), nullable=True),  # a reason code (wording.OUTCOMES)
        sa.Column("consent_id", sa.String(64), nullable=True),
        sa.Column("consent_version", sa.Integer, nullable=True),
        sa.Column("basis", sa.String(16), nullable=True),  # consent | break-glass
        sa.Column("break_glass_id", sa.String(64), nullable=True),
        sa.Column("redact_labels", sa.Text, nullable=False),  # JSON list
        sa.Column("obligations", sa.Text, nullable=False),  # JSON list
        sa.Column("bundle_ref", sa.String(100), nullable=True),
        sa.Column("resource_count", sa.Integer, nullable=True),
        sa.Column("redacted_count", sa.Integer, nullable=True),
        sa.Column("ledger_seq", sa.Integer, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _ledger_columns() -> list[sa.Column]:
    return [
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.String(36), nullable=False, unique=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("entry", sa.Text, nullable=False),  # canonical JSON of the entry
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    ]


def _head_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    ]


def _notification_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),  # JSON: what the sentence needs
        sa.Column("source_id", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    ]


# Migration 0002 created the table from _request_columns(); what later migrations added is
# written here, beside it: the member of staff who asked (sub, fhirUser; empty for a department's
# own system), and the index of a department's inbox (0006).
def _review_columns() -> list[sa.Column]:
    return [
        sa.Column("claim_id", sa.String(64), primary_key=True),  # the claim's grant_id
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("department", sa.String(100), nullable=False),  # the claiming department
        sa.Column("claimed_by", sa.String(64), nullable=True),  # the person, when the event names one
        sa.Column("claimed_by_user", sa.String(100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("sensitive", sa.Text, nullable=False),  # JSON list of {label, reason}
        sa.Column("priority", sa.Boolean, nullable=False),  # it named a sensitive class
        sa.Column("outcome", sa.String(16), nullable=True),  # justified | not-justified
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("reviewer_user", sa.String(100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    ]


exchange_requests = sa.Table("exchange_requests", metadata, *_request_columns(),
                             sa.Column("requested_by", sa.String(64), nullable=True),
                             sa.Column("requested_by_user", sa.String(100), nullable=True),
                             # the asking request's W3C traceparent, continued by retries (0015)
                             sa.Column("traceparent", sa.String(64), nullable=True),
                             sa.Index("ix_exchange_requests_requester_created", "requester", "created_at"))
ledger = sa.Table("ledger", metadata, *_ledger_columns())
ledger_head = sa.Table("ledger_head", metadata, *_head_columns())
notifications = sa.Table("notifications", metadata, *_notification_columns())
break_glass_reviews = sa.Table("break_glass_reviews", metadata, *_review_columns(),
                               sa.Index("ix_break_glass_reviews_queue", "priority", "claimed_at"))

outbox, processed_events = messaging_tables(metadata)
departments = directory_table(metadata)

# The equity report's projection, fed by events only (service_layer/equity.py):
# who the patients are, whether they opened an account, who has a caregiver, and how each
# exchange request ended and when.
equity_patients = sa.Table(
    "equity_patients", metadata,
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("language", sa.String(35), nullable=True),  # BCP 47
    sa.Column("birth_date", sa.String(10), nullable=True),
    sa.Column("sex", sa.String(16), nullable=True),
    sa.Column("interpreter_needed", sa.Boolean, nullable=True),
    sa.Column("code_issued_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

equity_proxies = sa.Table(
    "equity_proxies", metadata,
    sa.Column("grant_id", sa.String(64), primary_key=True),
    sa.Column("patient", sa.String(64), nullable=False, index=True),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
)

equity_exchanges = sa.Table(
    "equity_exchanges", metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("patient", sa.String(64), nullable=False, index=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True, index=True),
    sa.Column("outcome", sa.String(16), nullable=True),  # fulfilled | denied | failed
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)


# Reports (migration 0008, domain/reports.py). An anonymous staff report keeps no person at all:
# patient, acting, staff, staff_user and staff_department stay empty, and department is set only
# when the reporter's department had ANONYMOUS_MIN_STAFF staff or more at that moment.
def _report_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("about", sa.Text, nullable=False),  # JSON: what the report points at
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reporter_kind", sa.String(16), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("department", sa.String(100), nullable=True),  # whose quality staff triage it
        sa.Column("patient", sa.String(64), nullable=True, index=True),
        sa.Column("acting", sa.String(64), nullable=True),
        sa.Column("staff", sa.String(64), nullable=True, index=True),
        sa.Column("staff_user", sa.String(100), nullable=True),
        sa.Column("staff_department", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("assignee_user", sa.String(100), nullable=True),
        sa.Column("links", sa.Text, nullable=False),  # JSON object
        # the links' correction request (Task/<id>), searched when its answer comes to close the report
        sa.Column("correction_request", sa.String(72), nullable=True, index=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    ]


reports = sa.Table("reports", metadata, *_report_columns(),
                   sa.Index("ix_reports_queue", "department", "received_at"))

# How many staff each department has now (phr.accounts.staff-activated / -disabled), so that an
# anonymous report keeps its department only in a department of 5 or more, and each one's roles
# (migration 0009; -activated and -roles-changed), so that a report is assigned only to an active
# quality member of its department. It is never joined with the reports: it says how many and
# who may be assigned, not who reported.
staff_members = sa.Table(
    "staff_members", metadata,
    sa.Column("staff_id", sa.String(36), primary_key=True),
    sa.Column("department", sa.String(100), nullable=False, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("roles", sa.Text, nullable=False, server_default="[]"),  # JSON list
)

# Correction requests (phr.records.amendment-requested): whose they are, so a report is linked
# only to a request of the same patient's custodian.
correction_requests = sa.Table(
    "correction_requests", metadata,
    sa.Column("task", sa.String(72), primary_key=True),  # Task/<id>
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("custodian", sa.String(100), nullable=False),
)

# Revocation receipts (migration 0011, service_layer/receipts.py): a notice per department that
# received records under a consent that ended, its webhook delivery with one row per try, and
# the webhook URL of each department (from its directory entry).
department_notices = sa.Table(
    "department_notices", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # consent-revoked | consent-expired
    sa.Column("consent_id", sa.String(64), nullable=False),
    sa.Column("consent_version", sa.Integer, nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("releases", sa.Text, nullable=False),  # JSON list of the releases it covered
    sa.Column("source_id", sa.String(160), nullable=False, unique=True),  # event id + department
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_department_notices_inbox", "department", "created_at"),
    sa.Index("ix_department_notices_consent", "consent_id"),  # the name migration 0011 gives it
)
webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("notice_id", sa.String(36), nullable=False, unique=True),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JWS, signed once: every try sends the same bytes
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)
webhook_attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("delivery_id", sa.String(36), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),  # the receiver's answer, None when none came
    sa.Column("error", sa.String(200), nullable=True),
)
department_webhooks = sa.Table(
    "department_webhooks", metadata,
    sa.Column("department", sa.String(40), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
)

# Consent-filtered subscriptions (migration 0012, domain/subscriptions.py): a department's FHIR R4
# Subscription to one patient's records of one type, and each notification it is owed. A delivery
# is made when records announce an import (phr.records.imported) and sent by the worker's
# delivery thread (service_layer/subscriptions.py) only on a fresh consent decision.
subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("department", sa.String(100), nullable=False, index=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("payload", sa.String(40), nullable=True),  # None: empty notifications
    sa.Column("headers", sa.Text, nullable=False),  # JSON list of "Name: value", sent, never shown
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("end_at", sa.String(40), nullable=True),  # FHIR instant, as given
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | off
    sa.Column("events_since_start", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_subscriptions_patient", "patient", "resource_type", "status"),
    # One live subscription per department, patient, type and endpoint (migration 0014): a
    # second would only send the same notifications again.
    sa.Index("uq_subscriptions_live", "department", "patient", "resource_type", "endpoint", unique=True,
             sqlite_where=sa.text("status != 'off'"), postgresql_where=sa.text("status != 'off'")),
)

subscription_deliveries = sa.Table(
    "subscription_deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("subscription_id", sa.String(36), nullable=False, index=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("resources", sa.Text, nullable=False),  # JSON list of {type, id, labels}
    # pending | sending | sent | failed | withheld (a decision said no, or nothing left to tell)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # claims, whatever came of them
    # Counted apart (migration 0014): the endpoint failed (max_attempts), a permit came too
    # slowly to act on (max_late); a consent outage counts in neither.
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("late_permits", sa.Integer, nullable=False, server_default="0"),
    # The event number its notification carries, given when first sent under a permit.
    sa.Column("event_number", sa.Integer, nullable=True),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("ledger_seq", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("subscription_id", "event_id", name="uq_subscription_deliveries_event"),
)

# Notices outside the app (migration 0013, domain/notices.py): each person's addresses (proved by a
# code before use), their choice per topic, and one delivery per notice, person and channel with a
# row per attempt. A person is the patient or a caregiver acting for them (the token's act.sub).
notice_contacts = sa.Table(
    "notice_contacts", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),  # email | sms
    sa.Column("address", sa.String(254), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),  # what the messages are written in
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("code_tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("patient", "person", "channel", name="uq_notice_contacts_person_channel"),
)
notice_choices = sa.Table(
    "notice_choices", metadata,
    sa.Column("patient", sa.String(64), primary_key=True),
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(8), nullable=False),  # in-app | email | sms
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
notice_deliveries = sa.Table(
    "notice_deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("notification_id", sa.String(36), nullable=False, index=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("contact_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("notification_id", "person", "channel", name="uq_notice_deliveries_once"),
)
notice_attempts = sa.Table(
    "notice_delivery_attempts", metadata,
    sa.Column("delivery_id", sa.String(36), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered | failed
    sa.Column("detail", sa.String(300), nullable=True),  # the server's answer; never the message
)

