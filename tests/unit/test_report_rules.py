"""The rules of reports (services/exchange/domain/reports.py): who may report what, what an
anonymous report keeps, the reference read aloud, and how a report moves."""
from datetime import datetime, timedelta, timezone

import pytest

from services.exchange.domain import reports as rules
from services.exchange.domain.reports import Report, hard_words

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _report(**kw) -> Report:
    return Report(**{"id": "r-1", "reference": "R-0000-0000-0000", "kind": "system-problem", "about": {},
                     "text": "Slow.", "reporter_kind": "patient", "language": "en", "received_at": T0, **kw})


def test_a_reference_is_read_aloud_in_three_groups_without_letters_that_look_like_digits():
    made = {rules.new_reference() for _ in range(200)}
    assert len(made) == 200
    for ref in made:
        assert len(ref) == 16 and ref.startswith("R-") and not set(ref) & set("ILOU")


def test_a_reference_typed_back_by_a_person_finds_the_stored_one():
    assert rules.normal_reference("r 7kq2 m9xd 4htw") == "R-7KQ2-M9XD-4HTW"
    assert rules.normal_reference("R-0O1I-L000-0000") == "R-0011-1000-0000"
    assert rules.normal_reference("RKQ2-M9XD-4HTW") == "R-RKQ2-M9XD-4HTW"  # R is a code letter too
    assert rules.normal_reference("R-7KQ2") == ""


@pytest.mark.parametrize("kind, reporter, anonymous, refused", [
    ("safety", "patient", False, "kind"), ("safety", "caregiver", False, "kind"),
    ("system-problem", "patient", True, "anonymous"), ("system-problem", "caregiver", True, "anonymous"),
    ("safety", "staff", True, None), ("wrong-information", "patient", False, None),
])
def test_only_staff_report_safety_incidents_and_only_staff_report_without_their_name(kind, reporter, anonymous,
                                                                                      refused):
    if refused is None:
        rules.check_reporter(kind, reporter, anonymous)
        return
    with pytest.raises(rules.Refused) as exc:
        rules.check_reporter(kind, reporter, anonymous)
    assert exc.value.code == refused


def test_each_kind_points_at_its_own_thing():
    assert rules.check_about("wrong-information", {"resource_type": "Condition", "id": "c-1", "page": "x"}) == {
        "resource_type": "Condition", "id": "c-1"}
    assert rules.check_about("safety", {"page": "x"}) == {}
    for kind, about in (("wrong-information", {"id": "c-1"}), ("hard-to-understand", {"page": "/portal"}),
                        ("wrong-access", {})):
        with pytest.raises(rules.Refused):
            rules.check_about(kind, about)


def test_an_anonymous_report_keeps_its_department_only_from_five_staff():
    assert rules.shown_department("emergency", 4) is None
    assert rules.shown_department("emergency", 0) is None
    assert rules.shown_department("emergency", 5) == "emergency"


def test_an_anonymous_report_keeps_only_the_day_it_came_in_utc():
    late = datetime(2026, 3, 1, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=-5)))  # 04:59 UTC on the 2nd
    assert rules.received_time(late, anonymous=True) == datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert rules.received_time(late, anonymous=False) == late


def test_a_triage_needs_the_version_read_moves_forward_and_stops_at_closed():
    report = _report()
    with pytest.raises(rules.Unconditional):
        report.triage(None, T0)
    with pytest.raises(rules.Stale):
        report.triage(2, T0)
    moved, changed = report.triage(1, T0 + timedelta(hours=1), status="acted-on", note=" Fixed. ")
    assert changed == ["status", "note"] and moved.version == 2 and moved.note == "Fixed."
    assert moved.acknowledged_at == T0 + timedelta(hours=1) and moved.closed_at is None
    with pytest.raises(rules.Backwards):
        moved.triage(2, T0, status="looking-into-it")
    closed, _ = moved.triage(2, T0 + timedelta(days=2), status="closed")
    assert closed.closed_at == T0 + timedelta(days=2) and closed.acknowledged_at == moved.acknowledged_at
    with pytest.raises(rules.Closed):
        closed.triage(3, T0, note="Again")
    same, nothing = moved.triage(2, T0, status="acted-on")
    assert nothing == [] and same is moved


def test_an_anonymous_report_names_nobody():
    assert _report(reporter_kind="anonymous-staff", staff=None).reporter() == {"kind": "anonymous-staff"}


def test_hard_words_are_counted_by_language_and_page_however_spaced_or_capitalised():
    pointed = [("es", {"page": "/a", "words": "Sus Expedientes"}), ("es", {"page": "/a", "words": " sus  expedientes"}),
               ("en", {"page": "/a", "words": "Sus Expedientes"}), ("es", {"page": "/b", "words": "sus expedientes"}),
               ("es", {"page": "/a", "words": "   "}), ("es", {"page": "/a"})]
    assert [(h.language, h.page, h.words, h.count) for h in hard_words(pointed)] == [
        ("es", "/a", "Sus Expedientes", 2), ("en", "/a", "Sus Expedientes", 1), ("es", "/b", "sus expedientes", 1)]
