"""Subscriptions: one live subscription per department, patient, resource type and endpoint
(service_layer/subscriptions.py, Subscriptions.create), and a delivery's counters kept apart:
``failures`` (the endpoint failed: bounded by max_attempts), ``late_permits`` (a permit came too
slowly to act on: bounded by max_late), and the ``event_number`` its notification carries,
given when it is first sent under a permit (so a withheld delivery changes nothing a department
can read).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LIVE = "status != 'off'"


def upgrade() -> None:
    with op.batch_alter_table("subscription_deliveries") as batch:
        batch.add_column(sa.Column("failures", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("late_permits", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("event_number", sa.Integer, nullable=True))
    # Duplicates made before this rule: keep the oldest of each, turn the others off (kept, not
    # deleted: the ledger may name them), and withhold what they were still owed.
    dupes = sa.text(
        "SELECT s.id FROM subscriptions s WHERE s.status != 'off' AND EXISTS ("
        " SELECT 1 FROM subscriptions o WHERE o.status != 'off' AND o.department = s.department"
        " AND o.patient = s.patient AND o.resource_type = s.resource_type AND o.endpoint = s.endpoint"
        " AND (o.created_at < s.created_at OR (o.created_at = s.created_at AND o.id < s.id)))")
    conn = op.get_bind()
    for (sub_id,) in conn.execute(dupes).all():
        conn.execute(sa.text("UPDATE subscription_deliveries SET status = 'withheld', outcome = 'subscription-off',"
                             " finished_at = CURRENT_TIMESTAMP WHERE subscription_id = :id AND status = 'pending'"),
                     {"id": sub_id})
        conn.execute(sa.text("UPDATE subscriptions SET status = 'off' WHERE id = :id"), {"id": sub_id})
    op.create_index("uq_subscriptions_live", "subscriptions", ["department", "patient", "resource_type", "endpoint"],
                    unique=True, sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))


def downgrade() -> None:
    op.drop_index("uq_subscriptions_live", "subscriptions")
    with op.batch_alter_table("subscription_deliveries") as batch:
        batch.drop_column("event_number")
        batch.drop_column("late_permits")
        batch.drop_column("failures")
