"""Anyone may report a problem, and quality staff triage the reports and read the measures:
clients registered before are given the scopes this needs, so an upgraded deployment's people
get them at their next sign-in (tokens issued before keep the scopes they had).

- the staff console (phr-console): ``user/Report.cr`` (any member of staff reports and follows
  their own), ``user/Report.rsu`` (quality triages) and ``user/Measure.rs`` (quality and
  privacy officers read the measures);
- patient-facing clients that read a patient's records (the portal): ``patient/Report.c``.

(``make up`` and ``python -m gateway.admin console`` also write the console's whole scope.)

Revision ID: 0013_report_and_measure_scopes
Revises: 0012_console_disclosures_scope
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_report_and_measure_scopes"
down_revision = "0012_console_disclosures_scope"
branch_labels = None
depends_on = None

_CONSOLE = "phr-console"
_CONSOLE_SCOPES = ("user/Report.cr", "user/Report.rsu", "user/Measure.rs")
_PATIENT_REPORT = "patient/Report.c"
# A patient-facing client: one that reads a patient's records.
_READS_RECORDS = ("patient/*.rs", "patient/*.read", "patient/*.r", "patient/*.*", "patient/*.cruds")
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def _rows(conn):
    return conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "portal")).all()


def _write(conn, client_id: str, words: list[str]) -> None:
    conn.execute(clients.update().where(clients.c.client_id == client_id).values(scope=" ".join(words)))


def upgrade() -> None:
    conn = op.get_bind()
    for client_id, scope in _rows(conn):
        words = (scope or "").split()
        if client_id == _CONSOLE:
            _write(conn, client_id, [w for w in words if w not in _CONSOLE_SCOPES] + list(_CONSOLE_SCOPES))
        elif _PATIENT_REPORT not in words and any(w in _READS_RECORDS for w in words):
            _write(conn, client_id, [*words, _PATIENT_REPORT])


def downgrade() -> None:
    conn = op.get_bind()
    for client_id, scope in _rows(conn):
        words = (scope or "").split()
        gone = _CONSOLE_SCOPES if client_id == _CONSOLE else (_PATIENT_REPORT,)
        if any(w in gone for w in words):
            _write(conn, client_id, [w for w in words if w not in gone])
