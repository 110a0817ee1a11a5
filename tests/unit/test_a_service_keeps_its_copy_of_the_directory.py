"""A service's copy of the directory of departments (services/common/directory.py): kept from
phr.directory.v1 events on a real SQLite database, read from memory, reloaded when stale or
when asked about an id it does not know yet."""
import sqlalchemy as sa
import pytest

from contracts.events import problems
from services.common.db import make_engine
from services.common.directory import Department, Directory, directory_handlers, directory_table, sql_loader
from tests.support.directory import DEMO_DEPARTMENTS, event


class Ticks:
    """A clock the test moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def copy(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/directory.db")
    table = directory_table(sa.MetaData())
    table.create(engine)
    yield engine, table
    engine.dispose()


def apply(engine, table, *events, then=None):
    handlers = directory_handlers(table, then)
    with engine.begin() as conn:
        for e in events:
            handlers[e["type"]](conn, e)


def test_the_demo_departments_as_events_meet_the_contract():
    for d in DEMO_DEPARTMENTS:
        assert problems(event(d["department"])) == []
    assert problems(event("physiotherapy", status="disabled", version=2)) == []


def test_a_registered_department_is_found_with_its_names_kind_and_rights(copy):
    engine, table = copy
    apply(engine, table, event("emergency"), event("physiotherapy", names={"en": "Physiotherapy", "es": "Fisioterapia"}))
    directory = Directory(sql_loader(engine, table))
    emergency = directory.active("emergency")
    assert (emergency.kind, emergency.may_claim_emergencies, emergency.may_write_records) == ("clinical", True, False)
    assert directory.name("physiotherapy", "es") == "Fisioterapia"
    assert directory.name("physiotherapy", "es-MX") == "Fisioterapia"
    assert directory.name("physiotherapy", "pt") == "Physiotherapy"  # no Portuguese name: English
    assert [d.id for d in directory.all()] == ["emergency", "physiotherapy"]


def test_a_disabled_department_is_known_but_not_active(copy):
    engine, table = copy
    apply(engine, table, event("cardiology"), event("cardiology", status="disabled", version=2))
    directory = Directory(sql_loader(engine, table))
    assert directory.get("cardiology").active is False
    assert directory.active("cardiology") is None
    assert directory.name("cardiology", "en") == "Cardiology"  # still named in old notices


def test_an_older_or_repeated_event_changes_nothing(copy):
    engine, table = copy
    told = []
    apply(engine, table, event("cardiology", status="disabled", version=3), then=lambda c, d: told.append(d.active))
    apply(engine, table, event("cardiology", version=2), event("cardiology", status="disabled", version=3),
          then=lambda c, d: told.append(d.active))
    assert told == [False]
    assert Directory(sql_loader(engine, table)).get("cardiology").active is False


def test_a_newer_version_replaces_the_entry(copy):
    engine, table = copy
    apply(engine, table, event("research"), event("research", names={"en": "Research unit", "es": "Unidad de investigación"},
                                                  version=2))
    assert Directory(sql_loader(engine, table)).name("research", "en") == "Research unit"


def test_an_unknown_id_reloads_at_once_but_not_more_than_ten_times_a_second(copy):
    engine, table = copy
    loads = []
    load = sql_loader(engine, table)
    ticks = Ticks()
    directory = Directory(lambda: loads.append(1) or load(), refresh_seconds=60, clock=ticks)
    assert directory.get("physiotherapy") is None
    apply(engine, table, event("physiotherapy"))
    ticks.now += 0.05
    assert directory.get("physiotherapy") is None and len(loads) == 2  # a miss just before: not again
    ticks.now += 0.2
    assert directory.get("physiotherapy").id == "physiotherapy"
    for _ in range(5):
        assert directory.get("no-such-department") is None
    assert len(loads) == 3  # the miss that found physiotherapy was the last reload for 0.1 s
    ticks.now += 0.2
    assert directory.get("no-such-department") is None
    assert len(loads) == 4


def test_a_stale_copy_is_reloaded_after_refresh_seconds(copy):
    engine, table = copy
    apply(engine, table, event("cardiology"))
    ticks = Ticks()
    directory = Directory(sql_loader(engine, table), refresh_seconds=1.0, clock=ticks)
    assert directory.active("cardiology")
    apply(engine, table, event("cardiology", status="disabled", version=2))
    ticks.now += 0.5
    assert directory.active("cardiology")  # read from memory until stale
    ticks.now += 0.6
    assert directory.active("cardiology") is None


@pytest.mark.parametrize("value", [None, 7, ["cardiology"]])
def test_a_value_that_is_not_an_id_is_not_a_department(value):
    assert Directory.of([Department("cardiology", {"en": "Cardiology"}, "clinical")]).get(value) is None


def test_an_entry_of_an_unknown_kind_is_refused(copy):
    engine, table = copy
    with pytest.raises(ValueError):
        apply(engine, table, event("cardiology", kind="billing"))
    assert Directory(sql_loader(engine, table)).all() == []


def test_an_oversight_department_holds_no_patient_data():
    oversight = Department.from_event_data(event("oversight")["data"])
    assert oversight.holds_patient_data is False
    assert Department.from_event_data(event("research")["data"]).holds_patient_data is True
