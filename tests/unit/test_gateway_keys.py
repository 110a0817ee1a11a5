"""The signing key: created once, private to its owner, published without private parts."""
from __future__ import annotations

import json
import multiprocessing
import os
import stat

from gateway.authz.keys import KEY_FILE, load_or_create_signing_key, public_jwks


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
    jwks = public_jwks(key)
    (published,) = jwks["keys"]
    assert published["kid"] == key.kid and published["kty"] == "RSA" and published["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)
    assert len(json.dumps(jwks)) < 1000
    assert os.path.getsize(tmp_path / KEY_FILE) > 1000
