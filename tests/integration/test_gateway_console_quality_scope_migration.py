"""Gateway migration 0013: the staff console registered before reports and measures is given
user/Report.cr, user/Report.rsu and user/Measure.rs, the portal patient/Report.c; no other
client changes."""
from tests.support.gateway import scopes_after_upgrade

OLD_CONSOLE = ("openid fhirUser offline_access user/Exchange.cr user/BreakGlassReview.rsu"
               " user/Task.rus user/AuditEvent.rs")
OLD_PORTAL = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Task.c"


def test_upgraded_console_and_portal_clients_may_report_triage_and_read_measures_and_others_are_untouched(tmp_path):
    rows = {"phr-console": ("portal", OLD_CONSOLE), "phr-portal": ("portal", OLD_PORTAL),
            "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r")}
    after = scopes_after_upgrade(tmp_path, "0012_console_disclosures_scope", rows,
                                 to="0013_report_and_measure_scopes")
    assert after["phr-console"] == OLD_CONSOLE + " user/Report.cr user/Report.rsu user/Measure.rs"
    assert after["phr-portal"] == OLD_PORTAL + " patient/Report.c"
    assert after["cardiology"] == rows["cardiology"][1]
