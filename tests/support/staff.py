"""Department staff in tests: TOTP codes computed from a secret at a given time, and a member of
staff taken through invite, redemption and enrolment (gateway/accounts/staff.py)."""
from __future__ import annotations

import pyotp

from gateway.accounts.staff import PHR_ADMIN
from gateway.accounts.staff_store import StaffStore

PASSWORD = "a staff passphrase"


def totp_code(secret: str, at: float, steps: int = 0) -> str:
    """The code an authenticator app shows at AT (moved by STEPS time steps of 30 s)."""
    return pyotp.TOTP(secret).at(at, counter_offset=steps)


def everyone_active(_department: str) -> bool:
    return True


def enrolled(store: StaffStore, at: float, department: str = "cardiology",
             roles=("clinician",), username: str = "dr.ruiz", by: str = PHR_ADMIN,
             display_name: str = "Dr. Ruiz", department_active=everyone_active):
    """A member of staff through invite, redemption and enrolment with a code of AT (the test's
    clock); return (account, secret, recovery codes)."""
    _invite, code = store.create_invite(by, department, roles, display_name, department_active)
    enrolment = store.redeem_invite(code, username, PASSWORD, department_active)
    codes = store.confirm_enrolment(enrolment.account.id, totp_code(enrolment.secret, at),
                                    department_active)
    return store.account(account_id=enrolment.account.id), enrolment.secret, codes
