"""The signing keys: created once or given in a file, private to their owner, published without
private parts; the session keys: created once or given in a file."""
from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import stat

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.accounts.devices import DeviceCookies
from gateway.accounts.forwarded import AddressVoucher
from gateway.authz.keys import KEY_FILE, KeyFileError, load_or_create_signing_key, public_jwks, signing_keys
from gateway.portal.secret import session_keys

PRIVATE = {"d", "p", "q", "dp", "dq", "qi"}


def new_key(kid: str | None = None) -> RSAKey:
    parameters = {"use": "sig", "alg": "RS256", **({"kid": kid} if kid else {})}
    return RSAKey.generate_key(2048, parameters=parameters, auto_kid=kid is None)


def write(path, content, mode=0o600):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    path.chmod(mode)
    return path


def test_the_key_is_created_once_with_mode_0600_and_reloaded(tmp_path):
    first = load_or_create_signing_key(tmp_path)
    second = load_or_create_signing_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.kid and first.kid == second.kid
    assert first.as_dict(private=True) == second.as_dict(private=True)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left behind


def _start(var_dir, queue):
    queue.put(load_or_create_signing_key(var_dir).kid)


def test_workers_starting_together_end_with_one_key(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_start, args=(tmp_path, queue)) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    kids = {queue.get(timeout=5) for _ in workers}
    assert len(kids) == 1
    assert kids == {load_or_create_signing_key(tmp_path).kid}


def test_the_published_jwks_has_the_kid_and_no_private_parts(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    jwks = public_jwks(signing_keys(tmp_path, None))
    (published,) = jwks["keys"]
    assert published["kid"] == key.kid and published["kty"] == "RSA" and published["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)
    assert len(json.dumps(jwks)) < 1000
    assert os.path.getsize(tmp_path / KEY_FILE) > 1000


def test_without_a_key_file_the_one_key_in_var_signs_and_is_the_only_one_trusted(tmp_path):
    keys = signing_keys(tmp_path, None)
    assert keys.trusted == (keys.signing,) and (tmp_path / KEY_FILE).exists()


def test_a_single_jwk_file_gives_the_key_that_signs(tmp_path):
    key = new_key("2026-12")
    keys = signing_keys(tmp_path / "var", write(tmp_path / "key.json", key.as_dict(private=True)))
    assert keys.signing.kid == "2026-12" and len(keys.trusted) == 1
    assert not (tmp_path / "var").exists()  # nothing made in var/ when the operator gives the key


def test_a_jwk_set_file_signs_with_the_first_key_and_publishes_and_trusts_them_all(tmp_path):
    old, new = new_key("old"), new_key("new")
    path = write(tmp_path / "keys.json", {"keys": [new.as_dict(private=True), old.as_dict(private=False)]})
    keys = signing_keys(tmp_path, path)
    assert keys.signing.kid == "new" and [k.kid for k in keys.trusted] == ["new", "old"]
    published = public_jwks(keys)["keys"]
    assert [k["kid"] for k in published] == ["new", "old"]
    assert not any(PRIVATE & set(k) for k in published)
    signed_before = jwt.encode({"alg": "RS256", "kid": "old"}, {"sub": "a"}, old)
    assert jwt.decode(signed_before, keys.key_set(), algorithms=["RS256"]).claims == {"sub": "a"}


def test_a_key_without_a_kid_is_known_by_its_thumbprint(tmp_path):
    bare = {k: v for k, v in new_key().as_dict(private=True).items() if k != "kid"}
    keys = signing_keys(tmp_path, write(tmp_path / "key.json", bare))
    assert keys.signing.kid == RSAKey.import_key(bare).thumbprint()
    assert public_jwks(keys)["keys"][0]["kid"] == keys.signing.kid


BAD_SIGNING_FILES = {
    "missing": (None, "cannot be read"),
    "not JSON": ("{not json", "is not JSON"),
    "an empty set": ({"keys": []}, "holds no key"),
    "an EC key": ({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}, "not an RSA JWK"),
    "another algorithm": ({**new_key().as_dict(private=True), "alg": "PS256"}, "not an RSA JWK for RS256"),
    "a broken key": ({"kty": "RSA", "n": "!!", "e": "AQAB"}, "cannot be read"),
    "a public first key": ({"keys": [new_key().as_dict(private=False)]}, "needs its private part"),
    "two keys of one kid": ({"keys": [new_key("k").as_dict(private=True),
                                      new_key("k").as_dict(private=False)]}, "same kid"),
}


@pytest.mark.parametrize("case", BAD_SIGNING_FILES)
def test_a_signing_key_file_that_cannot_be_used_fails_at_start_naming_the_setting(tmp_path, case):
    content, why = BAD_SIGNING_FILES[case]
    path = tmp_path / "key.json" if content is None else write(tmp_path / "key.json", content)
    with pytest.raises(KeyFileError) as failed:
        signing_keys(tmp_path, path)
    assert str(failed.value).startswith(f"GATEWAY_SIGNING_KEY_FILE={path}: ") and why in str(failed.value)


def test_a_key_file_readable_by_others_is_used_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "key.json", new_key().as_dict(private=True), mode=0o644)
    assert signing_keys(tmp_path, path).signing.is_private
    assert "readable by others" in caplog.text


def test_without_a_session_key_file_one_key_is_made_in_var(tmp_path):
    (key,) = session_keys(tmp_path, None)
    assert session_keys(tmp_path, None) == (key,) and len(key) == 32


def test_a_session_key_file_gives_the_signing_key_first_and_the_fallbacks_after(tmp_path):
    new, old = secrets.token_bytes(32), secrets.token_bytes(32)
    path = write(tmp_path / "session", f"# changed 2026-12-06\n{new.hex()}\n\n{old.hex()}\n")
    assert session_keys(tmp_path / "var", path) == (new, old)
    assert not (tmp_path / "var").exists()


BAD_SESSION_FILES = {
    "missing": (None, "cannot be read"),
    "empty": ("\n# nothing yet\n", "holds no key"),
    "not hex": ("not-hex-at-all\n", "line 1 is not a key in hex"),
    "too short": ("00ff\n", "line 1 is a key of 2 bytes"),
    "twice": (("ab" * 32 + "\n") * 2, "the same key twice"),
}


@pytest.mark.parametrize("case", BAD_SESSION_FILES)
def test_a_session_key_file_that_cannot_be_used_fails_at_start_naming_the_setting(tmp_path, case):
    content, why = BAD_SESSION_FILES[case]
    path = tmp_path / "session" if content is None else write(tmp_path / "session", content)
    with pytest.raises(KeyFileError) as failed:
        session_keys(tmp_path, path)
    assert str(failed.value).startswith(f"GATEWAY_SESSION_KEY_FILE={path}: ") and why in str(failed.value)


def test_device_cookies_and_vouched_addresses_of_the_old_session_key_still_count_after_a_change():
    old, new = b"o" * 32, b"n" * 32
    cookie = DeviceCookies(old).issue("maria", at=1_000)
    vouched = AddressVoucher(old).headers("10.0.0.7", at=1_000)["X-PHR-Client-Address"]
    assert DeviceCookies(new, old).nonce(cookie, "maria", at=1_000) is not None
    assert DeviceCookies(new).nonce(cookie, "maria", at=1_000) is None  # once the old key is gone
    assert DeviceCookies(new, old).nonce(cookie, "pedro", at=1_000) is None
    assert AddressVoucher(new, old).address(vouched, at=1_000) == "10.0.0.7"
    assert AddressVoucher(new).address(vouched, at=1_000) is None
    fresh = DeviceCookies(new, old).issue("maria", at=1_000)  # new cookies are signed with the new key
    assert DeviceCookies(new).nonce(fresh, "maria", at=1_000) is not None
