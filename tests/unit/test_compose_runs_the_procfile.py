"""docker-compose.yml runs the Procfile's lines: the Procfile is the one definition of the commands."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from launcher import run

ROOT = Path(__file__).resolve().parents[2]
#: Procfile lines compose does not run, and why.
NOT_IN_COMPOSE = {"broker": "compose runs Apache Kafka (its `kafka` service) instead of the embedded broker"}
RUN = ["python", "-m", "launcher.run"]


def _our_long_running_services() -> dict[str, dict]:
    """Compose's services built from our image that keep running (not the one-shot migrate/seed)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: spec for name, spec in services.items()
            if spec.get("image") == "phr-exchange:dev" and spec.get("restart") != "no"}


def test_every_compose_service_that_runs_a_process_names_a_procfile_line():
    lines = run.procfile()
    services = _our_long_running_services()

    assert services, "no service of ours found in docker-compose.yml"
    for name, spec in services.items():
        command = spec["command"]
        assert command[:3] == RUN and len(command) == 4, (name, command)
        assert command[3] in lines, (name, command)


def test_every_procfile_line_is_run_by_compose():
    used = {spec["command"][3] for spec in _our_long_running_services().values()}

    assert set(run.procfile()) - used == set(NOT_IN_COMPOSE)


def test_the_procfile_symlink_at_the_root_is_the_launchers_procfile():
    assert (ROOT / "Procfile").resolve() == (ROOT / "launcher" / "Procfile").resolve()


def test_a_line_gets_its_variables_from_the_environment_and_loses_the_shells_exec():
    env = run.command_defaults({"GATEWAY_PORT": "9999"})

    argv = run.argv(run.procfile()["gateway"], env)

    assert argv[:3] == ["python", "-m", "services.common.serve"]
    assert "127.0.0.1:9999" in argv and "gateway.app:create_app" in argv


def test_a_line_whose_variable_is_not_set_is_refused_by_name():
    with pytest.raises(KeyError, match="BROKER_PORT"):
        run.argv(run.procfile()["broker"], {})


def test_an_unknown_process_name_is_a_usage_error(capsys):
    assert run.main(["no-such-process"]) == 2
    assert "gateway" in capsys.readouterr().err
