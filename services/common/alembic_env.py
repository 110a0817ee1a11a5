"""Shared body of every service's Alembic env.py: run migrations on the given connection."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from services.common.db import make_engine


def run(target_metadata: sa.MetaData) -> None:
    """Run the migrations online, on the caller's connection when it passed one."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn, target_metadata)
        engine.dispose()
    else:
        _run(connection, target_metadata)


def _run(connection, target_metadata) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
