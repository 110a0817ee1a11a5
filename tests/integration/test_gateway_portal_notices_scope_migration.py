"""Gateway migration 0020: the portal client, which reads notices, may also choose how they reach
people (patient/Communication.u); departments and apps keep their scopes."""
from tests.support.gateway import scopes_after_upgrade

PORTAL = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Task.c"
ROWS = {"phr-portal": ("portal", PORTAL),
        "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r"),
        "some-app": ("app", "launch/patient patient/*.rs")}


def test_the_portal_client_may_choose_how_notices_arrive_after_the_upgrade(tmp_path):
    after = scopes_after_upgrade(tmp_path, "0019_department_webhooks", ROWS, to="0020_portal_notices_scope")
    assert after["phr-portal"] == f"{PORTAL} patient/Communication.u"
    assert after["cardiology"] == ROWS["cardiology"][1] and after["some-app"] == ROWS["some-app"][1]
