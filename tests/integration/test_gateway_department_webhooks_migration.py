"""Gateway migration 0019: departments get a webhook_url column (empty for those registered
before), and the staff console registered before its staff read the department's notices is given
user/Communication.rs; no other client changes; downgrading takes both away again."""
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from services.common.db import make_engine
from tests.support.gateway import MIGRATIONS_DIR, scopes_after_upgrade, upgrade_to

OLD_CONSOLE = "openid fhirUser offline_access user/Exchange.cr user/AuditEvent.rs"


def test_an_upgraded_console_client_may_read_the_notices_and_others_are_untouched(tmp_path):
    rows = {"phr-console": ("portal", OLD_CONSOLE),
            "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r")}
    after = scopes_after_upgrade(tmp_path, "0018_subscription_scope", rows, to="0019_department_webhooks")
    assert after["phr-console"] == OLD_CONSOLE + " user/Communication.rs"
    assert after["cardiology"] == rows["cardiology"][1]


def test_departments_gain_an_empty_webhook_url_and_lose_it_on_downgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_to(url, "0019_department_webhooks")
    engine = make_engine(url)
    try:
        assert "webhook_url" in [c["name"] for c in sa.inspect(engine).get_columns("departments")]
    finally:
        engine.dispose()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    command.downgrade(cfg, "0017_custodian_delete_scope")
    engine = make_engine(url)
    try:
        assert "webhook_url" not in [c["name"] for c in sa.inspect(engine).get_columns("departments")]
    finally:
        engine.dispose()
