"""Exchange service: requests between departments, the disclosure ledger, notifications."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "adapters" / "migrations"
