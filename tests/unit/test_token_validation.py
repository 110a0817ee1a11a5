"""RFC 9068 access-token validation as every service does it."""
import time

import pytest
from joserfc.jwk import RSAKey

from services.common.problem import Problem
from tests.support.tokens import TokenMint


@pytest.fixture(scope="module")
def mint():
    return TokenMint()


def test_a_token_from_the_issuer_is_accepted(mint):
    claims = mint.validator().validate(mint.token(dept="cardiology"))
    assert claims["dept"] == "cardiology"


@pytest.mark.parametrize("change", [
    {"iss": "http://someone-else"}, {"aud": "http://another-api"},
])
def test_a_token_for_another_issuer_or_audience_is_refused(mint, change):
    with pytest.raises(Problem) as info:
        mint.validator().validate(mint.token(**change))
    assert info.value.status == 401


def test_a_token_signed_by_another_key_is_refused(mint):
    other = RSAKey.generate_key(2048, auto_kid=True)
    with pytest.raises(Problem):
        mint.validator().validate(mint.token(key=other))


def test_a_token_that_is_not_an_access_token_is_refused(mint):
    with pytest.raises(Problem, match="not an access token"):
        mint.validator().validate(mint.token(header={"typ": "JWT"}))


def test_an_unsigned_token_is_refused(mint):
    import base64
    import json
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    unsigned = f"{part({'alg': 'none', 'typ': 'at+jwt'})}.{part({'sub': 'x'})}."
    with pytest.raises(Problem):
        mint.validator().validate(unsigned)


@pytest.mark.parametrize("raw", ["", "abc", "a.b.c", "ü.ö.ä"])
def test_garbage_is_a_401_not_a_crash(mint, raw):
    with pytest.raises(Problem) as info:
        mint.validator().validate(raw)
    assert info.value.status == 401


def test_a_cached_token_stops_working_when_it_expires(mint):
    validator = mint.validator()
    validator.leeway = 0
    token = mint.token(lifetime=1)
    validator.validate(token)
    validator.validate(token)  # served from the cache
    time.sleep(2.1)  # past exp whole seconds later, however the clocks round
    with pytest.raises(Problem):
        validator.validate(token)


class GatewayList:
    """The gateway's /oauth/revoked as a RevocationFeed fetch: a dict, or an outage."""

    def __init__(self):
        self.revoked, self.down, self.calls = {}, False, 0

    def __call__(self, _url, _etag):
        self.calls += 1
        if self.down:
            import requests
            raise requests.ConnectionError("gateway away")
        return None, dict(self.revoked)


def _guarded(mint, gateway, **feed):
    from services.common.auth import RevocationFeed
    validator = mint.validator()
    validator.revocations = RevocationFeed("memory://", fetch=gateway, **feed)
    return validator


def test_a_token_revoked_at_the_gateway_is_refused_even_after_it_was_accepted(mint):
    gateway = GatewayList()
    validator = _guarded(mint, gateway, refresh=0.05)
    raw = mint.token()
    jti = validator.validate(raw)["jti"]
    gateway.revoked[jti] = int(time.time()) + 300
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the feed's own thread picks it up, no request waits
        try:
            validator.validate(raw)
        except Problem as refused:
            assert refused.status == 401 and "revoked" in refused.detail
            break
        time.sleep(0.02)
    else:
        pytest.fail("the revoked token was still accepted after 5 s")
    validator.revocations.close()


def test_the_revocation_copy_is_fetched_by_the_first_request_then_by_its_thread_only(mint):
    gateway = GatewayList()
    validator = _guarded(mint, gateway, refresh=60)
    for _ in range(5):
        validator.validate(mint.token())
    assert gateway.calls == 1
    validator.revocations.close()


def test_no_request_calls_the_gateway_once_the_first_copy_is_in_hand(mint):
    """The gateway waits on the services it forwards to: a request here calling it back could stall both."""
    import threading
    gateway, callers = GatewayList(), []
    validator = _guarded(mint, gateway, refresh=0.01)
    validator.validate(mint.token())

    def fetch(url, etag):
        callers.append(threading.current_thread().name)
        return gateway(url, etag)

    validator.revocations._fetch = fetch
    deadline = time.monotonic() + 5
    while len(callers) < 3 and time.monotonic() < deadline:
        validator.validate(mint.token())
        time.sleep(0.01)
    validator.revocations.close()
    assert callers and set(callers) == {"revocation-feed"}


def test_a_revocation_copy_the_gateway_cannot_refresh_fails_closed_once_too_old(mint):
    gateway = GatewayList()
    validator = _guarded(mint, gateway, refresh=0.05, max_staleness=0.3)
    validator.validate(mint.token())
    gateway.down = True
    validator.validate(mint.token())  # the copy in hand is fresh enough
    time.sleep(0.4)
    with pytest.raises(Problem) as info:
        validator.validate(mint.token())
    assert info.value.status == 503
    gateway.down = False
    assert validator.revocations.refresh_now()
    validator.validate(mint.token())
    validator.revocations.close()
