"""`python -m launcher.stack up --scale NAME=COUNT` (launcher/scale.py)."""
from __future__ import annotations

import pytest

from launcher import run, scale
from launcher.stack import main as stack_main

PG = {f"{s}_DATABASE_URL": f"postgresql://db/{s.lower()}" for s in ("GATEWAY", "CONSENT", "RECORDS", "EXCHANGE")}


def _env(**more) -> dict[str, str]:
    return run.command_defaults({"PHR_VAR_DIR": "/tmp/var", **more})


def _started(counts, env=None):
    return {name: proc_env for name, _, proc_env in scale.copies(run.procfile(), env or _env(**PG), counts)}


def test_each_process_runs_once_without_a_scale():
    assert list(_started({})) == list(run.procfile())


def test_a_second_gateway_listens_on_its_own_port_and_names_the_first_as_its_url():
    started = _started({"gateway": 2}, _env(GATEWAY_PORT_2="9191", **PG))

    assert started["gateway"]["GATEWAY_PORT"] == "8080"
    assert started["gateway.2"]["GATEWAY_PORT"] == "9191"
    assert started["gateway.2"]["GATEWAY_URL"] == "http://127.0.0.1:8080"  # one issuer for both
    assert "GATEWAY_URL" not in started["gateway"]


def test_a_copy_without_its_port_variable_takes_the_first_port_plus_ten_per_copy():
    started = _started({"exchange": 3})

    assert [started[n]["EXCHANGE_PORT"] for n in ("exchange", "exchange.2", "exchange.3")] == ["8083", "8093", "8103"]


def test_workers_on_postgresql_just_run_twice_with_the_same_environment():
    started = _started({"exchange-worker": 2, "consent-worker": 2})

    assert started["exchange-worker.2"] == started["exchange-worker"]
    assert "consent-worker.2" in started and "records-worker.2" not in started


def test_a_worker_on_sqlite_is_refused_with_the_reason():
    with pytest.raises(scale.ScaleError, match="one worker per SQLite database"):
        _started({"records-worker": 2}, _env())


def test_the_embedded_broker_and_unknown_processes_are_refused():
    with pytest.raises(scale.ScaleError, match="runs once"):
        _started({"broker": 2})
    with pytest.raises(scale.ScaleError, match="no such process"):
        _started({"gatway": 2})


@pytest.mark.parametrize("value", ["gateway", "gateway=0", "gateway=two", "=2"])
def test_a_malformed_scale_is_refused(value):
    with pytest.raises(scale.ScaleError, match="NAME=COUNT"):
        scale.parse([value])


def test_a_scale_names_its_process_and_count():
    assert scale.parse(["gateway=2", "exchange-worker=3"]) == {"gateway": 2, "exchange-worker": 3}


def test_up_refuses_a_worker_on_sqlite_before_starting_anything(tmp_path, monkeypatch, capsys):
    for name in PG:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PHR_VAR_DIR", str(tmp_path / "var"))

    assert stack_main(["up", "--scale", "exchange-worker=2"]) == 2

    assert "one worker per SQLite database" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()


def test_the_copies_beyond_the_first_are_waited_for():
    started = scale.copies(run.procfile(), _env(**PG), {"gateway": 2, "exchange-worker": 2})

    assert scale.ready_urls(started) == ["http://127.0.0.1:8090/readyz"]
