"""Gateway migration 0018: clinical departments (system/*.rs) may create and delete FHIR
Subscriptions; other departments, and other kinds of client, keep their scopes."""
from tests.support.gateway import scopes_after_upgrade

ROWS = {"primary-care": ("department", "system/*.rs system/Exchange.cr system/Consent.r system/*.cud"),
        "research": ("department", "system/Exchange.cr system/Consent.r"),
        "some-app": ("app", "launch/patient patient/*.rs")}


def test_clinical_departments_may_subscribe_after_the_upgrade(tmp_path):
    after = scopes_after_upgrade(tmp_path, "0017_custodian_delete_scope", ROWS, to="0018_subscription_scope")
    assert after["primary-care"] == ROWS["primary-care"][1] + " system/Subscription.cd"
    assert after["research"] == ROWS["research"][1] and after["some-app"] == ROWS["some-app"][1]
