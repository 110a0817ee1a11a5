"""The compose tier: the whole stack of docker-compose.yml, built and run by Docker.

Every test here needs a Docker engine and Compose v2 (`docker compose`). Without an engine the
tier skips with the reason "no Docker engine": the check runs in an autouse fixture, before
any of pytest-docker's fixtures (which run `docker compose up` on first use) is set up.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from pytest_docker.plugin import DockerComposeExecutor, get_docker_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NO_ENGINE = "no Docker engine"
NO_COMPOSE = "no Docker Compose v2 (`docker compose`)"


def _succeeds(*argv: str, timeout: float = 30.0) -> bool:
    """Return whether ARGV exits 0 (False if it cannot start or takes longer than TIMEOUT)."""
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker_engine_answers() -> bool:
    """Return whether a Docker engine answers the `docker` client (`docker info`)."""
    return shutil.which("docker") is not None and _succeeds("docker", "info")


def compose_available() -> bool:
    return _succeeds("docker", "compose", "version")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip the tier unless a Docker engine and Compose v2 answer."""
    if not docker_engine_answers():
        pytest.skip(NO_ENGINE)
    if not compose_available():
        pytest.skip(NO_COMPOSE)


@pytest.fixture(autouse=True)
def _require_docker_engine(docker_engine) -> None:
    """Apply the engine check to every test of the tier before its other fixtures."""


# pytest-docker's fixtures, overridden: each depends on `docker_engine`, so that nothing calls
# docker before the skip, whichever of them pytest happens to set up first.

@pytest.fixture(scope="session")
def docker_compose_command(docker_engine) -> str:
    return "docker compose"


@pytest.fixture(scope="session")
def docker_compose_file(docker_engine) -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name(docker_engine) -> str:
    return f"phrcompose{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gateway_host_port(docker_engine):
    """Publish the gateway on a free host port (GATEWAY_HOST_PORT), not on a busy 8080."""
    previous = os.environ.get("GATEWAY_HOST_PORT")
    port = int(previous) if previous else _free_port()
    os.environ["GATEWAY_HOST_PORT"] = str(port)
    yield port
    if previous is None:
        os.environ.pop("GATEWAY_HOST_PORT", None)


@pytest.fixture(scope="session")
def docker_setup(docker_engine, gateway_host_port) -> list[str]:
    # Not `up --wait`: the seed is a one-shot service nothing depends on, and --wait fails
    # when a container exits (docker/compose#10596). Readiness is polled by the tests.
    return ["up --build --detach"]


@pytest.fixture(scope="session")
def docker_cleanup(docker_engine) -> list[str]:
    return ["down --volumes --remove-orphans"]


@pytest.fixture(scope="session")
def docker_services(docker_compose_command, docker_compose_file, docker_compose_project_name,
                    docker_setup, docker_cleanup):
    """pytest-docker's fixture, plus: when `up` fails, show the containers' logs and remove them
    (pytest-docker cleans up only after a successful start)."""
    compose = DockerComposeExecutor(docker_compose_command, docker_compose_file,
                                    docker_compose_project_name)
    started = False
    try:
        with get_docker_services(docker_compose_command, docker_compose_file,
                                 docker_compose_project_name, docker_setup,
                                 docker_cleanup) as services:
            started = True
            yield services
    except Exception as exc:
        if started:
            raise
        logs = compose.execute("logs --no-color --tail=100", success_codes=range(256))
        compose.execute(docker_cleanup[0], success_codes=range(256))
        raise RuntimeError(f"{exc}\n--- docker compose logs ---\n{logs.decode(errors='replace')}") from exc
