"""The gateway's tables (SQLAlchemy Core); times are integer Unix seconds."""
from __future__ import annotations

import sqlalchemy as sa

from services.common.outbox import messaging_tables

metadata = sa.MetaData()

clients = sa.Table(
    "clients", metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "department" | "portal"
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(128)),  # SHA-256 of a 256-bit random secret
    sa.Column("jwks", sa.Text),  # RFC 7517 JWK Set for private_key_jwt
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("redirect_uris", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.Integer, nullable=False),
    # A disabled department's client: refused at the token endpoint (gateway/directory/store.py)
    sa.Column("disabled_at", sa.Integer),
    # a patient's app (kind "app", gateway/authz/registration.py): the address that registered it
    sa.Column("registered_from", sa.String(64)),
)

# The apps each patient approved (gateway/authz/apps.py): the scope they approved and when the app
# last got a token (code or refresh), for the portal's Connected apps page. Disconnecting deletes
# the row and revokes the app's tokens for that patient.
app_approvals = sa.Table(
    "app_approvals", metadata,
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("approved_at", sa.Integer, nullable=False),
    sa.Column("last_used_at", sa.Integer),
)

# The directory of departments (gateway/directory/store.py): each department's whole entry, as
# its phr.directory.v1 events carry it; its OAuth client has the same id. The services keep
# copies with the same columns (services/common/directory.py), less the reason.
departments = sa.Table(
    "departments", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("names", sa.Text, nullable=False),  # JSON {language: name}
    sa.Column("kind", sa.String(16), nullable=False),  # contracts.vocabulary.DEPARTMENT_KINDS
    sa.Column("may_claim_emergencies", sa.Boolean, nullable=False),
    sa.Column("may_write_records", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # "active" | "disabled"
    sa.Column("version", sa.Integer, nullable=False),  # grows with every change
    sa.Column("changed_at", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),  # why it was disabled, as the administrator wrote it
    sa.Column("webhook_url", sa.Text),  # where it takes signed notices (revocation receipts), if anywhere
)

auth_codes = sa.Table(
    "auth_codes", metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
    # a portal account's code names account_id, a member of staff's staff_id (migration 0010)
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("code_challenge_method", sa.String(8), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("grant_id", sa.String(36)),  # a caregiver's sign-in: the proxy grant it uses
    sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_accounts.id")),
    sa.Column("nonce", sa.String(255)),  # OpenID Connect: echoed in the id_token (migration 0016)
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),
    sa.Column("patient", sa.String(64)),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("issued_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("access_revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("refresh_hash", sa.String(64), unique=True),
    sa.Column("refresh_expires_at", sa.Integer),
    sa.Column("refresh_revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("family", sa.String(64), nullable=False, index=True),  # one login's rotated chain
    sa.Column("grant_id", sa.String(36), index=True),  # a caregiver's token: the grant it rests on
    # a member of staff's token (gateway/accounts/staff.py): ended with the account or department
    sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_accounts.id"), index=True),
)

# Append-only, so every process can poll "id > last seen" cheaply (see revocation.py).
revoked_jtis = sa.Table(
    "revoked_jtis", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("jti", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", sa.Integer, nullable=False),
)

assertion_jtis = sa.Table(
    "assertion_jtis", metadata,
    sa.Column("key", sa.String(200), primary_key=True),  # client_id + " " + jti
    sa.Column("expires_at", sa.Integer, nullable=False, index=True),
)

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("patient", sa.String(64), unique=True),  # None for a caregiver's account
    sa.Column("language", sa.String(35)),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False, default="patient",
              server_default="patient"),  # "patient" | "caregiver"
    sa.Column("birth_date", sa.String(10)),  # the patient's, from activation (guardian grants)
)

activation_codes = sa.Table(
    "activation_codes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("birth_date", sa.String(10), nullable=False),
    sa.Column("language", sa.String(35)),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("used_at", sa.Integer),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
)

login_tickets = sa.Table(
    "login_tickets", metadata,
    sa.Column("ticket_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),  # a patient's or caregiver's
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_accounts.id")),  # a member of staff's
    # which step of a staff sign-in the ticket opens (gateway/authz/staff_login.py STAFF_STEPS)
    sa.Column("step", sa.String(16)),
)

# Sign-in throttle (gateway/accounts/throttle.py), in the database so every worker process counts
# alike.
# Keys are SHA-256 digests of the typed username or of the client address, never the text.
signin_delays = sa.Table(
    "signin_delays", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),  # wrong tries in a row
    sa.Column("last_failure_at", sa.Float, nullable=False, index=True),
    sa.Column("wait_until", sa.Float, nullable=False),  # no password check before this
)

signin_budgets = sa.Table(
    "signin_budgets", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),  # password checks left (a token bucket)
    sa.Column("at", sa.Float, nullable=False, index=True),  # when TOKENS was true
)

# A patient's grant of limited, expiring rights to a caregiver (gateway/accounts/caregivers.py).
proxy_grants = sa.Table(
    "proxy_grants", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("patient", sa.String(64), nullable=False, index=True),
    sa.Column("patient_account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("patient_birth_date", sa.String(10), nullable=False),
    sa.Column("relationship", sa.String(16), nullable=False),  # "caregiver" | "guardian"
    sa.Column("rights", sa.Text, nullable=False),  # space-separated right codes
    sa.Column("name", sa.String(80)),
    sa.Column("last_day", sa.String(10), nullable=False),  # the last day of access (ISO date)
    sa.Column("ends_at", sa.Integer, nullable=False),  # the first second without access
    sa.Column("limited_by_age", sa.Boolean, nullable=False),
    sa.Column("invite_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("invite_expires_at", sa.Integer, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("caregiver_account_id", sa.String(36), sa.ForeignKey("accounts.id"), index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("activated_at", sa.Integer),
    sa.Column("revoked_at", sa.Integer),
)

# Who did what with a grant: the patient granted or revoked it, the caregiver joined or signed in.
proxy_events = sa.Table(
    "proxy_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grant_id", sa.String(36), nullable=False, index=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),  # "patient" | "caregiver"
    sa.Column("actor", sa.String(36), nullable=False),  # an account id
    sa.Column("at", sa.Integer, nullable=False),
)

# Department staff (gateway/accounts/staff.py): people who sign in for one department with a
# password and a second factor. Their usernames and the patients' are one namespace
# (gateway/accounts/stores.py username_taken); codes are kept as SHA-256 digests, never the text.
staff_accounts = sa.Table(
    "staff_accounts", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("department", sa.String(40), nullable=False, index=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),  # Argon2, as accounts.password_hash
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),  # space-separated contracts.vocabulary.STAFF_ROLES
    sa.Column("practitioner", sa.String(64), nullable=False),  # FHIR id: fhirUser Practitioner/<id>
    sa.Column("status", sa.String(16), nullable=False),  # "pending" | "active" | "disabled"
    # The RFC 6238 secret (base32): kept readable, since every check computes codes from it.
    sa.Column("totp_secret", sa.String(64), nullable=False),
    sa.Column("totp_last_step", sa.BigInteger),  # the last time step accepted: no code twice
    sa.Column("invite_id", sa.String(36), nullable=False),  # the invite it was opened with
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("activated_at", sa.Integer),  # the second factor confirmed
    sa.Column("disabled_at", sa.Integer),
)

staff_recovery_codes = sa.Table(
    "staff_recovery_codes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("staff_accounts.id"), nullable=False,
              index=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("used_at", sa.Integer),  # each works once
)

staff_invites = sa.Table(
    "staff_invites", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("department", sa.String(40), nullable=False, index=True),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("practitioner", sa.String(64)),  # the person's Practitioner, when they have one
    sa.Column("created_by", sa.String(36), nullable=False),  # a staff account id or "phr-admin"
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("used_at", sa.Integer),
    sa.Column("account_id", sa.String(36)),  # the account it opened
)

# What staff did and what was done to their accounts, with who did it (append-only).
staff_audit = sa.Table(
    "staff_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Integer, nullable=False, index=True),
    sa.Column("department", sa.String(40), nullable=False, index=True),
    sa.Column("actor", sa.String(36), nullable=False),  # a staff account id or "phr-admin"
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(64)),  # the account or invite acted on, if not the actor
    sa.Column("detail", sa.Text),  # e.g. the roles given; never a password, secret or code
)

# Forms of the staff console that make something (a request for records, an invite): each form
# carries a one-time token, and its first send claims it here, so a second send of the same form
# (a double click, a reload, the back button) finds what the first made instead of making it again
# (gateway/portal/once.py). Kept a day.
form_sends = sa.Table(
    "form_sends", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),  # the staff account that sent it
    sa.Column("at", sa.Integer, nullable=False, index=True),
    sa.Column("result", sa.String(300)),  # where the page went after the first send; NULL meanwhile
)

# Answers to "Was this page easy to understand?" (gateway/portal/page_answers.py): the page's
# route name (a closed set), its language, yes or no, an optional short comment, and the day.
# No account, patient or address: an answer cannot be traced to who gave it.
page_answers = sa.Table(
    "page_answers", metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random: no order to match against a log
    sa.Column("page", sa.String(40), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("answer", sa.String(8), nullable=False),  # "yes" | "no"
    sa.Column("comment", sa.String(300)),
    sa.Column("day", sa.String(10), nullable=False),  # ISO date only: no time to match a visit by
    sa.Index("ix_page_answers_page", "page", "language", "answer"),
)

# The staff's weekly pulse (gateway/portal/pulse.py): counters by department and ISO week, never
# a row per answer (its order or transaction id could pair it with who was asked); who answered
# which week is kept apart, without the answer.
staff_pulse_weeks = sa.Table(
    "staff_pulse_weeks", metadata,
    sa.Column("department", sa.String(40), primary_key=True),
    sa.Column("week", sa.String(8), primary_key=True),  # "2026-W49"
    sa.Column("answers", sa.Integer, nullable=False),  # how many people answered
)
staff_pulse_counts = sa.Table(
    "staff_pulse_counts", metadata,
    sa.Column("department", sa.String(40), primary_key=True),
    sa.Column("week", sa.String(8), primary_key=True),
    sa.Column("question", sa.String(16), primary_key=True),  # workload | system
    sa.Column("answer", sa.String(16), primary_key=True),  # light | about-right | heavy; helped | ...
    sa.Column("count", sa.Integer, nullable=False),
)
staff_pulse_taken = sa.Table(
    "staff_pulse_taken", metadata,
    sa.Column("staff_id", sa.String(36), primary_key=True),
    sa.Column("week", sa.String(8), primary_key=True),
)

# What the worker announced once to the other services (gateway/worker.py, announce_once): the
# first row claims the announcement, so two workers starting together send it once.
announcements = sa.Table(
    "announcements", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("at", sa.Integer, nullable=False),
)

# Account facts for the other services (gateway/accounts/events.py), relayed by gateway/worker.py;
# processed_events is declared with it and stays empty while the gateway consumes nothing.
outbox, processed_events = messaging_tables(metadata)
