"""OpenID Connect userinfo, and the patient's own list of connected apps (served by the gateway).

``GET /patient/v1/apps`` lists the apps a patient approved; ``DELETE /patient/v1/apps/{id}``
disconnects one: its approval goes and every token it holds for the patient is revoked in the
same transaction. This process refuses those tokens from the answer on; the services' copies of
the revocation list (services.common.auth.RevocationFeed) within their polling interval. Only
the portal's own tokens may use these routes: an app with ``patient/*.rs`` must not see which
other apps the patient uses.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, jsonify

from gateway.accounts.models import PATIENT_ACCOUNT
from gateway.accounts.stores import AccountStore
from gateway.authz.app_store import AppStore
from gateway.authz.departments import PORTAL_CLIENT_ID
from gateway.proxy.guard import Guard
from services.common import i18n, smart
from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)
NOT_YOURS = N_("You have no connected app with this id.")


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def read_types(scope: str) -> list[str]:
    """The FHIR types a scope lets an app read, "*" for all of them, sorted."""
    types = {parsed[1] for s in scope.split() if (parsed := smart.parse(s)) and parsed[0] == "patient"
             and "r" in parsed[2]}
    return ["*"] if "*" in types else sorted(types)


def create_blueprint(apps: AppStore, accounts: AccountStore, guard: Guard) -> Blueprint:
    bp = Blueprint("apps", __name__)

    @bp.route("/oauth/userinfo", methods=["GET", "POST"])
    def userinfo():
        """Who the token's person is (OpenID Connect Core section 5.3): needs ``openid``."""
        claims = guard.claims()
        if "openid" not in claims.get("scope", "").split() or not claims.get("patient"):
            raise Problem(403, N_("Forbidden"), N_("This token was not issued with the scope openid."),
                          headers={"WWW-Authenticate": 'Bearer realm="phr", error="insufficient_scope", scope="openid"'})
        guard.limit(claims)
        body = {"sub": claims["sub"], "patient": claims["patient"]}
        if claims.get("fhirUser"):  # a patient's own token (a caregiver's names no resource)
            body["fhirUser"] = claims["fhirUser"]
        return jsonify(body)

    def patient_account(interactions: str):
        """The account of a patient acting for themselves through the portal, else 403."""
        claims = guard.check(("patient", "Consent", interactions))
        account = accounts.account(account_id=str(claims.get("sub", "")))
        if (claims.get("act") or claims.get("client_id") != PORTAL_CLIENT_ID or account is None
                or account.kind != PATIENT_ACCOUNT or account.patient != claims.get("patient")):
            raise Problem(403, N_("Forbidden"), N_("Only the patient, in the portal, can see and disconnect apps."))
        i18n.use_preferred(claims.get("locale") or account.language)
        return account

    def view(row: dict) -> dict:
        return {"id": row["client_id"], "name": row["name"], "scope": row["scope"],
                "reads": read_types(row["scope"]), "approved_at": _iso(row["approved_at"]),
                "last_used_at": _iso(row["last_used_at"])}

    @bp.get("/patient/v1/apps")
    def list_apps():
        """The apps the patient approved, most recently used first."""
        account = patient_account("s")
        return jsonify({"items": [view(row) for row in apps.approved(account.id)], "next": None})

    @bp.delete("/patient/v1/apps/<client_id>")
    def disconnect(client_id: str):
        """Disconnect an app: its approval and every token it holds for the patient end now."""
        account = patient_account("d")
        if not apps.disconnect(account.id, client_id[:64]):
            raise Problem(404, N_("Not Found"), NOT_YOURS,
                          next_step=N_("Go back to your list of connected apps and pick one."))
        guard.revocations.refresh()  # this process refuses the tokens from now on
        log.info("app %s disconnected by its patient", client_id)
        return "", 204

    return bp
