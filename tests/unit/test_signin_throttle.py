"""The sign-in throttle's arithmetic, the device cookies and the portal's signed client
address (pure code)."""
import pytest

from gateway.accounts.devices import LIFETIME_SECONDS, DeviceCookies
from gateway.accounts.forwarded import HEADER, AddressVoucher
from gateway.accounts.throttle import (SignInPolicy, address_key, device_key, told_wait, username_key,
                              whole_seconds)


def test_the_first_wrong_tries_cost_no_wait_then_the_wait_doubles_up_to_the_cap():
    policy = SignInPolicy(free_failures=5, base_seconds=1.0, cap_seconds=300.0)
    assert [policy.delay(n) for n in range(5)] == [0.0] * 5
    assert [policy.delay(n) for n in range(5, 11)] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert policy.delay(14) == 300.0 and policy.delay(10 ** 6) == 300.0


def test_the_password_check_budget_refills_at_its_rate_up_to_its_burst():
    policy = SignInPolicy(checks_per_minute=30.0, check_burst=30)
    assert policy.refill(0.0, 100.0, 102.0) == pytest.approx(1.0)
    assert policy.refill(29.5, 100.0, 1000.0) == 30.0
    assert policy.refill(5.0, 100.0, 90.0) == 5.0  # a clock that steps back adds nothing
    assert policy.budget_wait(0.5) == pytest.approx(1.0)


@pytest.mark.parametrize("wait,shown", [(0.01, 1), (1.0, 1), (1.2, 2), (299.5, 300)])
def test_a_wait_is_told_in_whole_seconds_rounded_up(wait, shown):
    assert whole_seconds(wait) == shown


@pytest.mark.parametrize("wait,told", [(0.2, ("seconds", 2, 2)), (89.5, ("seconds", 90, 90)),
                                       (91.0, ("minutes", 2, 120)), (300.0, ("minutes", 5, 300))])
def test_a_wait_is_told_in_seconds_up_to_a_minute_and_a_half_then_in_minutes(wait, told):
    assert told_wait(wait) == told


def test_counter_keys_never_hold_what_was_typed():
    typed = "my secret password"
    assert typed not in username_key(typed) and len(username_key(typed)) == 64
    assert username_key("ana") != address_key("ana")
    assert len(username_key("x" * 100_000)) == 64
    assert device_key("ana", "n1") not in (username_key("ana"), device_key("ana", "n2"))
    assert len(device_key("x" * 100_000, "n")) == 64


def test_a_device_cookie_names_its_username_only_to_the_gateway():
    cookies = DeviceCookies(b"k" * 32)
    value = cookies.issue("maria", at=1_000)
    nonce = cookies.nonce(value, "maria", at=1_000)
    assert nonce and "maria" not in value and len(value) < 200
    assert cookies.issue("maria", at=1_000) != value  # a fresh nonce each sign-in
    assert cookies.nonce(value, "maria", at=1_000 + LIFETIME_SECONDS) == nonce


@pytest.mark.parametrize("tamper,username,at", [
    (lambda v: v, "ana", 1_000),  # another username's cookie
    (lambda v: v, "maria", 1_000 + LIFETIME_SECONDS + 1),  # expired
    (lambda v: v, "maria", 1_000 - 3600),  # issued in the future
    (lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"), "maria", 1_000),  # changed signature
    (lambda v: v.replace(".1000.", ".1001."), "maria", 1_000),  # changed time
    (lambda v: DeviceCookies(b"j" * 32).issue("maria", at=1_000), "maria", 1_000),  # another key
    (lambda v: v + "." + v, "maria", 1_000),
    (lambda v: "", "maria", 1_000),
    (lambda v: "a.b." + "9" * 5000 + ".c", "maria", 1_000),  # past int()'s digit limit
    (lambda v: v[:-1] + "é", "maria", 1_000),  # a non-ASCII signature
])
def test_a_forged_expired_or_another_usernames_device_cookie_is_not_believed(tamper, username, at):
    cookies = DeviceCookies(b"k" * 32)
    assert cookies.nonce(tamper(cookies.issue("maria", at=1_000)), username, at=at) is None


def test_the_portal_vouches_for_an_address_the_api_believes():
    voucher = AddressVoucher(b"k" * 32)
    value = voucher.headers("198.51.100.2", at=1_000)[HEADER]
    assert voucher.address(value, at=1_030) == "198.51.100.2"


@pytest.mark.parametrize("tamper", [
    lambda v: v.replace("198.51.100.2", "198.51.100.3"),  # another address, same signature
    lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),  # a changed signature
    lambda v: "198.51.100.2 1000 " + "0" * 64,
    lambda v: "",
    lambda v: "198.51.100.2",
    lambda v: "a b c d",
    lambda v: "198.51.100.2 " + "9" * 5000 + " x",  # a stamp past int()'s digit limit
    lambda v: v[:-1] + "\u00e9",  # a non-ASCII signature (compare_digest refuses str of it)
])
def test_a_forged_or_altered_address_is_not_believed(tamper):
    voucher = AddressVoucher(b"k" * 32)
    value = voucher.headers("198.51.100.2", at=1_000)[HEADER]
    assert voucher.address(tamper(value), at=1_000) is None


def test_a_vouched_address_is_believed_only_briefly_and_only_with_the_same_key():
    voucher = AddressVoucher(b"k" * 32)
    value = voucher.headers("198.51.100.2", at=1_000)[HEADER]
    assert voucher.address(value, at=1_000 + 61) is None
    assert AddressVoucher(b"j" * 32).address(value, at=1_000) is None


def test_an_ipv6_host_counts_as_its_slash_64_and_a_mapped_ipv4_as_itself():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:198.51.100.7") == address_key("198.51.100.7")
    assert address_key("198.51.100.7") != address_key("198.51.100.8")
    assert address_key("not an address") == address_key("not an address")
