"""Account activation over real HTTP: tries are limited per visitor and per code, not for
everyone at once."""
from __future__ import annotations

import re

import pytest
import requests

from gateway.accounts.forwarded import HEADER
from tests.security.gateway_server import GatewayServer

STRANGER, PATIENT_HOME = "203.0.113.7", "198.51.100.2"
TOO_MANY = "Too many tries to open an account"


@pytest.fixture
def make_gateway(tmp_path, database_url):
    started = []

    def make(**overrides) -> GatewayServer:
        gw = GatewayServer(tmp_path / f"gw{len(started)}", database_url,
                           ACTIVATION_ATTEMPTS_PER_MINUTE=3, **overrides).__enter__()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.__exit__(None, None, None)


class Visitor:
    """A browser at ADDRESS (behind the trusted proxy) using the portal's activation page."""

    def __init__(self, gw: GatewayServer, address: str):
        self.gw, self.http = gw, requests.Session()
        self.http.headers["X-Forwarded-For"] = address

    def activate(self, code: str, username: str = "maria") -> requests.Response:
        page = self.http.get(self.gw.url + "/portal/activate", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.http.post(self.gw.url + "/portal/activate", timeout=30, data={
            "csrf_token": token, "code": code, "day": "2", "month": "4", "year": "1961",
            "username": username, "password": "a long passphrase"})


def api_activate(gw: GatewayServer, code: str, **headers) -> requests.Response:
    return requests.post(gw.url + "/accounts/v1/activate", timeout=30, headers=headers, json={
        "code": code, "birth_date": "1961-04-02", "username": "maria",
        "password": "a long passphrase"})


def test_one_visitors_bad_tries_do_not_block_another_visitors_activation_through_the_portal(make_gateway):
    gw = make_gateway(trusted_proxies=1)
    code = gw.activation_code()
    stranger = Visitor(gw, STRANGER)
    answers = [stranger.activate(f"WXYZ-WXYZ-WXY{n}", f"guess{n}") for n in "2345"]
    assert TOO_MANY in answers[-1].text and all(TOO_MANY not in a.text for a in answers[:3])
    done = Visitor(gw, PATIENT_HOME).activate(code)
    assert done.status_code == 200 and TOO_MANY not in done.text, done.text


def test_tries_on_one_code_are_limited_whoever_sends_them(make_gateway):
    gw = make_gateway(trusted_proxies=1)
    code = gw.activation_code()
    statuses = [api_activate(gw, code.lower(), **{"X-Forwarded-For": f"192.0.2.{n}",
                                                  "Content-Type": "application/json"}).status_code
                for n in range(3)]
    # The username is taken after the first; the code is what the other tries have in common.
    assert statuses[0] == 201
    again = api_activate(gw, code, **{"X-Forwarded-For": "192.0.2.9"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1


def test_a_client_cannot_escape_the_limit_with_forwarding_headers_of_its_own(make_gateway):
    gw = make_gateway()  # no proxy trusted: the default
    forged = [api_activate(gw, f"WXYZ-WXYZ-WXY{n}", **{
        "X-Forwarded-For": f"192.0.2.{n}", HEADER: f"192.0.2.{n} 1999999999 {'0' * 64}"})
        for n in "2345"]
    assert [r.status_code for r in forged] == [400, 400, 400, 429]
