from services.common.alembic_env import run
from services.exchange.adapters.tables import metadata

run(metadata)
