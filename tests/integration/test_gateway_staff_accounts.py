"""Department staff accounts on the real databases (gateway/accounts/staff_store.py): invites,
redemption, enrolment of the second factor, signing in with a password and a TOTP or recovery
code, role changes and disabling, each audited, with its event in the outbox."""
from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from contracts.events import EventChecker, problems
from gateway import MIGRATIONS_DIR, schema, storage
from gateway.accounts.signin import PasswordGate
from gateway.accounts.staff import PHR_ADMIN, StaffError
from gateway.accounts.staff_signin import (StaffChecked, check_second_factor,
                                           check_staff_password, confirm_enrolment)
from gateway.accounts.staff_store import StaffStore
from gateway.accounts.stores import AccountStore, SignInStore
from gateway.accounts.throttle import SignInPolicy
from services.common.db import make_engine, migrate, normalise_url
from tests.support.staff import PASSWORD, enrolled, totp_code

NOW = 1_900_000_015  # 15 s into a 30 s time step


class Departments:
    """The directory's answer to "is this department active?", as the wiring will pass it."""

    def __init__(self):
        self.disabled: set[str] = set()

    def __call__(self, department: str) -> bool:
        return department not in self.disabled


@pytest.fixture
def gateway_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock(monkeypatch):
    """The stores' clock (storage.now), set by the test."""
    now = {"at": NOW}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def revoked() -> list[str]:
    return []


@pytest.fixture
def store(gateway_db, clock, revoked) -> StaffStore:
    return StaffStore(gateway_db, lambda conn, account_id: revoked.append(account_id),
                      checker=EventChecker("enforce"))


@pytest.fixture
def departments() -> Departments:
    return Departments()


@pytest.fixture
def gate(gateway_db) -> PasswordGate:
    return PasswordGate(SignInStore(gateway_db), AccountStore(gateway_db), SignInPolicy(free_failures=2))


def refused(reason: str):
    return pytest.raises(StaffError, match=f"^{reason}$")


def queued(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.seq)).mappings().all()
    events = [json.loads(r["payload"]) for r in rows]
    assert all(r["topic"] == "phr.accounts.v1" and r["key"] == e["subject"] == e["data"]["department"]
               for r, e in zip(rows, events))
    return events


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def actions(store, department="cardiology") -> list[tuple]:
    return [(r["actor"], r["action"], r["subject"], r["detail"])
            for r in reversed(store.audit_trail(department))]


def patient(engine, username: str, password: str) -> None:
    """A patient's portal account, opened as activation opens one."""
    accounts = AccountStore(engine)
    accounts.save_activation_code("KLMN-PQRS-TVWX", "p-1", "1980-01-01", "en", "cardiology", 3600)
    code_id = accounts.activation_code("KLMN-PQRS-TVWX")["id"]
    assert accounts.open_account(code_id, "acc-1", username, PasswordHasher().hash(password), "p-1", "en") is None


def admin(store, clock, departments, **kwargs):
    """An active admin of cardiology (invited by phr-admin); return the account."""
    account, _secret, _codes = enrolled(store, clock["at"], roles=("admin",), username="boss",
                                        department_active=departments, **kwargs)
    return account


# -- the whole path ---------------------------------------------------------------------------------
def test_an_invited_person_redeems_enrols_and_signs_in_with_a_totp_code(store, gate, gateway_db, clock,
                                                                        departments):
    invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["admin", "clinician"], "Dr. Ana Ruiz",
                                       departments, practitioner="pr-7")
    assert invite["expires_at"] == NOW + 7 * 86400 and invite["roles"] == "clinician admin"
    enrolment = store.redeem_invite(code, "ana.ruiz", PASSWORD, departments)
    assert enrolment.account.status == "pending" and enrolment.account.practitioner == "pr-7"
    assert enrolment.uri == f"otpauth://totp/PHR:ana.ruiz?secret={enrolment.secret}&issuer=PHR"
    checked = check_staff_password(gate, store, "ana.ruiz", PASSWORD, "10.0.0.1", departments)
    assert checked.enrolling.id == enrolment.account.id and checked.account is None

    done = confirm_enrolment(gate, store, enrolment.account.id, totp_code(enrolment.secret, NOW), departments)
    assert len(done.recovery_codes) == len(set(done.recovery_codes)) == 10
    account = store.account(account_id=enrolment.account.id)
    assert (account.status, account.roles, account.activated_at) == ("active", ("clinician", "admin"), NOW)
    assert account.fhir_user == "Practitioner/pr-7" and account.department == "cardiology"

    clock["at"] = NOW + 30
    checked = check_staff_password(gate, store, "ana.ruiz", PASSWORD, "10.0.0.1", departments)
    assert checked.account.id == account.id and checked.refused is None and checked.enrolling is None
    second = check_second_factor(gate, store, account.id, totp_code(enrolment.secret, NOW + 30), departments)
    assert second.accepted.account.id == account.id and second.accepted.method == "totp"
    assert actions(store) == [
        (PHR_ADMIN, "invited", invite["id"], "clinician admin"),
        (account.id, "invite-redeemed", invite["id"], None),
        (account.id, "activated", None, None),
        (account.id, "signed-in", None, "totp")]


def test_staff_events_conform_name_the_department_and_carry_no_secret(store, gateway_db, clock,
                                                                      departments):
    boss = admin(store, clock, departments)
    invite, code = store.create_invite(boss.id, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    enrolment = store.redeem_invite(code, "dr.ruiz", PASSWORD, departments)
    recovery = store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, NOW), departments)
    store.change_roles(enrolment.account.id, ["clinician", "records-officer"], boss.id, departments)
    store.disable(enrolment.account.id, boss.id, departments)

    events = queued(gateway_db)
    assert [e["type"] for e in events] == [
        "phr.accounts.staff-invited", "phr.accounts.staff-activated",  # the admin's own
        "phr.accounts.staff-invited", "phr.accounts.staff-activated",
        "phr.accounts.staff-roles-changed", "phr.accounts.staff-disabled"]
    assert [problems(e) for e in events] == [[]] * 6
    invited, activated, changed, disabled = events[2:]
    assert invited["data"] == {"department": "cardiology", "invite_id": invite["id"], "roles": ["clinician"],
                               "invited_by": boss.id, "invited_at": invited["data"]["invited_at"],
                               "expires_at": invited["data"]["expires_at"]}
    assert activated["data"]["staff_id"] == enrolment.account.id
    assert activated["data"]["practitioner"] == enrolment.account.id  # none named: the account's id
    assert changed["data"]["roles"] == ["clinician", "records-officer"]
    assert changed["data"]["previous_roles"] == ["clinician"] and changed["data"]["changed_by"] == boss.id
    assert disabled["data"]["disabled_by"] == boss.id
    with gateway_db.connect() as conn:
        payloads = " ".join(conn.execute(sa.select(schema.outbox.c.payload)).scalars())
        hashes = list(conn.execute(sa.select(schema.staff_accounts.c.password_hash)).scalars())
        hashes += conn.execute(sa.select(schema.staff_invites.c.code_hash)).scalars().all()
        hashes += conn.execute(sa.select(schema.staff_recovery_codes.c.code_hash)).scalars().all()
    secrets = [code, code.replace("-", ""), enrolment.secret, PASSWORD, *recovery, *hashes]
    assert [s for s in secrets if s in payloads] == []


def test_nothing_stores_a_code_in_clear(store, gateway_db, clock, departments):
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    enrolment = store.redeem_invite(code, "dr.ruiz", PASSWORD, departments)
    recovery = store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, NOW), departments)
    with gateway_db.connect() as conn:
        rows = [json.dumps(dict(r), default=str) for table in (schema.staff_invites,
                schema.staff_recovery_codes, schema.staff_accounts, schema.staff_audit)
                for r in conn.execute(sa.select(table)).mappings()]
    text = " ".join(rows)
    assert [c for c in [code, code.replace("-", ""), PASSWORD, *recovery,
                        *(c.replace("-", "") for c in recovery)] if c in text] == []


# -- invites ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("roles,reason", [([], "no-roles"), (["surgeon"], "unknown-role"),
                                          (["clinician", "root"], "unknown-role")])
def test_an_invite_with_no_roles_or_an_unknown_one_is_refused_and_stores_nothing(
        store, gateway_db, departments, roles, reason):
    with refused(reason):
        store.create_invite(PHR_ADMIN, "cardiology", roles, "Dr. Ruiz", departments)
    assert count(gateway_db, schema.staff_invites) == count(gateway_db, schema.outbox) == 0


def test_only_phr_admin_or_an_admin_of_the_department_may_invite(store, gateway_db, clock, departments):
    boss = admin(store, clock, departments)
    clinician, _, _ = enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    elsewhere, _, _ = enrolled(store, clock["at"], department="emergency", roles=("admin",),
                               username="er.boss", department_active=departments)
    before = count(gateway_db, schema.staff_invites), count(gateway_db, schema.outbox)
    for by in (clinician.id, elsewhere.id, "no-such-account", "cardiology"):
        with refused("forbidden"):
            store.create_invite(by, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    assert (count(gateway_db, schema.staff_invites), count(gateway_db, schema.outbox)) == before
    store.create_invite(boss.id, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    store.disable(boss.id, PHR_ADMIN, departments)
    with refused("forbidden"):  # a disabled admin no longer manages anyone
        store.create_invite(boss.id, "cardiology", ["clinician"], "Dr. Ruiz", departments)


def test_no_invite_into_a_disabled_department(store, gateway_db, departments):
    departments.disabled.add("cardiology")
    with refused("department-disabled"):
        store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    assert count(gateway_db, schema.staff_invites) == 0


def test_an_unknown_used_or_expired_invite_opens_no_account(store, gateway_db, clock, departments):
    with refused("invite-unknown"):
        store.redeem_invite("ABCD-EFGH-JKMN", "dr.ruiz", PASSWORD, departments)
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    store.redeem_invite(code.lower().replace("-", " "), "dr.ruiz", PASSWORD, departments)  # as typed
    with refused("invite-used"):
        store.redeem_invite(code, "dr.other", PASSWORD, departments)
    _invite, late = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Late", departments)
    clock["at"] = NOW + 7 * 86400
    with refused("invite-expired"):
        store.redeem_invite(late, "dr.late", PASSWORD, departments)
    assert [a.username for a in store.staff_of("cardiology")] == ["dr.ruiz"]


def test_a_taken_username_or_a_bad_password_leaves_the_invite_for_another_try(store, gateway_db, clock,
                                                                              departments):
    patient(gateway_db, "ana", "a patient passphrase")
    enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. New", departments)
    for username in ("dr.ruiz", "ana"):  # a member of staff's, a patient's
        with refused("username-taken"):
            store.redeem_invite(code, username, PASSWORD, departments)
    with refused("password"):
        store.redeem_invite(code, "dr.new", "too short", departments)
    with refused("username"):
        store.redeem_invite(code, "dr new", PASSWORD, departments)
    assert store.redeem_invite(code, "dr.new", PASSWORD, departments).account.display_name == "Dr. New"


def test_a_patient_cannot_take_a_staff_username(store, gateway_db, clock, departments):
    enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    accounts = AccountStore(gateway_db)
    accounts.save_activation_code("KLMN", "p-1", "1980-01-01", "en", "cardiology", 3600)
    code_id = accounts.activation_code("KLMN")["id"]
    assert accounts.username_taken("dr.ruiz") and not accounts.username_taken("dr.other")
    assert accounts.open_account(code_id, "acc-1", "dr.ruiz", "x", "p-1", "en") == "username"


def test_no_redemption_into_a_disabled_department(store, departments):
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    departments.disabled.add("cardiology")
    with refused("department-disabled"):
        store.redeem_invite(code, "dr.ruiz", PASSWORD, departments)
    assert store.invite(code)["used_at"] is None


def test_two_people_redeeming_one_invite_at_once_open_one_account(store, gateway_db, departments):
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    outcomes, start = [], threading.Barrier(2)

    def redeem(username):
        start.wait()
        try:
            outcomes.append(store.redeem_invite(code, username, PASSWORD, departments).account.username)
        except StaffError as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=redeem, args=(name,)) for name in ("dr.one", "dr.two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[1] == "invite-used" and sorted(outcomes)[0] in ("dr.one", "dr.two")
    assert count(gateway_db, schema.staff_accounts) == 1


# -- enrolment and the second factor --------------------------------------------------------------------
def test_a_wrong_first_code_leaves_the_account_pending_and_a_second_confirmation_is_refused(
        store, gateway_db, departments):
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    enrolment = store.redeem_invite(code, "dr.ruiz", PASSWORD, departments)
    wrong = f"{(int(totp_code(enrolment.secret, NOW)) + 500_000) % 10 ** 6:06d}"
    if wrong not in {totp_code(enrolment.secret, NOW, s) for s in (-1, 0, 1)}:
        with refused("wrong-code"):
            store.confirm_enrolment(enrolment.account.id, wrong, departments)
    assert store.account(account_id=enrolment.account.id).status == "pending"
    assert count(gateway_db, schema.staff_recovery_codes) == 0
    assert [e["type"] for e in queued(gateway_db)] == ["phr.accounts.staff-invited"]
    store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, NOW), departments)
    with refused("not-pending"):
        store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, NOW, 1), departments)
    assert count(gateway_db, schema.staff_recovery_codes) == 10


def test_a_pending_account_has_no_second_factor_to_sign_in_with(store, departments):
    _invite, code = store.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", departments)
    enrolment = store.redeem_invite(code, "dr.ruiz", PASSWORD, departments)
    with refused("pending"):
        store.use_second_factor(enrolment.account.id, totp_code(enrolment.secret, NOW), departments)


def test_a_totp_code_works_once_and_a_wrong_one_never(store, clock, departments):
    account, secret, _codes = enrolled(store, clock["at"], department_active=departments)
    with refused("replayed"):  # the enrolment's own code, same step
        store.use_second_factor(account.id, totp_code(secret, NOW), departments)
    clock["at"] = NOW + 30
    store.use_second_factor(account.id, totp_code(secret, NOW + 30), departments)
    with refused("replayed"):
        store.use_second_factor(account.id, totp_code(secret, NOW + 30), departments)
    with refused("replayed"):  # an older step, still within the window
        store.use_second_factor(account.id, totp_code(secret, NOW), departments)
    wrong = f"{(int(totp_code(secret, NOW + 60)) + 500_000) % 10 ** 6:06d}"
    clock["at"] = NOW + 60
    if wrong not in {totp_code(secret, NOW + 60, s) for s in (-1, 0, 1)}:
        with refused("wrong-code"):
            store.use_second_factor(account.id, wrong, departments)
    assert store.use_second_factor(account.id, totp_code(secret, NOW + 60), departments).method == "totp"


def test_a_recovery_code_works_once(store, clock, departments):
    account, _secret, codes = enrolled(store, clock["at"], department_active=departments)
    used = store.use_second_factor(account.id, codes[3].lower(), departments)
    assert (used.method, used.recovery_codes_left) == ("recovery-code", 9)
    with refused("wrong-code"):
        store.use_second_factor(account.id, codes[3], departments)
    with refused("wrong-code"):
        store.use_second_factor(account.id, "ABCD-EFGH-JKMN", departments)
    other, _s, other_codes = enrolled(store, clock["at"], username="dr.other", department_active=departments)
    with refused("wrong-code"):  # another person's code
        store.use_second_factor(account.id, other_codes[0], departments)
    assert store.recovery_codes_left(account.id) == 9 and store.recovery_codes_left(other.id) == 10


def test_a_disabled_account_or_department_gives_no_second_factor(store, clock, departments):
    account, secret, codes = enrolled(store, clock["at"], department_active=departments)
    departments.disabled.add("cardiology")
    clock["at"] = NOW + 30
    with refused("department-disabled"):
        store.use_second_factor(account.id, totp_code(secret, NOW + 30), departments)
    departments.disabled.clear()
    store.disable(account.id, PHR_ADMIN, departments)
    with refused("disabled"):
        store.use_second_factor(account.id, totp_code(secret, NOW + 30), departments)
    with refused("disabled"):
        store.use_second_factor(account.id, codes[0], departments)
    assert store.recovery_codes_left(account.id) == 10


# -- signing in: the password under the throttle, then the second factor ------------------------------------
def test_the_staff_password_check_answers_who_goes_on_and_who_may_not(store, gate, clock, departments):
    account, _secret, _codes = enrolled(store, clock["at"], department_active=departments)
    assert check_staff_password(gate, store, "dr.ruiz", PASSWORD, "10.0.0.1", departments).account.id == account.id
    assert check_staff_password(gate, store, "dr.ruiz", "wrong password", "10.0.0.2", departments) == \
        check_staff_password(gate, store, "nobody", PASSWORD, "10.0.0.3", departments) == StaffChecked()
    departments.disabled.add("cardiology")
    checked = check_staff_password(gate, store, "dr.ruiz", PASSWORD, "10.0.0.1", departments)
    assert (checked.account, checked.refused) == (None, "department-disabled")
    departments.disabled.clear()
    store.disable(account.id, PHR_ADMIN, departments)
    checked = check_staff_password(gate, store, "dr.ruiz", PASSWORD, "10.0.0.1", departments)
    assert (checked.account, checked.refused) == (None, "disabled")
    assert [a for _actor, a, _s, d in actions(store) if a == "sign-in-refused"] == ["sign-in-refused"] * 2


def test_a_patients_password_does_not_sign_in_as_staff_nor_the_other_way(store, gate, gateway_db, clock,
                                                                         departments):
    patient(gateway_db, "ana", "a patient passphrase")
    enrolled(store, clock["at"], department_active=departments)
    assert gate.check("ana", "a patient passphrase", "10.0.0.1").account.patient == "p-1"
    assert check_staff_password(gate, store, "ana", "a patient passphrase", "10.0.0.1", departments) == \
        StaffChecked()
    assert gate.check("dr.ruiz", PASSWORD, "10.0.0.1").account is None


def test_wrong_staff_passwords_slow_the_next_try_as_patients_do(store, gate, clock, departments):
    enrolled(store, clock["at"], department_active=departments)
    for _ in range(2):  # the policy's free failures
        assert check_staff_password(gate, store, "dr.ruiz", "wrong password", "10.0.0.1", departments).wait == 0
    checked = check_staff_password(gate, store, "dr.ruiz", PASSWORD, "10.0.0.1", departments)
    assert checked.wait > 0 and checked.account is None


def test_wrong_second_factor_codes_slow_the_next_try_and_are_audited(store, gate, clock, departments):
    account, secret, codes = enrolled(store, clock["at"], department_active=departments)
    clock["at"] = NOW + 30
    for _ in range(2):
        assert check_second_factor(gate, store, account.id, "ABCD-EFGH-JKMN", departments).refused == "wrong-code"
    checked = check_second_factor(gate, store, account.id, totp_code(secret, NOW + 30), departments)
    assert checked.wait > 0 and checked.accepted is None
    assert store.recovery_codes_left(account.id) == 10
    assert [d for _actor, a, _s, d in actions(store) if a == "second-factor-refused"] == ["wrong-code"] * 2


def test_a_replayed_code_counts_as_a_wrong_try(store, gate, clock, departments):
    account, secret, _codes = enrolled(store, clock["at"], department_active=departments)
    checked = check_second_factor(gate, store, account.id, totp_code(secret, NOW), departments)
    assert checked.refused == "replayed"
    assert [d for _actor, a, _s, d in actions(store) if a == "second-factor-refused"] == ["replayed"]


# -- an admin's changes ------------------------------------------------------------------------------------
def test_an_admin_changes_roles_and_the_old_tokens_end(store, gateway_db, clock, departments, revoked):
    boss = admin(store, clock, departments)
    account, _secret, _codes = enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    changed = store.change_roles(account.id, ["privacy-officer", "clinician"], boss.id, departments)
    assert changed.roles == ("clinician", "privacy-officer") and revoked == [account.id]
    assert store.change_roles(account.id, ["clinician", "privacy-officer"], boss.id, departments).roles == \
        changed.roles
    assert revoked == [account.id]  # the same roles again change nothing
    assert actions(store)[-1] == (boss.id, "roles-changed", account.id, "clinician privacy-officer")


@pytest.mark.parametrize("roles,reason", [([], "no-roles"), (["superuser"], "unknown-role")])
def test_roles_changed_to_none_or_an_unknown_one_are_refused(store, gateway_db, clock, departments, roles,
                                                             reason):
    account, _secret, _codes = enrolled(store, clock["at"], department_active=departments)
    before = count(gateway_db, schema.outbox)
    with refused(reason):
        store.change_roles(account.id, roles, PHR_ADMIN, departments)
    assert store.account(account_id=account.id).roles == ("clinician",)
    assert count(gateway_db, schema.outbox) == before


def test_only_an_admin_of_the_department_changes_roles_and_never_their_own_admin_role(
        store, clock, departments, revoked):
    boss = admin(store, clock, departments)
    account, _secret, _codes = enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    other, _s, _c = enrolled(store, clock["at"], department="emergency", roles=("admin",),
                             username="er.boss", department_active=departments)
    for by in (account.id, other.id):
        with refused("forbidden"):
            store.change_roles(account.id, ["admin"], by, departments)
    with refused("self"):
        store.change_roles(boss.id, ["clinician"], boss.id, departments)
    with refused("not-found"):
        store.change_roles("no-such-account", ["clinician"], PHR_ADMIN, departments)
    assert store.account(account_id=account.id).roles == ("clinician",) and revoked == []
    assert store.change_roles(boss.id, ["clinician"], PHR_ADMIN, departments).roles == ("clinician",)


def test_disabling_ends_sign_in_and_tokens_and_again_changes_nothing(store, gateway_db, clock, departments,
                                                                     revoked):
    boss = admin(store, clock, departments)
    account, _secret, _codes = enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    with refused("self"):
        store.disable(boss.id, boss.id, departments)
    disabled = store.disable(account.id, boss.id, departments)
    assert (disabled.status, disabled.disabled_at) == ("disabled", NOW)
    store.disable(account.id, boss.id, departments)
    assert revoked == [account.id, account.id]
    assert [e["type"] for e in queued(gateway_db)].count("phr.accounts.staff-disabled") == 1
    with refused("disabled"):
        store.change_roles(account.id, ["admin"], boss.id, departments)
    assert [(a, s) for _actor, a, s, _d in actions(store) if a == "disabled"] == [("disabled", account.id)]


def test_the_platform_admin_may_still_disable_staff_of_a_disabled_department(store, clock, departments):
    boss = admin(store, clock, departments)
    account, _secret, _codes = enrolled(store, clock["at"], username="dr.ruiz", department_active=departments)
    departments.disabled.add("cardiology")
    with refused("department-disabled"):
        store.disable(account.id, boss.id, departments)
    assert store.disable(account.id, PHR_ADMIN, departments).status == "disabled"


def test_every_staff_action_can_be_audited_with_the_person(store, clock, departments):
    account, _secret, _codes = enrolled(store, clock["at"], department_active=departments)
    store.record("cardiology", account.id, "records-requested", "p-1")
    assert store.audit_trail("cardiology")[0] | {"id": 0} == {
        "id": 0, "at": NOW, "department": "cardiology", "actor": account.id,
        "action": "records-requested", "subject": "p-1", "detail": None}
    assert store.audit_trail("emergency") == []


# -- the migration ----------------------------------------------------------------------------------------
def test_the_staff_tables_come_and_go_with_their_migration(database_url):
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    staff_tables = {"staff_accounts", "staff_recovery_codes", "staff_invites", "staff_audit"}
    command.upgrade(cfg, "0009_staff_accounts")
    engine = make_engine(database_url)
    try:
        assert staff_tables <= set(sa.inspect(engine).get_table_names())
        command.downgrade(cfg, "0008_directory")
        assert staff_tables & set(sa.inspect(engine).get_table_names()) == set()
        assert "departments" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_one_totp_code_sent_twice_at_once_signs_in_once(store, clock, departments):
    account, secret, _codes = enrolled(store, clock["at"], department_active=departments)
    clock["at"] = NOW + 30
    code, outcomes, start = totp_code(secret, NOW + 30), [], threading.Barrier(2)

    def use():
        start.wait()
        try:
            outcomes.append(store.use_second_factor(account.id, code, departments).method)
        except StaffError as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["replayed", "totp"]


def test_a_caregiver_joining_with_a_staff_username_is_told_it_is_taken(client, engine):
    """Through the gateway's app: the invite stays for another try with another username."""
    from tests.support.gateway import invite, join, make_patient, sign_in

    staff = StaffStore(engine, lambda conn, account_id: None)
    _invite, code = staff.create_invite(PHR_ADMIN, "cardiology", ["clinician"], "Dr. Ruiz", lambda d: True)
    staff.redeem_invite(code, "dr.ruiz", PASSWORD, lambda d: True)
    make_patient(engine)
    created = invite(client, sign_in(client, engine)["access_token"])
    taken = join(client, created.json["invite_code"], username="dr.ruiz")
    assert taken.status_code == 409, taken.get_data(as_text=True)
    assert join(client, created.json["invite_code"], username="carla").status_code == 201


def test_announcing_staff_sends_each_active_members_roles_again_and_ends_no_token(
        store, gateway_db, clock, departments, revoked):
    from gateway.admin.clients import announce_staff
    quality, _s, _c = enrolled(store, clock["at"], roles=("quality", "clinician"), username="q.one")
    left, _s, _c = enrolled(store, clock["at"], roles=("clinician",), username="gone.one")
    store.disable(left.id, PHR_ADMIN, departments)
    revoked.clear()
    before = len(queued(gateway_db))
    assert announce_staff(gateway_db, EventChecker("enforce")) == 1  # the disabled one is not announced
    (sent,) = queued(gateway_db)[before:]
    # as activated (so a consumer that never heard of the person learns they are active), roles as now
    assert sent["type"] == "phr.accounts.staff-activated"
    assert sent["data"]["staff_id"] == quality.id and sent["data"]["department"] == "cardiology"
    assert sent["data"]["roles"] == list(quality.roles) and sent["data"]["invite_id"] == quality.invite_id
    assert revoked == [] and store.account(account_id=quality.id).roles == quality.roles


def test_the_worker_announces_every_active_members_roles_once_at_its_first_start_after_the_upgrade(
        store, gateway_db, clock, departments):
    from gateway.worker import announce_once
    one, _s, _c = enrolled(store, clock["at"], roles=("quality",), username="q.once")
    two, _s, _c = enrolled(store, clock["at"], roles=("clinician",), username="dr.once")
    left, _s, _c = enrolled(store, clock["at"], roles=("clinician",), username="gone.once")
    store.disable(left.id, PHR_ADMIN, departments)
    before = len(queued(gateway_db))
    announce_once(gateway_db, EventChecker("enforce"))
    sent = queued(gateway_db)[before:]
    assert sorted((e["type"], e["data"]["staff_id"]) for e in sent) == sorted(
        ("phr.accounts.staff-activated", a.id) for a in (one, two))
    announce_once(gateway_db, EventChecker("enforce"))  # the next start, or another worker: nothing
    assert len(queued(gateway_db)) == before + 2


def test_two_workers_starting_at_once_announce_the_staff_once(store, gateway_db, clock):
    from gateway.admin.clients import announce_staff_once
    enrolled(store, clock["at"], roles=("quality",), username="q.race")
    before, results, start = len(queued(gateway_db)), [], threading.Barrier(2)

    def worker():
        start.wait()
        results.append(announce_staff_once(gateway_db, EventChecker("enforce")))
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [1, None] and len(queued(gateway_db)) == before + 1
