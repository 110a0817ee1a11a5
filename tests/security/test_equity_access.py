"""Only the oversight scope reads the equity report: no department token, wildcard or not."""
import pytest

from services.common.config import load_settings
from services.common.db import make_engine, migrate
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.fakes import FakeConsent, FakeRecords
from services.exchange.entrypoints.http import create_app


@pytest.fixture
def client(tmp_path, mint):
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    settings = load_settings("exchange", {"PHR_VAR_DIR": str(tmp_path)}, database_url=url, testing=True,
                             contract_checks="enforce")
    yield create_app({"settings": settings, "engine": engine, "validator": mint.validator(),
                      "consent": FakeConsent(), "records": FakeRecords()}).test_client()
    engine.dispose()


@pytest.mark.parametrize("scope", ["system/*.cruds", "system/*.rs system/Exchange.cr system/Consent.r",
                                   "system/Exchange.r", "patient/*.rs"])
def test_a_token_without_the_oversight_scope_is_refused(client, mint, scope):
    resp = client.get("/equity/v1/report", headers=mint.department("cardiology", scope=scope))
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert "insufficient_scope" in resp.headers["WWW-Authenticate"]


def test_no_token_is_a_401(client):
    assert client.get("/equity/v1/report").status_code == 401


def test_the_oversight_scope_reads_the_report(client, mint):
    resp = client.get("/equity/v1/report", headers=mint.department("oversight", scope="system/Equity.r"))
    assert resp.status_code == 200 and resp.get_json()["flags"] == []
