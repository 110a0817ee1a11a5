"""Events are checked against their JSON Schemas before they enter the outbox."""
import logging

import pytest

from contracts.events import EventChecker, EventContractError, problems
from services.common import envelope


def _imported(**data):
    body = {"patient": "p-1", "custodian": "primary-care", "resource_count": 2,
            "resource_types": {"Observation": 2}, "imported_at": "2026-01-01T00:00:00+00:00", **data}
    return envelope.new_event("phr.records.imported", "/services/records", "p-1", body)


def test_a_well_formed_records_imported_event_conforms():
    assert problems(_imported()) == []


@pytest.mark.parametrize("change", [{"resource_count": 0}, {"resource_count": "two"}, {"extra": 1},
                                    {"imported_at": "yesterday"}])
def test_a_records_imported_event_with_bad_data_breaks_its_contract(change):
    assert problems(_imported(**change))


def test_an_event_type_the_contract_does_not_know_is_a_violation():
    event = envelope.new_event("phr.records.exploded", "/services/records", "p", {})
    assert "not in the contract" in problems(event)[0]


def test_enforce_mode_refuses_a_bad_event(caplog):
    with pytest.raises(EventContractError):
        EventChecker("enforce").check(_imported(resource_count=-1))


def test_report_mode_logs_a_bad_event_and_lets_it_pass(caplog):
    checker = EventChecker("report")
    with caplog.at_level(logging.WARNING):
        checker.check(_imported(resource_count=-1))
    assert checker.violations == 1 and "breaks its contract" in caplog.text


def test_off_mode_checks_nothing():
    checker = EventChecker("off")
    checker.check(_imported(resource_count=-1))
    assert checker.violations == 0
