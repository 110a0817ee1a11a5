from services.common.alembic_env import run
from services.consent.adapters.tables import metadata

run(metadata)
