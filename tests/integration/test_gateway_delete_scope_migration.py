"""Gateway migration 0017: departments that may write records may delete what they hold
(system/*.cu becomes system/*.cud); the others, and other kinds of client, keep their scopes."""
from tests.support.gateway import scopes_after_upgrade

ROWS = {"primary-care": ("department", "system/*.rs system/Exchange.cr system/Consent.r system/*.cu"),
        "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r"),
        "some-app": ("app", "launch/patient patient/*.rs system/*.cu")}


def test_departments_that_write_records_may_delete_them_after_the_upgrade(tmp_path):
    after = scopes_after_upgrade(tmp_path, "0016_patient_apps", ROWS, to="0017_custodian_delete_scope")
    assert after["primary-care"] == "system/*.rs system/Exchange.cr system/Consent.r system/*.cud"
    assert after["cardiology"] == ROWS["cardiology"][1] and after["some-app"] == ROWS["some-app"][1]
