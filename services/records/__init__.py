"""Records service: FHIR R4 resources, import, search and history (DESIGN section 1)."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "adapters" / "migrations"
