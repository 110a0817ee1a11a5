"""gateway.proxy.routes.BODY_LIMITS: each route's largest body, the sizes the services refuse too."""
import pytest

from gateway.proxy import routes
from services.common import bodies


@pytest.mark.parametrize("method, path, size", [
    ("POST", "/fhir", bodies.BUNDLE),
    ("PUT", "/fhir/Observation/abc", bodies.RESOURCE),
    ("POST", "/consent/v1/decisions", bodies.SMALL),
    ("POST", "/patient/v1/consents", bodies.SMALL),
    ("POST", "/exchange/v1/requests", bodies.SMALL),
    ("GET", "/fhir/Observation", bodies.SMALL),
])
def test_a_route_takes_its_own_size_and_every_other_route_the_small_one(method, path, size):
    assert routes.match(method, path).max_body == size


def test_every_size_names_a_route_of_the_table():
    rows = {(method, pattern) for method, pattern, _rule in routes.ROUTES}
    assert set(routes.BODY_LIMITS) <= rows


def test_the_sizes_are_16_kib_1_mib_and_8_mib():
    assert (bodies.SMALL, bodies.RESOURCE, bodies.BUNDLE) == (64 * 1024, 1024 ** 2, 8 * 1024 ** 2)
    assert bodies.size_text(bodies.SMALL) == "64 KiB" and bodies.size_text(bodies.BUNDLE) == "8 MiB"
    assert bodies.size_text(1000) == "1000 bytes"
