"""The rules of caregiver grants: rights to scopes, last day, coming of age, status."""
from __future__ import annotations

import datetime as dt

import pytest

from gateway.accounts.caregivers import add_years, coming_of_age, last_day, scope_for, start_of, status
from services.common.problem import Problem

TODAY = dt.date(2026, 11, 25)
ADULT = dt.date(1980, 5, 17)


def test_rights_become_the_scopes_a_caregivers_token_may_carry():
    # seeing the records comes with choosing how one's own notices arrive (patient/Communication.u)
    assert scope_for(["view-records"]) == "openid offline_access patient/*.rs patient/Communication.u"
    assert scope_for("manage-consents view-records") == (
        "openid offline_access patient/Consent.cruds patient/*.rs patient/Communication.u")


def test_only_the_right_to_ask_for_corrections_lets_a_caregiver_file_one():
    from services.common import smart
    assert not smart.allows(scope_for(["view-records", "manage-consents"]), "patient", "Task", "c")
    assert smart.allows(scope_for(["view-records", "request-corrections"]), "patient", "Task", "c")


def test_every_set_of_rights_a_patient_can_choose_has_a_summary_in_words():
    from itertools import combinations

    from contracts.schemas.proxies import RIGHTS
    from gateway.accounts.caregivers import SUMMARY
    chosen = [tuple(sorted(c)) for n in range(1, len(RIGHTS) + 1) for c in combinations(RIGHTS, n)]
    assert sorted(chosen) == sorted(SUMMARY)


def test_a_caregiver_grant_lasts_a_year_by_default():
    assert last_day("caregiver", None, ADULT, TODAY) == (dt.date(2027, 11, 25), False)


@pytest.mark.parametrize("chosen", [TODAY, dt.date(2031, 11, 25)])
def test_a_grant_may_end_from_today_up_to_five_years_on(chosen):
    assert last_day("caregiver", chosen, ADULT, TODAY) == (chosen, False)


@pytest.mark.parametrize("chosen", [dt.date(2026, 11, 24), dt.date(2031, 11, 26)])
def test_an_end_in_the_past_or_beyond_five_years_names_expires_on(chosen):
    with pytest.raises(Problem) as caught:
        last_day("caregiver", chosen, ADULT, TODAY)
    assert caught.value.status == 422 and caught.value.extra["fields"] == ["expires_on"]


def test_a_guardians_last_day_is_the_day_before_the_minors_eighteenth_birthday():
    minor = dt.date(2010, 3, 1)
    assert last_day("guardian", dt.date(2030, 1, 1), minor, TODAY) == (dt.date(2028, 2, 29), True)
    assert last_day("guardian", dt.date(2027, 1, 1), minor, TODAY) == (dt.date(2027, 1, 1), False)


def test_a_minor_who_turns_18_tomorrow_has_a_guardian_for_today_only():
    born = add_years(TODAY + dt.timedelta(days=1), -18)
    assert last_day("guardian", None, born, TODAY) == (TODAY, True)


@pytest.mark.parametrize("born", [ADULT, add_years(TODAY, -18)])
def test_an_adult_cannot_have_a_guardian(born):
    with pytest.raises(Problem) as caught:
        last_day("guardian", None, born, TODAY)
    assert caught.value.extra["fields"] == ["relationship"]


def test_leap_day_births_come_of_age_on_the_first_of_march_in_a_common_year():
    assert coming_of_age(dt.date(2008, 2, 29)) == dt.date(2026, 3, 1)
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)


def test_a_grant_ends_at_midnight_utc_after_its_last_day():
    assert start_of(dt.date(2027, 1, 2)) == 1798848000


@pytest.mark.parametrize("row,expected", [
    ({"revoked_at": 5, "ends_at": 100, "caregiver_account_id": "c"}, "revoked"),
    ({"revoked_at": None, "ends_at": 50, "caregiver_account_id": "c"}, "ended"),
    ({"revoked_at": None, "ends_at": 100, "caregiver_account_id": None}, "invited"),
    ({"revoked_at": None, "ends_at": 100, "caregiver_account_id": "c"}, "active"),
])
def test_a_grants_status_follows_revocation_end_and_joining(row, expected):
    assert status(row, 50) == expected
