"""The demo seeding waits, for a bounded time and saying so, until every service's /readyz shows
that its directory holds the departments it registered; a /readyz without that fact is not yet
known, and after the time is up the seeding goes on with a warning instead of hanging."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import time

import pytest
from werkzeug.wrappers import Response

from launcher.demo import seed
from tests.support.gateway import Upstream


@pytest.fixture
def services():
    """consent, records and exchange, each a small HTTP server; ``sizes[name]`` is what its
    /readyz shows (None: no facts at all)."""
    sizes = {"consent": None, "records": None, "exchange": None}
    with contextlib.ExitStack() as stack:
        env = {}
        for name in sizes:
            server = stack.enter_context(Upstream())
            server.handler = functools.partial(_readiness, sizes, name)
            env[f"{name.upper()}_URL"] = server.url
        yield sizes, env


def _readiness(sizes: dict, name: str, _request) -> Response:
    body = {"status": "ready", "service": name, "checks": {"database": "ok"}}
    if sizes[name] is not None:
        body["facts"] = {"departments": sizes[name]}
    return Response(json.dumps(body), 200, content_type="application/json")


def test_readiness_without_facts_or_with_an_unreadable_one_is_not_yet_known(services):
    sizes, env = services
    sizes.update(consent=5, records="unknown: OperationalError")
    assert seed.directory_sizes(env) == {"consent": 5, "records": None, "exchange": None}


def test_the_wait_ends_as_soon_as_every_service_knows_them(services):
    sizes, env = services
    sizes.update(consent=5, records=6, exchange=5)
    out = io.StringIO()
    assert seed.wait_for_directory(env, 5, timeout=5, out=out, pause=0.01) is True
    assert "every service knows the 5 departments" in out.getvalue()


def test_the_wait_is_bounded_and_says_which_services_do_not_know_them(services):
    sizes, env = services
    sizes.update(consent=5, records=4)
    out = io.StringIO()
    started = time.monotonic()
    assert seed.wait_for_directory(env, 5, timeout=0.3, out=out, pause=0.01) is False
    assert time.monotonic() - started < 3
    assert "warning: after 0 s these services do not show the 5 departments on /readyz: " \
           "records 4, exchange ?; going on" in out.getvalue()


def test_a_service_that_is_away_is_not_yet_known():
    env = {f"{name.upper()}_URL": "http://127.0.0.1:9" for name in seed.DIRECTORY_COPIES}
    assert seed.directory_sizes(env) == {name: None for name in seed.DIRECTORY_COPIES}
