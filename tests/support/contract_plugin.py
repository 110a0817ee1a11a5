"""Pytest plugin: every patient-facing response a test produces must pass the accessibility rules.

Responses to paths under ``/patient/v1/`` are checked with ``contracts.accessibility.check``
whether they come from a Flask/Werkzeug test client or over real HTTP through ``requests``.
A violation fails the test whose setup, call or teardown produced the response, even when
the test caught the error it raised. A test that checks bad payloads on purpose opts out
with ``@pytest.mark.contract_violations_expected``. The rules: contracts/PATIENT_FACING.md.
"""
from __future__ import annotations

import json
import os
import traceback
from urllib.parse import urlsplit

import pytest

MARKER = "contract_violations_expected"
PATIENT_PREFIX = "/patient/v1/"
VIOLATION_TYPE_SUFFIX = "/contract-violation"  # services.common.contract_checks' enforce mode

_installed = 0
_originals: dict = {}
_found: list[str] | None = None  # the current test phase's findings; None when not collecting


class ContractViolation(AssertionError):
    """A patient-facing response broke the accessibility contract."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: this test sends or receives patient-facing payloads that break "
                   "the accessibility rules on purpose; do not check its responses")
    _install()


def pytest_unconfigure(config: pytest.Config) -> None:
    _uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    __tracebackhide__ = True
    return (yield from _watch(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    __tracebackhide__ = True
    return (yield from _watch(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    __tracebackhide__ = True
    return (yield from _watch(item))


def _watch(item: pytest.Item):
    """Collect the findings of one test phase and fail the phase if there are any."""
    global _found
    __tracebackhide__ = True
    collecting = item.get_closest_marker(MARKER) is None
    _found = [] if collecting else None
    try:
        result = yield
    except BaseException as exc:
        if _found:
            exc.add_note(_summary(_found))
        raise
    finally:
        found, _found = _found, None
    if found:
        raise ContractViolation(_summary(found))
    return result


def _summary(found: list[str]) -> str:
    return ("patient-facing responses broke the accessibility contract (contracts/PATIENT_FACING.md; "
            f"mark the test @pytest.mark.{MARKER} if that is the point of it):\n"
            + "\n".join(found))


# -- the two channels ---------------------------------------------------------------------

def _install() -> None:
    global _installed
    _installed += 1
    if _installed > 1:
        return
    import requests
    import werkzeug.test

    _originals["werkzeug"] = werkzeug.test.Client.open
    _originals["requests"] = requests.Session.send

    def open(self, *args, **kwargs):  # flask.testing.FlaskClient.open ends here too
        response = _originals["werkzeug"](self, *args, **kwargs)
        if _found is not None and not getattr(response, "_contract_checked", False):
            request = getattr(response, "request", None)
            path = getattr(request, "path", "")
            if path.startswith(PATIENT_PREFIX):
                response._contract_checked = True  # the last redirect hop comes back twice
                _inspect(request.method, path, response.status_code, response.headers,
                         response.mimetype, response.get_data)
        return response

    def send(self, request, **kwargs):
        response = _originals["requests"](self, request, **kwargs)
        if _found is not None and PATIENT_PREFIX in request.url:
            path = urlsplit(request.url).path
            if path.startswith(PATIENT_PREFIX):
                mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
                _inspect(request.method, path, response.status_code, response.headers,
                         mimetype, lambda: response.content)
        return response

    werkzeug.test.Client.open = open
    requests.Session.send = send


def _uninstall() -> None:
    global _installed
    _installed -= 1
    if _installed > 0 or not _originals:
        return
    import requests
    import werkzeug.test

    werkzeug.test.Client.open = _originals.pop("werkzeug")
    requests.Session.send = _originals.pop("requests")


def _inspect(method: str, path: str, status: int, headers, mimetype: str, read) -> None:
    """Check one patient-facing response and record its violations in the current phase."""
    if not _is_json(mimetype):
        return
    try:
        payload = json.loads(read())
    except ValueError:
        _record(method, path, status, [f"the body is not JSON although it says {mimetype}"])
        return
    if _is_enforced_violation(payload):
        # The service's enforce mode already checked it: report what the service found.
        lines = [f"{v.get('rule')} at {v.get('path')}: {v.get('message')} "
                 f"(observed {v.get('observed')!r}; threshold: {v.get('threshold')})"
                 for v in payload.get("violations", []) if isinstance(v, dict)]
        _record(method, path, status, lines)
        return
    from contracts.accessibility import check

    locale = (headers.get("Content-Language") or "en").split(",")[0].strip() or "en"
    violations = check(payload, locale=locale, headers=dict(headers))
    if violations:
        _record(method, path, status, [str(v) for v in violations])


def _is_json(mimetype: str) -> bool:
    mimetype = (mimetype or "").lower()
    return mimetype == "application/json" or mimetype.endswith("+json")


def _is_enforced_violation(payload) -> bool:
    return (isinstance(payload, dict) and isinstance(payload.get("type"), str)
            and payload["type"].endswith(VIOLATION_TYPE_SUFFIX))


def _record(method: str, path: str, status: int, lines: list[str]) -> None:
    if _found is None:
        return
    _found.append(f"{method} {path} -> {status} (at {_caller()})\n"
                  + "\n".join(f"  - {line}" for line in lines))


def _caller() -> str:
    """Return file:line of the innermost frame outside this plugin and installed packages."""
    here = os.path.abspath(__file__)
    for frame in reversed(traceback.extract_stack()[:-3]):
        name = os.path.abspath(frame.filename)
        if name != here and "site-packages" not in name and "/lib/python" not in name:
            return f"{os.path.relpath(name)}:{frame.lineno}"
    return "unknown"
