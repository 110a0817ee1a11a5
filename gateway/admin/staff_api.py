"""``/staff/v1/admin/``: a department's admins keep its staff accounts (gateway/accounts/staff.py).
The gateway serves it itself, since it keeps the accounts; the proxy never forwards it
(gateway/proxy/routes.py GATEWAY_OWN).

Only a member of staff's token that holds ``user/Staff.cruds`` (contracts.vocabulary
ROLE_SCOPES["admin"], a scope no wildcard covers) may call it, for the department its ``dept``
claim names; the account it names (``sub``) must still be an active admin of that active
department. Another department's staff are not found (404), as another patient's records are.

- ``GET /staff/v1/admin/staff``: the department's staff (name, username, roles and status in
  the caller's language).
- ``POST /staff/v1/admin/invites`` ``{roles, display_name, practitioner?}``: an invite; its code
  is in the answer, this once.
- ``PUT /staff/v1/admin/staff/{id}/roles`` ``{roles}``: the whole set of roles (their live tokens
  end, as they carry the old ones).
- ``POST /staff/v1/admin/staff/{id}/disable``: no more sign-in; their tokens end at once.
- ``PUT /staff/v1/admin/webhook`` ``{webhook_url}``: where the department takes signed notices
  when a consent it received records under ends (its directory entry; null removes it).

And for the platform's administrators (``admin/Departments.crus``, as /admin/v1/departments):
``POST /admin/v1/departments/{id}/invites`` invites a department's first admin (or anyone).
"""
from __future__ import annotations

import datetime as dt
import logging

from babel.dates import format_date
from flask import Blueprint, jsonify

from contracts.schemas.directory import DepartmentWebhookSchema
from contracts.schemas.staff_admin import NoBodySchema, StaffInviteRequestSchema, StaffRolesSchema
from contracts.vocabulary import ROLE_NAMES
from gateway.accounts.models import StaffAccount
from gateway.accounts.staff import ACTIVE, ADMIN, DISABLED, PENDING, PHR_ADMIN, StaffError
from gateway.accounts.staff_store import StaffStore
from gateway.admin.api import set_webhook
from gateway.authz.departments import ADMIN_SCOPE
from gateway.directory.store import DirectoryStore
from gateway.proxy.guard import Guard, Revocations
from services.common import smart
from services.common.bodies import SMALL, load_body, raw_body
from services.common.i18n import N_, current_language, translate
from services.common.outbound import HostPolicy
from services.common.problem import Problem

log = logging.getLogger(__name__)
PREFIX = "/staff/v1/admin"
STAFF_SCOPE = ("user", "Staff")
NO_STORE = {"Cache-Control": "no-store"}
STATUS_TEXT = {PENDING: N_("Has not set up the second step yet"), ACTIVE: N_("Active"),
               DISABLED: N_("Turned off")}

_CONFLICTS = {
    "self": N_("You cannot turn off your own account or take away your own admin role. "
               "Ask another admin."),
    "disabled": N_("This account is turned off. Its roles cannot change."),
    "department-disabled": N_("The department {department} is disabled. Its staff cannot change."),
}


def member(account: StaffAccount, lang: str) -> dict:
    """ACCOUNT as its department's admins see it, with its words in LANG."""
    return {"id": account.id, "username": account.username, "display_name": account.display_name,
            "practitioner": account.practitioner,
            "roles": [{"code": r, "display": translate(ROLE_NAMES[r], lang)} for r in account.roles],
            "status": {"code": account.status,
                       "status_text": translate(STATUS_TEXT[account.status], lang)}}


def invite_view(invite: dict, code: str, lang: str) -> dict:
    day = dt.datetime.fromtimestamp(invite["expires_at"], dt.timezone.utc)
    return {"id": invite["id"], "department": invite["department"],
            "display_name": invite["display_name"],
            "roles": [{"code": r, "display": translate(ROLE_NAMES[r], lang)}
                      for r in invite["roles"].split()],
            "invite_code": code,
            "expires": {"iso": day.isoformat().replace("+00:00", "Z"),
                        "display": format_date(day.date(), format="long", locale=lang)}}


def _not_found(staff_id: str) -> Problem:
    return Problem(404, N_("Not Found"), N_("Your department has no member of staff with this id."))


def _refusal(error: StaffError, department: str) -> Problem:
    """The problem of a rule's refusal (gateway/accounts/staff.py StaffError reasons)."""
    reason = error.reason
    if reason in ("no-roles", "unknown-role"):
        return Problem(422, N_("Invalid input"), N_("Give one or more roles of the list."),
                       fields=["roles"])
    if reason in ("display-name", "practitioner"):
        field = "display_name" if reason == "display-name" else "practitioner"
        return Problem(422, N_("Invalid input"), N_("Check these fields: {fields}."),
                       params={"fields": field}, fields=[field])
    if reason == "not-found":
        return _not_found("")
    if reason == "forbidden":
        return Problem(403, N_("Forbidden"), N_("Only an admin of this department may do this."))
    if reason in _CONFLICTS:
        return Problem(409, N_("Conflict"), _CONFLICTS[reason], params={"department": department})
    return Problem(409, N_("Conflict"), N_("This cannot be done now."))


def _body_or_nothing() -> dict:
    """No body, or an empty JSON object."""
    if not raw_body(SMALL):
        return {}
    return load_body(NoBodySchema())


def create_blueprint(staff: StaffStore, directory: DirectoryStore, guard: Guard,
                     revocations: Revocations, policy: HostPolicy = HostPolicy()) -> Blueprint:
    """The staff admin API over STAFF; GUARD checks tokens, REVOCATIONS is refreshed after a
    change ends tokens, so this process refuses them at once; POLICY judges webhook URLs."""
    bp = Blueprint("staff_admin_api", __name__)

    def admin_of_department(interactions: str) -> tuple[dict, StaffAccount]:
        """The caller's claims and staff account: a member of staff's token holding
        user/Staff.<INTERACTIONS>, whose account is an active admin of its active department."""
        claims = guard.claims()
        context, resource = STAFF_SCOPE
        if not smart.allows(str(claims.get("scope", "")), context, resource, interactions):
            needed = f"{context}/{resource}.{interactions}"
            raise Problem(403, N_("Forbidden"),
                          N_("Your token may not do this. It needs the scope {scope}."),
                          params={"scope": needed},
                          headers={"WWW-Authenticate": f'Bearer realm="phr", error="insufficient_scope", '
                                                      f'scope="{needed}"'})
        guard.limit(claims)
        dept, sub = claims.get("dept"), claims.get("sub")
        actor = staff.account(account_id=sub) if isinstance(sub, str) else None
        if actor is None or actor.department != dept or actor.status != ACTIVE \
                or ADMIN not in actor.roles or not directory.active(actor.department):
            raise Problem(403, N_("Forbidden"), N_("Only an admin of this department may do this."))
        return claims, actor

    def target_of(actor: StaffAccount, staff_id: str) -> StaffAccount:
        """The member of the ACTOR's department with STAFF_ID; another department's is a 404."""
        target = staff.account(account_id=staff_id) if len(staff_id) <= 64 else None
        if target is None or target.department != actor.department:
            raise _not_found(staff_id)
        return target

    def answer(body: dict, status: int = 200, **headers):
        resp = jsonify(body)
        resp.status_code = status
        resp.headers.update({**NO_STORE, **headers})
        return resp

    @bp.get(f"{PREFIX}/staff")
    def list_staff():
        """The department's staff."""
        _claims, actor = admin_of_department("rs")
        lang = current_language().used
        return answer({"department": actor.department,
                       "items": [member(a, lang) for a in staff.staff_of(actor.department)]})

    @bp.post(f"{PREFIX}/invites")
    def invite():
        """Invite a person to the department's staff; the code is shown this once."""
        _claims, actor = admin_of_department("c")
        body = load_body(StaffInviteRequestSchema())
        try:
            made, code = staff.create_invite(actor.id, actor.department, body["roles"],
                                             body["display_name"], directory.active,
                                             body.get("practitioner"))
        except StaffError as error:
            raise _refusal(error, actor.department) from None
        log.info("staff %s of %s invited %s (%s)", actor.id, actor.department, made["id"], made["roles"])
        return answer(invite_view(made, code, current_language().used), 201)

    @bp.put(f"{PREFIX}/staff/<staff_id>/roles")
    def roles(staff_id: str):
        """Set a member of staff's roles."""
        _claims, actor = admin_of_department("u")
        target = target_of(actor, staff_id)
        body = load_body(StaffRolesSchema())
        try:
            changed = staff.change_roles(target.id, body["roles"], actor.id, directory.active)
        except StaffError as error:
            raise _refusal(error, actor.department) from None
        revocations.refresh()  # their old tokens are refused here at once
        return answer(member(changed, current_language().used))

    @bp.post(f"{PREFIX}/staff/<staff_id>/disable")
    def disable(staff_id: str):
        """Turn off a member of staff's account."""
        _claims, actor = admin_of_department("u")
        target = target_of(actor, staff_id)
        _body_or_nothing()
        try:
            done = staff.disable(target.id, actor.id, directory.active)
        except StaffError as error:
            raise _refusal(error, actor.department) from None
        revocations.refresh()
        log.info("staff %s of %s disabled %s", actor.id, actor.department, done.id)
        return answer(member(done, current_language().used))

    @bp.put(f"{PREFIX}/webhook")
    def webhook():
        """Set where the admin's own department takes signed notices (revocation receipts)."""
        _claims, actor = admin_of_department("u")
        body = load_body(DepartmentWebhookSchema())
        entry = set_webhook(directory, actor.department, body["webhook_url"], policy)
        log.info("staff %s of %s set the department's webhook (version %s)", actor.id, actor.department,
                 entry["version"])
        return answer(entry)

    @bp.post("/admin/v1/departments/<department_id>/invites")
    def first_invite(department_id: str):
        """The platform's administrators invite a department's first admin (or anyone)."""
        claims = guard.claims()
        if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
            raise Problem(403, N_("Forbidden"),
                          N_("Your token may not do this. It needs the scope {scope}."),
                          params={"scope": ADMIN_SCOPE},
                          headers={"WWW-Authenticate": f'Bearer realm="phr", error="insufficient_scope", '
                                                      f'scope="{ADMIN_SCOPE}"'})
        guard.limit(claims)
        body = load_body(StaffInviteRequestSchema())
        entry = directory.entry(department_id) if len(department_id) <= 64 else None
        if entry is None:
            raise Problem(404, N_("Not Found"), N_("There is no department {department}."),
                          params={"department": department_id})
        try:
            made, code = staff.create_invite(PHR_ADMIN, department_id, body["roles"],
                                             body["display_name"], directory.active,
                                             body.get("practitioner"))
        except StaffError as error:
            raise _refusal(error, department_id) from None
        log.info("%s invited %s to %s (%s)", claims["client_id"], made["id"], department_id, made["roles"])
        return answer(invite_view(made, code, current_language().used), 201)

    return bp
