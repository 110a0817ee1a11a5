"""The gateway's report pages (the portal's and the staff console's) in front of the real exchange:
both served over HTTP in this process, the exchange trusting the gateway's own tokens, so that a
page's refusal can be checked against the reports the exchange actually keeps.

The gateway runs on the test's database; the exchange on a SQLite file of its own (two services
never share a database). The exchange's patient index is fed as the records service's events
would feed it, so that a patient's report reaches their custodian's quality team.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from werkzeug.serving import make_server

from gateway.accounts.staff import PHR_ADMIN
from gateway.admin.clients import ensure_console_client
from services.common.auth import JwksCache, TokenValidator
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import processed_events, reports
from services.exchange.service_layer.handlers import HANDLERS
from tests.security import gateway_server
from tests.support import staff as support
from tests.support.apps import ServiceApps
from tests.support.servers import serving_thread


class _GatewayTrust:
    """What ServiceApps needs of a mint: an issuer and a validator, here the gateway's own."""

    def __init__(self, url: str):
        self.issuer = self.audience = url

    def validator(self) -> TokenValidator:
        return TokenValidator(self.issuer, self.audience, JwksCache(self.issuer + "/oauth/jwks"))


class ReportPages:
    """The gateway at ``url`` (``gw.app``, ``gw.stores``, ``gw.staff``, ``gw.directory`` as the
    console tests' ``gw``) forwarding to the real exchange (``exchange_engine``)."""

    def __init__(self, tmp_path, database_url: str):
        # Each server is bound before the other needs its address (the gateway forwards to the
        # exchange, the exchange trusts the gateway's tokens): no port is picked and bound later.
        served: dict = {}
        self._exchange = make_server("127.0.0.1", 0, lambda environ, start: served["app"](environ, start),
                                     threaded=True)
        self._exchange_thread = serving_thread(self._exchange)
        unused = "http://127.0.0.1:9"
        peers = {"records": unused, "consent": unused,
                 "exchange": f"http://127.0.0.1:{self._exchange.server_port}"}
        self._gateway = gateway_server.GatewayServer(tmp_path, database_url, peers=peers)
        self.url, self.app, self.stores = self._gateway.url, self._gateway.app, self._gateway.stores
        self._apps = ServiceApps(_GatewayTrust(self.url), tmp_path / "exchange")
        (tmp_path / "exchange").mkdir()
        exchange = self._apps.exchange(f"sqlite:///{tmp_path / 'exchange' / 'exchange.db'}")
        self.exchange_engine, served["app"] = exchange.engine, exchange.app
        engine = self.app.extensions["gateway"].engine
        self.directory = support.console_directory(engine)
        ensure_console_client(engine, [self.url + "/console/callback"])
        self.staff = support.gateway_staff_store(engine)

    def __enter__(self) -> "ReportPages":
        self._exchange_thread.start()
        self._gateway.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._gateway.__exit__(*exc)
        self._exchange.shutdown()
        self._exchange.server_close()
        self._apps.close()

    def custodian(self, patient: str, department: str) -> None:
        """Tell the exchange that DEPARTMENT holds PATIENT's records (the records service's event)."""
        index = IdempotentConsumer("exchange.records-index", self.exchange_engine, processed_events, HANDLERS,
                                   Letters())
        event = new_event("phr.records.imported", "/services/records", patient, {
            "patient": patient, "custodian": department, "resource_count": 1,
            "resource_types": {"Observation": 1}, "imported_at": datetime.now(timezone.utc).isoformat()})
        assert index.handle("phr.records.v1", json.dumps(event).encode()) == "applied"

    def staff_jti(self, browser) -> str:
        """The jti of the access token the console's session cookie in BROWSER holds."""
        from gateway.portal.client import claims_of
        cookie = browser.cookies.get(self.app.config.get("SESSION_COOKIE_NAME", "session"))
        kept = self.app.session_interface.get_signing_serializer(self.app).loads(cookie)
        return claims_of(kept["staff"]["access"])["jti"]

    def reports(self) -> list[dict]:
        """Every report the exchange keeps, oldest first."""
        with self.exchange_engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(reports).order_by(reports.c.received_at))]


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def member(gw, clock, roles, username, department="cardiology", lang="en"):
    """A member of DEPARTMENT with ROLES signed in to GW's console: (session, home page, account)."""
    account, secret, _codes = support.person(gw.staff, gw.directory, clock, username=username, roles=roles,
                                             department=department)
    s, home = support.console_session(gw.url, account.username, secret, clock["at"], lang)
    return s, home, account


def _signed_out(gw, s, home, account):
    assert s.post(gw.url + "/console/signout", data={"csrf_token": csrf(home.text)}, timeout=30).status_code == 200


def _disabled(gw, s, home, account):
    gw.staff.disable(account.id, by=PHR_ADMIN, department_active=gw.directory.active)


def _revoked(gw, s, home, account):
    """Every token of the person's sign-in revoked, the refresh token too (as when an admin ends it)."""
    gw.stores.tokens.revoke([gw.staff_jti(s)], refresh=True)


#: The ways a console session ends, each a function of (gw, session, home page, account).
ENDINGS = {"signed-out": _signed_out, "disabled": _disabled, "revoked": _revoked}
