"""The e2e tier: the whole stack as real processes, on SQLite and on PostgreSQL."""
import pytest

from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available
from tests.support.stack import SERVICES, Stack


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    """A running stack with the demo seeded, shared by the e2e modules; stopped (as by Ctrl-C) at the end."""
    urls = {}
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
        urls = {name: create_postgres_database(f"phr_e2e_{name}") for name in SERVICES}
    try:
        with Stack(tmp_path_factory.mktemp(f"stack-{request.param}"), urls) as s:
            yield s
    finally:
        for url in urls.values():
            drop_postgres_database(url)
