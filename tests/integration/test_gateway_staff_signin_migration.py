"""Gateway migration 0010: codes, tokens and login tickets may name a member of staff
(staff_id) instead of a portal account; the rows stored before keep their values and a portal
account's sign-in goes on as it did."""
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR, schema
from services.common.db import make_engine, migrate
from tests.support.gateway import CLIENTS, upgrade_to

ACCOUNTS = sa.table("accounts", *(sa.column(c) for c in (
    "id", "username", "password_hash", "patient", "language", "failed_logins", "locked_until",
    "created_at", "kind")))
CODES = sa.table("auth_codes", *(sa.column(c) for c in (
    "code_hash", "client_id", "account_id", "redirect_uri", "scope", "code_challenge",
    "code_challenge_method", "expires_at")))
TOKENS = sa.table("tokens", *(sa.column(c) for c in (
    "jti", "client_id", "account_id", "patient", "scope", "issued_at", "expires_at", "access_revoked",
    "refresh_revoked", "family")))
TICKETS = sa.table("login_tickets", *(sa.column(c) for c in (
    "ticket_hash", "account_id", "request_hash", "expires_at")))


def test_rows_before_0010_keep_their_values_and_a_staff_row_fits_after(database_url):
    upgrade_to(database_url, "0009_staff_accounts")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(CLIENTS.insert().values(client_id="phr-portal", kind="portal", name="Portal",
                                                 secret_hash=None, jwks=None, scope="openid",
                                                 redirect_uris="[]", created_at=0))
            conn.execute(ACCOUNTS.insert().values(id="a-1", username="ana", password_hash="x", patient="p-1",
                                                  language="en", failed_logins=0, locked_until=0,
                                                  created_at=0, kind="patient"))
            conn.execute(CODES.insert().values(code_hash="c", client_id="phr-portal", account_id="a-1",
                                               redirect_uri="r", scope="openid", code_challenge="x",
                                               code_challenge_method="S256", expires_at=9))
            conn.execute(TOKENS.insert().values(jti="j", client_id="phr-portal", account_id="a-1",
                                                patient="p-1", scope="openid", issued_at=1, expires_at=9,
                                                access_revoked=False, refresh_revoked=True, family="j"))
            conn.execute(TICKETS.insert().values(ticket_hash="t", account_id="a-1", request_hash="h",
                                                 expires_at=9))
        migrate(database_url, MIGRATIONS_DIR)
        with engine.begin() as conn:
            code = conn.execute(sa.select(schema.auth_codes)).mappings().one()
            token = conn.execute(sa.select(schema.tokens)).mappings().one()
            ticket = conn.execute(sa.select(schema.login_tickets)).mappings().one()
            assert (code["account_id"], code["staff_id"]) == ("a-1", None)
            assert (token["account_id"], token["patient"], token["staff_id"]) == ("a-1", "p-1", None)
            assert (ticket["account_id"], ticket["staff_id"], ticket["step"]) == ("a-1", None, None)
            conn.execute(sa.insert(schema.staff_accounts).values(
                id="s-1", department="cardiology", username="dr.ruiz", password_hash="x",
                display_name="Dr. Ruiz", roles="clinician", practitioner="s-1", status="active",
                totp_secret="A" * 32, invite_id="i-1", created_at=0))
            conn.execute(sa.insert(schema.login_tickets).values(
                ticket_hash="t2", account_id=None, staff_id="s-1", step="second-factor",
                request_hash="h", expires_at=9))
            conn.execute(sa.insert(schema.auth_codes).values(
                code_hash="c2", client_id="phr-portal", account_id=None, staff_id="s-1", redirect_uri="r",
                scope="openid", code_challenge="x", code_challenge_method="S256", expires_at=9))
    finally:
        engine.dispose()
