"""``/admin/v1/departments``: the directory's administrators register, change, list and disable
departments (gateway/directory/store.py). The gateway serves it itself; the proxy's routes
never forward ``/admin/``.

Only a token that holds ADMIN_SCOPE (gateway/authz/departments.py) by its exact name may call
it: the administrators' client ``phr-admin`` (``python -m gateway.admin admin-client``). No
department's token, and no token with a wildcard scope, holds it.

- ``GET /admin/v1/departments`` lists the entries by id, a page at a time (``?limit=``,
  ``?cursor=``: services/common/paging.py).
- ``POST /admin/v1/departments`` registers one and creates its OAuth client; the answer
  carries the client's secret, this once. 409 when the id is taken.
- ``GET /admin/v1/departments/{id}`` reads one entry.
- ``PUT /admin/v1/departments/{id}`` sets its names and rights (the whole set; the id and
  kind never change). A disabled department cannot be changed (409); the same values again
  change nothing.
- ``POST /admin/v1/departments/{id}/disable`` with ``{reason}`` disables it: its client is
  refused from now on and its live tokens are revoked before the answer. Again changes
  nothing and answers the entry as it is (200).

Every change answers the entry with its new version and queues its phr.directory.v1 event in
the same transaction.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from contracts.schemas.directory import (DepartmentRegistrationSchema, DepartmentRightsSchema, DepartmentWebhookSchema,
                                         DisableDepartmentSchema, rights_problems)
from gateway.admin.clients import new_secret
from gateway.authz.departments import ADMIN_SCOPE
from gateway.directory.store import (DepartmentDisabled, DepartmentExists, DirectoryStore,
                                     UnknownDepartment)
from gateway.proxy.guard import Guard, Revocations
from services.common import paging
from services.common.bodies import invalid_input, load_body
from services.common.i18n import N_
from services.common.outbound import HostPolicy, literal_address_problem
from services.common.problem import Problem

log = logging.getLogger(__name__)
PREFIX = "/admin/v1/departments"
LIST = "departments"  # the list's name in its paging cursors
NO_STORE = {"Cache-Control": "no-store"}


def _unknown(department_id: str) -> Problem:
    return Problem(404, N_("Not Found"), N_("There is no department {department}."),
                   params={"department": department_id})


def set_webhook(directory: DirectoryStore, department_id: str, url: str | None, policy: HostPolicy) -> dict:
    """Give DEPARTMENT_ID the webhook URL (None: none); the entry, or a 404 or 409 problem, or a
    422 when POLICY (services/common/outbound.py, the exchange's rule for every callback) refuses
    where it points as far as can be told before a look-up; the exchange checks again at each send."""
    problem = literal_address_problem(policy, url) if url is not None else None
    if problem:
        raise invalid_input({"webhook_url": [problem]})
    try:
        return directory.set_webhook(department_id, url)[0]
    except UnknownDepartment:
        raise _unknown(department_id) from None
    except DepartmentDisabled:
        raise Problem(409, N_("Conflict"), N_("The department {department} is disabled. It cannot be changed."),
                      params={"department": department_id}) from None


def create_blueprint(directory: DirectoryStore, guard: Guard, revocations: Revocations,
                     policy: HostPolicy = HostPolicy()) -> Blueprint:
    """The admin API over DIRECTORY; GUARD checks the tokens, REVOCATIONS is refreshed after a
    change revokes tokens so that this process refuses them at once; POLICY judges webhook URLs."""
    bp = Blueprint("admin_api", __name__)

    def administrator() -> dict:
        """The claims of the caller's token when it holds ADMIN_SCOPE, else 401 or 403."""
        claims = guard.claims()
        if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
            raise Problem(403, N_("Forbidden"),
                          N_("Your token may not do this. It needs the scope {scope}."),
                          params={"scope": ADMIN_SCOPE},
                          headers={"WWW-Authenticate": f'Bearer realm="phr", error="insufficient_scope", '
                                                      f'scope="{ADMIN_SCOPE}"'})
        guard.limit(claims)
        return claims

    def answer(body: dict, status: int = 200, **headers):
        resp = jsonify(body)
        resp.status_code = status
        resp.headers.update({**NO_STORE, **headers})
        return resp

    @bp.get(PREFIX)
    def list_departments():
        """Every department by id, a page at a time."""
        administrator()
        size, cursor, after = paging.page_size(request.args.get("limit")), request.args.get("cursor"), None
        fields = [] if size is not None else ["limit"]
        if cursor is not None:
            try:
                after = paging.decode(cursor, LIST, str)[0]
            except paging.BadCursor:
                fields.append("cursor")
        if fields:
            raise Problem(422, N_("Invalid input"),
                          N_("Use a limit from 1 to {max} and the cursor of the page before, as it is."),
                          params={"max": paging.MAX_PAGE}, fields=fields)
        items = directory.page(after, size + 1)
        more, items = len(items) > size, items[:size]
        return answer({"items": items,
                       "next": paging.encode(LIST, items[-1]["department"]) if more else None})

    @bp.post(PREFIX)
    def register():
        """Register a department and create its OAuth client; its secret is shown this once."""
        claims = administrator()
        body = load_body(DepartmentRegistrationSchema())
        secret = new_secret()
        try:
            entry, scope = directory.register(body["department"], body["names"], body["kind"],
                                              body["may_claim_emergencies"],
                                              body["may_write_records"], secret)
        except DepartmentExists:
            raise Problem(409, N_("Conflict"),
                          N_("The id {department} is taken. Choose another id."),
                          params={"department": body["department"]}, fields=["department"]) from None
        log.info("%s registered department %s (%s)", claims["client_id"], entry["department"],
                 entry["kind"])
        return answer({**entry, "client_id": entry["department"], "client_secret": secret,
                       "scope": scope}, 201, Location=f"{PREFIX}/{entry['department']}")

    @bp.get(f"{PREFIX}/<department_id>")
    def read(department_id: str):
        """One department's entry."""
        administrator()
        entry = directory.entry(department_id)
        if entry is None:
            raise _unknown(department_id)
        return answer(entry)

    @bp.put(f"{PREFIX}/<department_id>")
    def change(department_id: str):
        """Set a department's names and rights."""
        claims = administrator()
        body = load_body(DepartmentRightsSchema())
        entry = directory.entry(department_id)
        if entry is None:
            raise _unknown(department_id)
        wrong = rights_problems(entry["kind"], body["may_claim_emergencies"], body["may_write_records"])
        if wrong:  # the kind never changes, so the entry just read decides
            raise invalid_input(wrong)
        try:
            entry, changed = directory.change(department_id, body["names"],
                                              body["may_claim_emergencies"], body["may_write_records"])
        except UnknownDepartment:
            raise _unknown(department_id) from None
        except DepartmentDisabled:
            raise Problem(409, N_("Conflict"),
                          N_("The department {department} is disabled. It cannot be changed."),
                          params={"department": department_id}) from None
        if changed:
            revocations.refresh()
            log.info("%s changed department %s (version %s)", claims["client_id"], department_id,
                     entry["version"])
        return answer(entry)

    @bp.put(f"{PREFIX}/<department_id>/webhook")
    def webhook(department_id: str):
        """Set where a department takes signed notices (revocation receipts)."""
        claims = administrator()
        body = load_body(DepartmentWebhookSchema())
        entry = set_webhook(directory, department_id, body["webhook_url"], policy)
        log.info("%s set the webhook of department %s (version %s)", claims["client_id"], department_id,
                 entry["version"])
        return answer(entry)

    @bp.post(f"{PREFIX}/<department_id>/disable")
    def disable(department_id: str):
        """Disable a department: its tokens stop at once and it gets no new ones."""
        claims = administrator()
        body = load_body(DisableDepartmentSchema())
        try:
            entry, changed = directory.disable(department_id, body["reason"])
        except UnknownDepartment:
            raise _unknown(department_id) from None
        if changed:
            revocations.refresh()  # this process refuses its tokens before the answer
            log.info("%s disabled department %s", claims["client_id"], department_id)
        return answer(entry)

    return bp
