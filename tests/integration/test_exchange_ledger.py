"""The disclosure ledger shows any entry edited or removed behind its back (tampering in the database)."""
import json

import pytest
import sqlalchemy as sa

from services.exchange.adapters.fakes import FakeRecords, Pump
from services.exchange.adapters.tables import ledger
from services.exchange.entrypoints import cli
from services.exchange.entrypoints.worker import flow_handlers


@pytest.fixture
def released(exchange, database_url, mint):
    """Three releases to three patients, all in the ledger."""
    client, engine = exchange
    exchange.service.consent.permits.update({(f"p-{i}", "cardiology"): [] for i in range(3)})
    for i in range(3):
        assert client.post("/exchange/v1/requests", headers=mint.department("cardiology"), json={
            "patient": f"p-{i}", "purpose": "TREAT", "resource_types": ["Observation"]}).status_code == 202
    Pump(exchange.service, FakeRecords(), flow_handlers(exchange.service)).run()
    return client, engine, database_url


def _verify(client, mint):
    resp = client.get("/exchange/v1/ledger/verify", headers=mint.department("cardiology"))
    assert resp.status_code == 200
    return resp.json


def _cli_verify(monkeypatch, url, capsys) -> tuple[int, str]:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", url)
    args = build_parser_with_exchange().parse_args(["exchange", "verify-ledger", "--local"])
    code = args.func(args)
    return code, capsys.readouterr().out


def build_parser_with_exchange():
    import argparse
    parser = argparse.ArgumentParser(prog="phr")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_an_untouched_ledger_verifies_over_http_and_on_the_command_line(released, mint, monkeypatch, capsys):
    client, _engine, url = released
    verdict = _verify(client, mint)
    assert verdict["valid"] and verdict["entries"] == 3 and verdict["problems"] == []
    code, out = _cli_verify(monkeypatch, url, capsys)
    assert code == 0 and "ledger valid: 3 entries" in out


def test_an_entry_edited_in_the_database_is_detected(released, mint, monkeypatch, capsys):
    client, engine, url = released
    with engine.begin() as conn:
        entry = json.loads(conn.execute(sa.select(ledger.c.entry).where(ledger.c.seq == 2)).scalar())
        entry["recipient"] = "research"
        conn.execute(ledger.update().where(ledger.c.seq == 2).values(entry=json.dumps(entry)))
    verdict = _verify(client, mint)
    assert not verdict["valid"] and {"seq": 2, "problem": "altered"}.items() <= verdict["problems"][0].items()
    code, out = _cli_verify(monkeypatch, url, capsys)
    assert code == 1 and "entry 2: altered" in out


def test_an_entry_edited_and_rehashed_breaks_the_link_to_the_next(released, mint):
    from services.exchange.domain.ledger import canonical, entry_hash
    client, engine, _url = released
    with engine.begin() as conn:
        row = conn.execute(sa.select(ledger).where(ledger.c.seq == 1)).first()
        entry = json.loads(row.entry)
        entry["purpose"] = "HRESCH"
        conn.execute(ledger.update().where(ledger.c.seq == 1).values(
            entry=canonical(entry), hash=entry_hash(entry, row.prev_hash)))
    problems = _verify(client, mint)["problems"]
    assert [(p["seq"], p["problem"]) for p in problems] == [(2, "broken-link")]


def test_a_deleted_entry_is_detected_in_the_middle_and_at_the_end(released, mint, monkeypatch, capsys):
    client, engine, url = released
    with engine.begin() as conn:
        conn.execute(ledger.delete().where(ledger.c.seq == 2))
    assert {p["problem"] for p in _verify(client, mint)["problems"]} == {"missing", "broken-link"}
    with engine.begin() as conn:
        conn.execute(ledger.delete().where(ledger.c.seq == 3))
    problems = _verify(client, mint)["problems"]
    assert [p["problem"] for p in problems] == ["head-mismatch"]
    code, out = _cli_verify(monkeypatch, url, capsys)
    assert code == 1 and "head-mismatch" in out


def test_the_exchange_command_is_offered_by_the_phr_command_line():
    import argparse
    parser = argparse.ArgumentParser(prog="phr")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["exchange", "request", "--patient", "p", "--types", "Observation"])
    assert args.func is cli._request and args.purpose == "TREAT"


def _verify_after(client, mint, after, digest):
    return client.get("/exchange/v1/ledger/verify", query_string={"after": after, "hash": digest},
                      headers=mint.department("cardiology"))


def test_an_auditor_verifies_only_what_came_after_its_last_verdict(released, mint):
    client, _engine, _url = released
    full = _verify(client, mint)
    assert (full["checked"], full["after"]) == (3, 0)
    again = _verify_after(client, mint, full["entries"], full["head"]).json
    assert again == {**full, "checked": 0, "after": 3}
    middle = _verify_after(client, mint, 1, _entry_hash(released, 1)).json
    assert middle["valid"] and (middle["checked"], middle["entries"]) == (2, 3)


def _entry_hash(released, seq):
    _client, engine, _url = released
    with engine.connect() as conn:
        return conn.execute(sa.select(ledger.c.hash).where(ledger.c.seq == seq)).scalar()


def test_a_chain_rewritten_behind_the_auditors_checkpoint_is_detected(released, mint):
    from services.exchange.domain.ledger import canonical, entry_hash
    client, engine, _url = released
    kept = _verify(client, mint)
    with engine.begin() as conn:  # rewrite every entry and the head, all hashes consistent
        prev = "0" * 64
        for row in conn.execute(sa.select(ledger).order_by(ledger.c.seq)).all():
            entry = json.loads(row.entry)
            entry["purpose"] = "HRESCH"
            digest = entry_hash(entry, prev)
            conn.execute(ledger.update().where(ledger.c.seq == row.seq).values(
                entry=canonical(entry), prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(sa.text("UPDATE ledger_head SET hash = :h"), {"h": prev})
    assert _verify(client, mint)["valid"], "a full walk alone cannot see a consistent rewrite"
    verdict = _verify_after(client, mint, kept["entries"], kept["head"]).json
    assert not verdict["valid"] and verdict["problems"][0]["problem"] == "altered"


@pytest.mark.parametrize("query", [{"after": "2"}, {"hash": "a" * 64}, {"after": "x", "hash": "a" * 64},
                                   {"after": "-1", "hash": "a" * 64}, {"after": "2", "hash": "A" * 64},
                                   {"after": "9" * 40, "hash": "a" * 64},
                                   {"after": str(2**31), "hash": "a" * 64}])
def test_a_malformed_checkpoint_is_refused_with_a_problem(released, mint, query):
    client, _engine, _url = released
    resp = client.get("/exchange/v1/ledger/verify", query_string=query, headers=mint.department("cardiology"))
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert set(resp.json["fields"]) == {"after", "hash"}


def test_the_command_line_verifies_after_a_checkpoint(released, mint, monkeypatch, capsys):
    _client, _engine, url = released
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", url)
    parser = build_parser_with_exchange()
    args = parser.parse_args(["exchange", "verify-ledger", "--local", "--after", "2",
                              "--hash", _entry_hash(released, 2)])
    assert args.func(args) == 0
    assert "ledger valid: 3 entries (1 checked after entry 2)" in capsys.readouterr().out
    args = parser.parse_args(["exchange", "verify-ledger", "--local", "--after", "2", "--hash", "b" * 64])
    assert args.func(args) == 1 and "entry 2: altered" in capsys.readouterr().out
