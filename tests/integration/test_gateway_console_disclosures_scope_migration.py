"""Gateway migration 0012: the staff console registered before privacy officers read the
accounting of disclosures is given user/AuditEvent.rs; no other client changes."""
from tests.support.gateway import scopes_after_upgrade

OLD_CONSOLE = "openid fhirUser offline_access user/Exchange.cr user/BreakGlassReview.rsu user/Task.rus"


def test_an_upgraded_console_client_may_read_the_disclosures_and_others_are_untouched(tmp_path):
    rows = {"phr-console": ("portal", OLD_CONSOLE),
            "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r")}
    after = scopes_after_upgrade(tmp_path, "0011_form_sends", rows, to="0012_console_disclosures_scope")
    assert after["phr-console"] == OLD_CONSOLE + " user/AuditEvent.rs"
    assert after["cardiology"] == rows["cardiology"][1]
