"""Service apps for integration tests: migrated real database, real tokens, strict contract checks."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import Flask

from services.common.config import load_settings
from services.common.db import make_engine, migrate
from tests.support.tokens import TokenMint


@contextmanager
def records_app(database_url: str, mint: TokenMint, var_dir: Path, **overrides) -> Iterator[tuple[Flask, object]]:
    """Yield (app, engine) of the records service on DATABASE_URL, trusting MINT's tokens
    (OVERRIDES: other Settings fields, e.g. claim_check_grace_minutes)."""
    from services.records import MIGRATIONS_DIR
    from services.records.entrypoints.http import create_app

    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    settings = load_settings("records", {"PHR_VAR_DIR": str(var_dir)}, database_url=database_url,
                             issuer=mint.issuer, audience=mint.audience, testing=True,
                             contract_checks="enforce", **overrides)
    try:
        yield create_app({"settings": settings, "engine": engine, "validator": mint.validator()}), engine
    finally:
        engine.dispose()
