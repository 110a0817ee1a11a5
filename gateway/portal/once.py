"""One-time form tokens: a console form that makes something makes it once, however often it is sent.

A form without script cannot stop a double click, and a reload or the back button sends it
again. Each such form carries a fresh random token; its first send claims the token in the
gateway's database (so two sends at the same moment, which the browser's cookie cannot tell
apart, still make one thing), and records where the page went. A later send of the same token
is sent to the same place. Tokens are kept as hashes, for a day.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa

from gateway import schema as t
from gateway.storage import TableStore, digest, inserted, now

KEEP_SECONDS = 24 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(24)


class FormSends(TableStore):
    """The claimed form tokens."""

    def claim(self, token: str, owner: str) -> tuple[bool, str | None]:
        """Claim TOKEN for OWNER's send. (True, None) for the first send; else (False, where the
        first send went), None while it is still under way or when it made nothing."""
        at = now()
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.form_sends).where(t.form_sends.c.at < at - KEEP_SECONDS))
            if inserted(conn, t.form_sends, token_hash=digest(token), owner=owner, at=at):
                return True, None
            row = conn.execute(sa.select(t.form_sends.c.owner, t.form_sends.c.result)
                               .where(t.form_sends.c.token_hash == digest(token))).first()
        # another person's token (copied from their page) leads nowhere of theirs
        return False, row.result if row is not None and row.owner == owner else None

    def done(self, token: str, result: str) -> None:
        """Record where the first send of TOKEN went (a path of this site)."""
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.form_sends).where(t.form_sends.c.token_hash == digest(token))
                         .values(result=result[:300]))

    def release(self, token: str) -> None:
        """Forget TOKEN: its send made nothing (the form had errors), so sending it again may."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.form_sends).where(t.form_sends.c.token_hash == digest(token)))
