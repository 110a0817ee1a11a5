"""Migration 0002 indexes what 0001 stored, and goes down again (SQLite and PostgreSQL)."""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import command

from services.common.db import make_engine
from services.records import MIGRATIONS_DIR
from tests.support.databases import alembic_config


def _alembic(url, conn):
    return alembic_config(MIGRATIONS_DIR, url, conn)


def test_revision_0002_backfills_the_search_index_and_downgrades_cleanly(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0001")
            obs = {"resourceType": "Observation", "id": "o1", "status": "final", "effectiveDateTime": "2020-03-04",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}}
            conn.execute(sa.text("INSERT INTO resources (resource_type, id, version_id, last_updated, patient_id,"
                                 " custodian, content) VALUES ('Observation', 'o1', 1, :t, 'p', 'primary-care', :c)"),
                         {"t": datetime.now(timezone.utc), "c": json.dumps(obs)})
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "head")
        with engine.connect() as conn:
            tokens = conn.execute(sa.text("SELECT param, system, code FROM resource_tokens")).all()
            main_date = conn.execute(sa.text("SELECT main_date FROM resources")).scalar()
        assert [tuple(t) for t in tokens] == [("code", "http://loinc.org", "8867-4")]
        assert str(main_date).startswith("2020-03-04")
        with engine.begin() as conn:
            command.downgrade(_alembic(database_url, conn), "0001")
        with engine.connect() as conn:
            assert "resource_tokens" not in sa.inspect(conn).get_table_names()
            assert "main_date" not in {c["name"] for c in sa.inspect(conn).get_columns("resources")}
    finally:
        engine.dispose()


def test_revision_0006_adds_the_tombstones_of_deleted_resources_and_downgrades_cleanly(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0005")
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0006")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("deleted_resources")}
        assert columns == {"resource_type", "id", "version_id", "deleted_at", "patient_id", "custodian"}
        with engine.begin() as conn:
            command.downgrade(_alembic(database_url, conn), "0005")
        with engine.connect() as conn:
            assert "deleted_resources" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_revision_0007_places_the_rows_an_older_database_holds_in_the_patients_list_and_downgrades_cleanly(
        database_url):
    from services.records.domain.plain_language import page_place

    rows = {("Observation", f"o{i}"): {"resourceType": "Observation", "id": f"o{i}", "status": "final",
                                       "effectiveDateTime": f"2020-03-{i % 28 + 1:02d}T10:00:00+00:00",
                                       "category": [{"coding": [{"code": "laboratory"}]}]}
            for i in range(2500)}  # more than one batch of the backfill
    rows[("Condition", "undated")] = {"resourceType": "Condition", "id": "undated", "code": {"text": "Asthma"}}
    rows[("Patient", "p")] = {"resourceType": "Patient", "id": "p", "birthDate": "1980-01-01"}
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0006")
            conn.execute(sa.text("INSERT INTO resources (resource_type, id, version_id, last_updated, patient_id,"
                                 " custodian, content) VALUES (:rt, :id, 1, :t, 'p', 'primary-care', :c)"),
                         [{"rt": rt, "id": rid, "t": datetime.now(timezone.utc), "c": json.dumps(doc)}
                          for (rt, rid), doc in rows.items()])
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0007")
        with engine.connect() as conn:
            placed = {(r.resource_type, r.id): (r.page_date, r.page_category) for r in conn.execute(sa.text(
                "SELECT resource_type, id, page_date, page_category FROM resources"))}
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("resources")}
        assert placed == {key: (page_place(doc).date, page_place(doc).category) for key, doc in rows.items()}
        assert placed[("Observation", "o0")] == ("2020-03-01T10:00:00", "laboratory")
        assert placed[("Condition", "undated")] == ("", "conditions")
        assert placed[("Patient", "p")] == ("", None)
        assert "ix_resources_patient_page" in indexes
        with engine.connect() as conn:  # every patient with listed records has a stamp of its own
            stamps = conn.execute(sa.text("SELECT patient_id, epoch, changes FROM compartment_stamps")).all()
        assert [(p, changes) for p, _epoch, changes in stamps] == [("p", 0)] and len(stamps[0][1]) == 32
        with engine.begin() as conn:
            command.downgrade(_alembic(database_url, conn), "0006")
        with engine.begin() as conn:  # and again: the patient's stamp is a new one, not the ETag of before
            command.upgrade(_alembic(database_url, conn), "0007")
            again = conn.execute(sa.text("SELECT epoch FROM compartment_stamps WHERE patient_id = 'p'")).scalar()
            assert again != stamps[0][1]
            command.downgrade(_alembic(database_url, conn), "0006")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("resources")}
            assert not {"page_date", "page_category"} & columns
            assert "compartment_stamps" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
