"""The directory of departments: a ``departments`` table (each department's whole entry) and
``clients.disabled_at`` (a disabled department's client is refused at the token endpoint).

Departments used to be code; now they are entries an administrator registers, and the other
services learn them from phr.directory.v1 events. So that an upgraded deployment keeps
working, every department client registered before gets an entry, and a registered event for
it is queued in the outbox (the worker relays it as it relays any other):

- its kind from its scopes: oversight when it holds system/Equity.r and nothing else,
  research when it holds no system/*.rs, clinical otherwise;
- a clinical one may write records when its scopes allow system/*.cu, and may claim
  emergencies when it holds system/BreakGlass.c; the others neither;
- its names: its id in words ("physical-therapy" -> "Physical therapy"), which is how the
  code named the demo's departments in English before this revision; in Spanish, the names
  the shared catalog gave those, and the id in words for any other.

The clients keep their scopes as they are; a later change of the entry sets them from it.
A client whose id is not a department id (contracts/vocabulary.py DEPARTMENT_ID_PATTERN) gets
no entry, and a warning says so: the services will refuse its tokens until it is registered
under an id that is one.

Revision ID: 0008_directory
Revises: 0007_portal_corrections_scope
"""
import datetime as dt
import json
import logging
import re
import time

import sqlalchemy as sa
from alembic import op

from contracts.vocabulary import DEPARTMENT_ID_PATTERN
from services.common import smart
from services.common.envelope import new_event, new_traceparent

revision = "0008_directory"
down_revision = "0007_portal_corrections_scope"
branch_labels = None
depends_on = None

#: What the demo's departments were called before this revision where the id in words is not
#: it: their Spanish names (services/common/translations) and the oversight client's English one.
KNOWN_NAMES = {
    "primary-care": {"es": "Atención primaria"},
    "cardiology": {"es": "Cardiología"},
    "emergency": {"es": "Urgencias"},
    "research": {"es": "Investigación"},
    "oversight": {"en": "Oversight team", "es": "Equipo de supervisión"},
}

log = logging.getLogger(__name__)
TOPIC, REGISTERED = "phr.directory.v1", "phr.directory.department-registered"

clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))
outbox = sa.table("outbox", *(sa.column(c) for c in (
    "event_id", "topic", "key", "payload", "traceparent", "created_at")))


def entry(client_id: str, scope: str) -> dict:
    """The entry of a department client registered before the directory, from its scopes."""
    held = (scope or "").split()
    if held == ["system/Equity.r"]:
        kind = "oversight"
    elif not smart.allows(held, "system", "*", "rs"):
        kind = "research"
    else:
        kind = "clinical"
    clinical = kind == "clinical"
    words = client_id.replace("-", " ").capitalize()
    return {"department": client_id,
            "names": {"en": words, "es": words, **KNOWN_NAMES.get(client_id, {})},
            "kind": kind,
            "may_claim_emergencies": clinical and smart.allows(held, "system", "BreakGlass", "c"),
            "may_write_records": clinical and smart.allows(held, "system", "*", "cu"),
            "status": "active", "version": 1}


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("names", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("may_claim_emergencies", sa.Boolean, nullable=False),
        sa.Column("may_write_records", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("disabled_at", sa.Integer))

    conn = op.get_bind()
    departments = sa.table("departments", *(sa.column(c) for c in (
        "id", "names", "kind", "may_claim_emergencies", "may_write_records", "status", "version",
        "changed_at")))
    now = int(time.time())
    changed_at = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "department").order_by(clients.c.client_id)).all()
    for client_id, scope in rows:
        if not re.fullmatch(DEPARTMENT_ID_PATTERN, client_id):
            log.warning("department client %r has no directory entry: not a department id", client_id)
            continue
        data = entry(client_id, scope)
        conn.execute(departments.insert().values(
            id=client_id, names=json.dumps(data["names"], ensure_ascii=False, sort_keys=True),
            kind=data["kind"], may_claim_emergencies=data["may_claim_emergencies"],
            may_write_records=data["may_write_records"], status="active", version=1,
            changed_at=now))
        event = new_event(REGISTERED, "/gateway", client_id, {**data, "changed_at": changed_at})
        conn.execute(outbox.insert().values(
            event_id=event["id"], topic=TOPIC, key=client_id,
            payload=json.dumps(event, separators=(",", ":")), traceparent=new_traceparent(),
            created_at=dt.datetime.now(dt.timezone.utc)))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("disabled_at")
    op.drop_table("departments")
