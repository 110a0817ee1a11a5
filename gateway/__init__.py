"""The OAuth 2.0 gateway, in subpackages by job: authz/ (the authorization server), accounts/
(accounts and caregivers), proxy/ (the reverse proxy), portal/ (the patient's pages) and admin/
(docs/architecture.md, "Layers"). app.py, bootstrap.py and worker.py wire them into processes;
schema.py, storage.py and migrations/ are the tables they share."""
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
