from services.common import smart


def test_a_wildcard_scope_allows_read_and_search_of_any_type():
    assert smart.allows("system/*.rs", "system", "Observation", "rs")


def test_a_read_scope_does_not_allow_create():
    assert not smart.allows("system/*.rs", "system", "Observation", "c")


def test_patient_scopes_do_not_satisfy_a_system_request():
    assert not smart.allows("patient/*.cruds", "system", "Observation", "r")


def test_a_type_scope_does_not_grant_a_wildcard_request():
    assert not smart.allows("system/Observation.c", "system", "*", "c")


def test_smart_v1_read_scopes_are_understood_as_read_and_search():
    assert smart.allows("user/Patient.read", "user", "Patient", "rs")


def test_requested_scopes_are_cut_down_to_what_the_client_may_have():
    kept = smart.within("system/*.cruds system/Observation.r openid", "system/*.rs openid")
    assert kept == ["system/Observation.r", "openid"]


def test_a_wildcard_scope_does_not_cover_the_equity_report():
    assert not smart.allows("system/*.rs system/*.cruds", "system", "Equity", "r")


def test_the_equity_scope_named_outright_allows_the_report():
    assert smart.allows("system/Equity.r", "system", "Equity", "r")


def test_a_department_asking_for_the_equity_scope_does_not_get_it_through_a_wildcard():
    assert smart.within("system/Equity.r system/Patient.r", "system/*.rs") == ["system/Patient.r"]


def test_no_wildcard_scope_lets_a_department_break_the_glass():
    assert not smart.allows("system/*.cu system/*.cruds", "system", "BreakGlass", "c")
    assert smart.within("system/BreakGlass.c system/Patient.c", "system/*.cu") == ["system/Patient.c"]
    assert smart.allows("system/*.rs system/BreakGlass.c", "system", "BreakGlass", "c")


def test_a_staff_wildcard_never_covers_a_departments_accounting_of_disclosures_but_a_patients_does_their_own():
    assert not smart.allows("user/*.rs user/*.cruds", "user", "AuditEvent", "rs")
    assert smart.allows("user/AuditEvent.rs", "user", "AuditEvent", "rs")
    assert smart.allows("patient/*.rs", "patient", "AuditEvent", "s")
