"""Number parameters too long for the database or for int() are a 4xx naming the parameter, not
a 500: a paging cursor past 64 bits (SQLite's OverflowError) and a limit or _count of 5,000
digits (int()'s ValueError past 4,300 digits); so are the records' opaque cursors (base64 JSON)
nested past the json module's recursion limit (its RecursionError)."""
import base64

import pytest
import requests

from tests.support.client import demo_departments, demo_patient_headers

PAST_64_BITS = "100000000000000000000"
FIVE_THOUSAND_DIGITS = "9" * 5000
PATIENT_SCOPE = "openid fhirUser offline_access patient/*.rs"


@pytest.fixture
def database_url(tmp_path):
    """SQLite only, where a number past 64 bits overflows (each test here runs one service)."""
    return f"sqlite:///{tmp_path / 'service.db'}"


def _patient(mint) -> dict:
    return mint.patient("p-1", scope=PATIENT_SCOPE, sub="acct")


def _names(resp, status: int, field: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    assert resp.get_json()["fields"] == [field]


@pytest.mark.parametrize("path", ["/patient/v1/notifications", "/patient/v1/disclosures"])
@pytest.mark.parametrize("field, value", [("cursor", PAST_64_BITS), ("cursor", FIVE_THOUSAND_DIGITS),
                                          ("limit", FIVE_THOUSAND_DIGITS)])
def test_an_exchange_page_parameter_too_long_for_a_number_is_a_422_naming_it(exchange, mint, path, field, value):
    _names(exchange.client.get(path, query_string={field: value}, headers=_patient(mint)), 422, field)


def test_a_records_page_limit_of_five_thousand_digits_is_a_422_naming_it(records, mint):
    resp = records.client.get("/patient/v1/records", query_string={"limit": FIVE_THOUSAND_DIGITS},
                       headers=_patient(mint))
    _names(resp, 422, "limit")


def test_a_fhir_count_of_five_thousand_digits_is_a_400_naming_it(records, mint):
    resp = records.client.get("/fhir/Observation", query_string={"patient": "p-1", "_count": FIVE_THOUSAND_DIGITS},
                       headers=mint.department())
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["issue"][0]["expression"] == ["_count"]


def _deep_cursor(prefix: str = "") -> str:
    return base64.urlsafe_b64encode((prefix + "[" * 3000).encode()).decode().rstrip("=")


def test_a_records_page_cursor_nested_3000_deep_is_a_422_naming_it(records, mint):
    resp = records.client.get("/patient/v1/records", query_string={"cursor": _deep_cursor()}, headers=_patient(mint))
    _names(resp, 422, "cursor")


def test_a_fhir_search_cursor_nested_3000_deep_is_a_400_naming_it(records, mint):
    resp = records.client.get("/fhir/Observation", query_string={"patient": "p-1", "_cursor": _deep_cursor('{"a":')},
                       headers=mint.department())
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["issue"][0]["expression"] == ["_cursor"]


@pytest.mark.parametrize("path", ["/patient/v1/notifications", "/patient/v1/disclosures"])
def test_a_cursor_past_64_bits_is_a_422_through_the_running_stack(stack, path):
    _who, headers = demo_patient_headers(stack, 0, PATIENT_SCOPE)
    resp = requests.get(f"{stack.gateway}{path}", params={"cursor": PAST_64_BITS}, headers=headers, timeout=10)
    assert resp.status_code == 422, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json()["fields"] == ["cursor"]


def test_a_count_of_five_thousand_digits_is_a_400_through_the_running_stack(stack):
    dept = demo_departments(stack)["primary-care"]
    resp = dept.get("/fhir/Observation", params={"patient": "x", "_count": FIVE_THOUSAND_DIGITS})
    assert resp.status_code == 400, resp.text
