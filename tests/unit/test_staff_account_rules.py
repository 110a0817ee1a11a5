"""The rules of department staff accounts (gateway/accounts/staff.py), without a database: roles,
invites, the TOTP second factor with a fake clock (pyotp computes real codes from the secret),
recovery codes, who may sign in and who may manage whom."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from contracts.vocabulary import ROLE_NAMES, STAFF_ROLES
from gateway.accounts import staff
from gateway.accounts.models import StaffAccount
from gateway.accounts.staff import PHR_ADMIN, StaffError
from tests.support.staff import totp_code

NOW = 1_900_000_015  # 15 s into a 30 s time step
STEP = NOW // 30


def refused(reason: str):
    return pytest.raises(StaffError, match=f"^{re.escape(reason)}$")


def member(**changes) -> StaffAccount:
    values = dict(id="s-1", department="cardiology", username="dr.ruiz", display_name="Dr. Ruiz",
                  roles=("clinician",), practitioner="pr-1", status="active", created_at=NOW)
    return StaffAccount(**{**values, **changes})


# -- roles and what an invite holds -----------------------------------------------------------------
def test_every_role_has_an_english_name_in_the_vocabulary():
    assert set(ROLE_NAMES) == set(STAFF_ROLES) == {"clinician", "records-officer", "privacy-officer", "quality", "admin"}


def test_roles_come_back_once_each_in_the_vocabulary_order():
    assert staff.roles_of(["admin", "clinician", "admin"]) == ("clinician", "admin")
    assert staff.roles_of("privacy-officer records-officer") == ("records-officer", "privacy-officer")


def test_an_unknown_role_is_refused_even_beside_known_ones():
    with refused("unknown-role"):
        staff.roles_of(["clinician", "surgeon"])
    with refused("unknown-role"):
        staff.roles_of(["Clinician"])


def test_an_invite_needs_at_least_one_role():
    with refused("no-roles"):
        staff.roles_of([])
    with refused("no-roles"):
        staff.roles_of("  ")


def test_a_display_name_is_trimmed_and_must_be_1_to_80_printable_characters():
    assert staff.display_name_of("  Dr. Ana Ruiz ") == "Dr. Ana Ruiz"
    for bad in ("", "   ", "x" * 81, "Ana\nRuiz", "Ana\x00"):
        with refused("display-name"):
            staff.display_name_of(bad)


def test_a_practitioner_is_a_bare_fhir_id_or_none():
    assert staff.practitioner_of("pr-1.a") == "pr-1.a" and staff.practitioner_of(None) is None
    for bad in ("Practitioner/pr-1", "pr 1", "pr-1\n", "x" * 65, ""):
        with refused("practitioner"):
            staff.practitioner_of(bad)


def test_a_staff_username_and_password_follow_the_patients_rules():
    staff.check_credentials("dr.ruiz@cardio", "ten chars!")
    for username in ("ab", "ana ruiz", "ana\n", "x" * 65):
        with refused("username"):
            staff.check_credentials(username, "a long passphrase")
    for password in ("nine char", "x" * 257):
        with refused("password"):
            staff.check_credentials("dr.ruiz", password)


# -- invites ----------------------------------------------------------------------------------------
def test_an_invite_lasts_seven_days():
    assert staff.invite_expires(NOW) == NOW + 7 * 86400


def test_an_invite_works_until_its_expiry_once_and_only_when_it_exists():
    invite = {"used_at": None, "expires_at": NOW + 1}
    staff.check_invite(invite, NOW)
    with refused("invite-expired"):
        staff.check_invite(invite, NOW + 1)
    with refused("invite-used"):
        staff.check_invite({**invite, "used_at": NOW - 5}, NOW)
    with refused("invite-unknown"):
        staff.check_invite(None, NOW)


# -- the TOTP second factor -------------------------------------------------------------------------
def test_the_enrolment_uri_names_phr_and_the_username_with_the_secret():
    secret = staff.new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret) and secret != staff.new_totp_secret()
    uri = urlsplit(staff.enrolment_uri(secret, "dr.ruiz"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/PHR:dr.ruiz")
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["PHR"]}


def test_the_enrolment_qr_code_is_one_named_image_of_the_uri_and_nothing_else():
    uri = staff.enrolment_uri(staff.new_totp_secret(), "dr.ruiz")
    svg = staff.enrolment_qr(uri, "A code to scan")
    assert svg.startswith('<svg role="img" focusable="false" ') and "<title>A code to scan</title>" in svg
    assert "<script" not in svg and "href" not in svg  # markup put in the page as it is
    assert svg == staff.enrolment_qr(uri, "A code to scan")
    assert svg != staff.enrolment_qr(staff.enrolment_uri(staff.new_totp_secret(), "dr.ruiz"), "A code to scan")


def test_a_code_of_the_current_step_is_accepted_for_that_step():
    secret = staff.new_totp_secret()
    assert staff.totp_step(secret, totp_code(secret, NOW), NOW, None) == STEP


def test_a_code_of_the_step_before_or_after_is_accepted_but_not_two_away():
    secret = staff.new_totp_secret()
    assert staff.totp_step(secret, totp_code(secret, NOW, -1), NOW, None) == STEP - 1
    assert staff.totp_step(secret, totp_code(secret, NOW, 1), NOW, None) == STEP + 1
    for steps in (-2, 2):
        code = totp_code(secret, NOW, steps)
        if code not in {totp_code(secret, NOW, s) for s in (-1, 0, 1)}:  # one in a million alike
            with refused("wrong-code"):
                staff.totp_step(secret, code, NOW, None)


def test_a_code_may_be_typed_with_spaces():
    secret = staff.new_totp_secret()
    code = totp_code(secret, NOW)
    assert staff.totp_step(secret, f" {code[:3]} {code[3:]} ", NOW, None) == STEP


def test_a_wrong_or_malformed_code_is_refused():
    secret = staff.new_totp_secret()
    wrong = f"{(int(totp_code(secret, NOW)) + 1) % 10 ** 6:06d}"
    for code in (wrong, "12345", "1234567", "abcdef", "", "１２３４５６"):
        if code in {totp_code(secret, NOW, s) for s in (-1, 0, 1)}:
            continue
        with refused("wrong-code"):
            staff.totp_step(secret, code, NOW, None)


def test_a_code_of_a_step_already_accepted_is_refused_as_replayed():
    secret = staff.new_totp_secret()
    code = totp_code(secret, NOW)
    step = staff.totp_step(secret, code, NOW, None)
    with refused("replayed"):
        staff.totp_step(secret, code, NOW, step)
    with refused("replayed"):  # the step before, once a later one was accepted
        staff.totp_step(secret, totp_code(secret, NOW, -1), NOW, step)
    assert staff.totp_step(secret, totp_code(secret, NOW + 30), NOW + 30, step) == STEP + 1


def test_a_code_of_another_secret_is_refused():
    secret, other = staff.new_totp_secret(), staff.new_totp_secret()
    code = totp_code(other, NOW)
    if code not in {totp_code(secret, NOW, s) for s in (-1, 0, 1)}:
        with refused("wrong-code"):
            staff.totp_step(secret, code, NOW, None)


def test_only_six_digits_look_like_a_totp_code():
    assert staff.looks_like_totp("123456") and staff.looks_like_totp("123 456")
    assert not staff.looks_like_totp("ABCD-EFGH-JKMN") and not staff.looks_like_totp("1234567")


def test_ten_recovery_codes_each_different_and_easy_to_read_aloud():
    codes = staff.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-HJKMNP-TV-Z2-9]{4}-[A-HJKMNP-TV-Z2-9]{4}-[A-HJKMNP-TV-Z2-9]{4}", c)
               for c in codes)
    assert not any(staff.looks_like_totp(c) for c in codes)


# -- who may sign in, who may manage whom ---------------------------------------------------------------
def test_only_an_active_account_of_an_active_department_may_sign_in():
    staff.check_may_sign_in(member(), True)
    with refused("department-disabled"):
        staff.check_may_sign_in(member(), False)
    with refused("pending"):
        staff.check_may_sign_in(member(status="pending"), True)
    with refused("disabled"):
        staff.check_may_sign_in(member(status="disabled"), True)
    with refused("disabled"):
        staff.check_may_sign_in(member(status="disabled"), False)


def test_phr_admin_manages_any_department_and_an_admin_only_their_own_active_one():
    admin = member(id="a-1", roles=("clinician", "admin"))
    staff.check_manager(PHR_ADMIN, "emergency", True)
    staff.check_manager(admin, "cardiology", True)
    with refused("forbidden"):
        staff.check_manager(admin, "emergency", True)
    with refused("department-disabled"):
        staff.check_manager(admin, "cardiology", False)


def test_no_one_else_manages_staff():
    for actor in (member(), member(roles=("admin",), status="disabled"),
                  member(roles=("admin",), status="pending"), None, "s-1", "cardiology"):
        with refused("forbidden"):
            staff.check_manager(actor, "cardiology", True)


def test_an_admin_keeps_their_own_admin_role_and_account():
    admin = member(roles=("admin",))
    staff.check_role_change(admin, admin, ("clinician", "admin"))
    staff.check_role_change(admin, member(id="s-2", roles=("admin",)), ("clinician",))
    staff.check_role_change(PHR_ADMIN, admin, ("clinician",))
    with refused("self"):
        staff.check_role_change(admin, admin, ("clinician",))
    with refused("self"):
        staff.check_disable(admin, admin)
    staff.check_disable(admin, member(id="s-2"))


def test_a_disabled_account_keeps_its_roles():
    with refused("disabled"):
        staff.check_role_change(PHR_ADMIN, member(status="disabled"), ("admin",))


def test_a_staff_account_names_its_practitioner_and_never_shows_its_secrets():
    account = member(password_hash="$argon2id$secret-hash", totp_secret="JBSWY3DPEHPK3PXP")
    assert account.fhir_user == "Practitioner/pr-1" and account.get_user_id() == "s-1"
    assert "argon2" not in repr(account) and "JBSWY3DPEHPK3PXP" not in repr(account)
