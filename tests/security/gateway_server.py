"""A real gateway app served over HTTP in this process, for the sign-in and activation tests.

The demo stack's gateway cannot be given a test's settings (a proxy in front, small delays), so
these tests serve the real app, on a real database, on a port of their own.
"""
from __future__ import annotations

import re
import time
import uuid

from werkzeug.serving import make_server

from gateway import MIGRATIONS_DIR
from gateway.accounts.codes import normalise_code
from gateway.admin.clients import ensure_portal_client
from gateway.app import create_app
from gateway.storage import digest
from tests.support.databases import from_template
from tests.support.gateway import CHEAP_HASHES
from tests.support.servers import serving_thread


class GatewayServer:
    """The gateway app at ``url``; its stores, and helpers to sign in and activate."""

    def __init__(self, tmp_path, database_url: str, **overrides):
        # Bound first: the app needs its own address (issuer, callbacks), and a port picked now
        # but bound only after the app is built could be taken meanwhile.
        self._server = make_server("127.0.0.1", 0, lambda environ, start: self.app(environ, start), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        unused = "http://127.0.0.1:9"  # no upstream is called by these tests
        config = {"TESTING": True, "var_dir": tmp_path, "database_url": database_url,
                  "issuer": self.url, "audience": self.url, "jwks_url": self.url + "/oauth/jwks",
                  "peers": {"gateway": self.url, "records": unused, "consent": unused,
                            "exchange": unused, **overrides.pop("peers", {})},
                  "REVOCATION_REFRESH_SECONDS": 0.0, "PORTAL_API_URL": self.url,
                  "PASSWORD_HASH_PARAMETERS": CHEAP_HASHES, **overrides}
        from_template(database_url, MIGRATIONS_DIR)
        self.app = create_app(config)
        self.stores = self.app.extensions["gateway"].stores
        ensure_portal_client(self.app.extensions["gateway"].engine, [self.url + "/portal/callback"])
        self._thread = serving_thread(self._server)

    def __enter__(self) -> "GatewayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.app.extensions["gateway"].engine.dispose()

    def activation_code(self, code: str = "ABCD-EFGH-JKMN", patient: str = "p-9",
                        birth_date: str = "1961-04-02") -> str:
        """Store an activation code for PATIENT, as the custodian department would get one."""
        self.stores.accounts.save_activation_code(normalise_code(code), patient, birth_date, "en",
                                                 "primary-care", 3600)
        return code

    def caregiver_invite(self, code: str, patient_username: str) -> str:
        """Store an invite from PATIENT_USERNAME's account, as POST /patient/v1/proxies does."""
        account, at = self.stores.accounts.account(username=patient_username), int(time.time())
        self.stores.grants.create_grant(
            id=str(uuid.uuid4()), patient=account.patient, patient_account_id=account.id,
            patient_birth_date=account.birth_date, relationship="caregiver",
            rights="view-records", name=None, last_day="2099-12-31", ends_at=at + 365 * 86400,
            limited_by_age=False, invite_hash=digest(normalise_code(code)),
            invite_expires_at=at + 86400, failed_attempts=0, caregiver_account_id=None,
            created_at=at, activated_at=None, revoked_at=None)
        return code


def hidden_fields(html: str) -> dict:
    """The hidden inputs of the page's form (name -> value)."""
    import html as html_lib
    return {m.group(1): html_lib.unescape(m.group(2)) for m in
            re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)}


def error_text(html: str) -> str:
    """The text of the form's error paragraph."""
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    return found.group(1).strip() if found else ""
