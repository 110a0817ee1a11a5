"""The OAuth 2.0 gateway: authorization server, accounts and the reverse proxy (DESIGN section 1)."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
