"""The equity report's arithmetic: groups, rates, the ratio to the best group, the 0.8 flag."""
import datetime as dt

import pytest

from services.exchange.domain.equity import (Exchange, Patient, Thresholds, age_band, build_report,
                                             language_group)

TODAY = dt.date(2026, 6, 15)


def people(prefix: str, n: int, activated: int, **demographics) -> list[Patient]:
    """N patients sharing DEMOGRAPHICS, the first ACTIVATED of whom opened an account."""
    return [Patient(f"{prefix}-{i}", activated=i < activated, **demographics) for i in range(n)]


def requests(patients: list[Patient], n: int, fulfilled: int, seconds: float) -> list[Exchange]:
    """N decided requests spread over PATIENTS, FULFILLED of them released after SECONDS."""
    return [Exchange(patients[i % len(patients)].id, i < fulfilled, seconds if i < fulfilled else None)
            for i in range(n)]


def population(es_activated: int, es_fulfilled: int, es_seconds: float):
    """100 English and 100 Spanish speakers, each group with 50 decided exchange requests."""
    en = people("en", 100, 80, language="en-US", sex="female", birth_date="1980-01-01")
    es = people("es", 100, es_activated, language="es", sex="female", birth_date="1980-01-01")
    exchanges = requests(en, 50, 45, 100.0) + requests(es, 50, es_fulfilled, es_seconds)
    return en + es, exchanges


def test_a_population_without_a_disparity_raises_no_flag():
    patients, exchanges = population(es_activated=78, es_fulfilled=44, es_seconds=110.0)
    report = build_report(patients, exchanges, TODAY)
    assert report.flags() == []
    es = report.groupings["language"]["es"]
    assert es["activation"].judged and es["activation"].ratio == pytest.approx(78 / 80)


def test_a_population_with_a_disparity_flags_the_group_on_every_measure_it_fares_worse():
    patients, exchanges = population(es_activated=50, es_fulfilled=30, es_seconds=400.0)
    report = build_report(patients, exchanges, TODAY)
    assert [(g, grp, m) for g, grp, m, _ in report.flags()] == [
        ("language", "es", "activation"), ("language", "es", "permitted_exchanges"),
        ("language", "es", "time_to_fulfil_p50")]
    es, en = report.groupings["language"]["es"], report.groupings["language"]["en"]
    assert es["activation"].count == 50 and es["activation"].cases == 100
    assert es["activation"].ratio == pytest.approx(0.5 / 0.8)
    assert es["permitted_exchanges"].ratio == pytest.approx((30 / 50) / (45 / 50))
    assert es["time_to_fulfil_p50"].value == 400.0 and es["time_to_fulfil_p50"].ratio == pytest.approx(0.25)
    assert not any(cell.flagged for cell in en.values()) and en["activation"].ratio == 1.0


def test_a_ratio_of_exactly_the_threshold_is_not_flagged():
    patients, exchanges = population(es_activated=64, es_fulfilled=45, es_seconds=100.0)
    cell = build_report(patients, exchanges, TODAY).groupings["language"]["es"]["activation"]
    assert cell.ratio == pytest.approx(0.8) and not cell.flagged


def test_a_group_under_30_cases_is_listed_but_neither_judged_nor_flagged_nor_the_best():
    patients, exchanges = population(es_activated=78, es_fulfilled=44, es_seconds=110.0)
    alike = dict(sex="female", birth_date="1980-01-01")
    patients += people("pt", 5, 5, language="pt", **alike) + people("vi", 29, 0, language="vi", **alike)
    report = build_report(patients, exchanges, TODAY)
    pt, vi = report.groupings["language"]["pt"]["activation"], report.groupings["language"]["vi"]["activation"]
    assert (pt.cases, pt.judged, pt.flagged, pt.ratio) == (5, False, False, pytest.approx(1 / 0.8))
    assert (vi.cases, vi.value, vi.judged, vi.flagged) == (29, 0.0, False, False)
    assert report.flags() == []  # the perfect small group did not become the yardstick


def test_a_group_under_2_percent_of_the_cases_is_not_judged_even_with_30_cases():
    big = people("en", 1600, 1200, language="en")
    small = people("ko", 31, 0, language="ko")  # 31 of 1631 cases: 1.9 %
    cell = build_report(big + small, [], TODAY).groupings["language"]["ko"]["activation"]
    assert cell.cases == 31 and not cell.judged and not cell.flagged


def test_every_grouping_is_reported_and_unknown_values_form_their_own_group():
    patients = people("a", 40, 30, language="en", sex="male", birth_date="2015-01-01",
                      interpreter_needed=False, proxy_managed=True) + people("b", 40, 30)
    report = build_report(patients, [], TODAY)
    assert list(report.groupings) == ["language", "age_band", "sex", "proxy_managed", "interpreter_needed"]
    assert list(report.groupings["age_band"]) == ["0-17", "unknown"]
    assert list(report.groupings["proxy_managed"]) == ["no", "yes"]
    assert list(report.groupings["interpreter_needed"]) == ["no", "unknown"]


def test_an_exchange_for_a_patient_the_report_does_not_know_counts_as_unknown():
    report = build_report([], [Exchange("ghost", True, 5.0)], TODAY)
    assert report.groupings["sex"]["unknown"]["permitted_exchanges"].cases == 1


def test_when_every_judged_group_is_at_zero_there_is_no_gap_to_flag():
    report = build_report(people("a", 40, 0, sex="male") + people("b", 40, 0, sex="female"), [], TODAY)
    cells = report.groupings["sex"]
    assert all(c["activation"].ratio is None and not c["activation"].flagged for c in cells.values())


def test_custom_thresholds_change_what_is_judged_and_flagged():
    patients, exchanges = population(es_activated=70, es_fulfilled=44, es_seconds=110.0)
    strict = build_report(patients, exchanges, TODAY, Thresholds(ratio=0.9, min_cases=10))
    assert ("language", "es", "activation") in [f[:3] for f in strict.flags()]
    lax = build_report(patients, exchanges, TODAY, Thresholds(min_cases=500))
    assert lax.flags() == [] and not lax.groupings["language"]["es"]["activation"].judged


@pytest.mark.parametrize("born,band", [
    ("2008-06-16", "0-17"), ("2008-06-15", "18-39"), ("1986-06-15", "40-64"), ("1961-06-16", "40-64"),
    ("1961-06-15", "65+"), ("1950", "65+"), ("2026-07-01", "unknown"), (None, "unknown"), ("1990-02-30", "unknown"),
])
def test_age_bands_count_birthdays_and_partial_dates(born, band):
    assert age_band(born, TODAY) == band


def test_languages_group_by_their_primary_subtag():
    assert [language_group(t) for t in ("en-US", "EN-gb", "es", None)] == ["en", "en", "es", "unknown"]
