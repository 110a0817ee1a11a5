"""The demo's department staff (launcher/demo/staff.json): one account per kind of work, made as a
person would make theirs (an invite from the platform's administrators, redeemed with a username
and password, then the second step set up with a first code), straight in the gateway's store.

Each person's authenticator key is written to the demo credentials so that a person trying the
demo can add it to an authenticator app, and the conformance kit can sign staff in."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

STAFF_FILE = Path(__file__).resolve().parent / "staff.json"


def seed_staff(engine) -> list[dict]:
    """Make the demo's staff accounts; return [{username, password, totp_secret, department, roles,
    display_name}], each ready to sign in."""
    import pyotp

    from contracts.events import EventChecker
    from gateway.accounts.staff import PHR_ADMIN
    from gateway.bootstrap import make_stores

    stores = make_stores(engine, EventChecker("enforce"))
    store, active = stores.staff, stores.directory.active
    made = []
    for person in json.loads(STAFF_FILE.read_text()):
        _invite, code = store.create_invite(PHR_ADMIN, person["department"], person["roles"],
                                            person["display_name"], active)
        password = secrets.token_urlsafe(12)
        enrolment = store.redeem_invite(code, person["username"], password, active)
        store.confirm_enrolment(enrolment.account.id, pyotp.TOTP(enrolment.secret).now(), active)
        made.append({**person, "password": password, "totp_secret": enrolment.secret})
    return made
