"""Only the oversight scope reads the equity report: no department token, wildcard or not."""
import pytest


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: who reads the report does not depend on the database."""
    return f"sqlite:///{tmp_path / 'exchange.db'}"


@pytest.mark.parametrize("scope", ["system/*.cruds", "system/*.rs system/Exchange.cr system/Consent.r",
                                   "system/Exchange.r", "patient/*.rs"])
def test_a_token_without_the_oversight_scope_is_refused(exchange, mint, scope):
    resp = exchange.client.get("/equity/v1/report", headers=mint.department("cardiology", scope=scope))
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert "insufficient_scope" in resp.headers["WWW-Authenticate"]


def test_no_token_is_a_401(exchange):
    assert exchange.client.get("/equity/v1/report").status_code == 401


def test_the_oversight_scope_reads_the_report(exchange, mint):
    resp = exchange.client.get("/equity/v1/report", headers=mint.department("oversight", scope="system/Equity.r"))
    assert resp.status_code == 200 and resp.get_json()["flags"] == []
