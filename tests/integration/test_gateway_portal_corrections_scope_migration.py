"""Gateway migration 0007: the portal registered before correction requests needed
patient/Task.c is given it, so an upgraded deployment's patients can still ask for corrections."""
from tests.support.gateway import scopes_after_upgrade

OLD_PORTAL = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c"


def test_an_upgraded_portal_client_may_ask_for_corrections_and_departments_are_untouched(tmp_path):
    rows = {"phr-portal": ("portal", OLD_PORTAL), "a-read-only-app": ("portal", "openid patient/Patient.r"),
            "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r")}
    after = scopes_after_upgrade(tmp_path, "0006_break_glass_scope", rows, to="0007_portal_corrections_scope")
    assert after["phr-portal"] == OLD_PORTAL + " patient/Task.c"
    assert after["a-read-only-app"] == rows["a-read-only-app"][1]
    assert after["cardiology"] == rows["cardiology"][1]
