"""Consent service: consents, delegations, decisions and break-the-glass."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "adapters" / "migrations"
