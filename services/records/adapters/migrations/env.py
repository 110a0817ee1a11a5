from services.common.alembic_env import run
from services.records.adapters.tables import metadata

run(metadata)
