"""Records service: FHIR R4 resources, import, search and history (docs/architecture.md, "Layers")."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "adapters" / "migrations"
