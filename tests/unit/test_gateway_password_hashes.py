"""The gateway hashes passwords with argon2-cffi's default parameters; only a test suite's app
config makes them cheaper (CHEAP_HASHES in tests/support/gateway.py)."""
from argon2 import extract_parameters, profiles

from gateway.accounts.signin import password_hasher
from gateway.app import create_app
from tests.support.gateway import CHEAP_HASHES


def _staff_hasher(tmp_path, **config):
    app = create_app({"TESTING": True, "var_dir": tmp_path, "database_url": f"sqlite:///{tmp_path}/gw.db",
                      **config})
    return app.extensions["gateway"].stores.staff.hasher


def test_passwords_are_hashed_with_argon2id_at_rfc_9106_low_memory_cost_by_default(tmp_path):
    assert extract_parameters(password_hasher().hash("a passphrase")) == profiles.RFC_9106_LOW_MEMORY
    hashed = _staff_hasher(tmp_path).hash("a passphrase")
    assert extract_parameters(hashed) == profiles.RFC_9106_LOW_MEMORY


def test_a_test_suite_makes_hashing_cheaper_through_the_app_config(tmp_path):
    hashed = _staff_hasher(tmp_path, PASSWORD_HASH_PARAMETERS=CHEAP_HASHES).hash("a passphrase")
    assert extract_parameters(hashed) == CHEAP_HASHES
    assert CHEAP_HASHES != profiles.RFC_9106_LOW_MEMORY
