"""Department staff's HTTP API of the records service (/staff/v1/corrections): a records
officer's worklist of correction requests and their answers.

Thin views: check the scope (``user/Task.rs`` to read, ``user/Task.u`` to answer), take the
department from the token's ``dept`` and the person from ``sub`` and ``fhirUser``, load the
body with the contract's schema, call a use case (service_layer/corrections.py), map its
errors to problem+json. A request of another department is a 404, as another patient's is.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, current_app, g, json, request

from contracts.http import FHIR_ID_PART
from contracts.schemas.staff_records import (CORRECTION_STATES, AcceptCorrectionSchema,
                                             DenyCorrectionSchema)
from services.common import bodies, i18n, paging
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.records.domain import corrections as rules
from services.records.domain.bundle import InvalidBundle
from services.records.entrypoints.patient import vocabulary
from services.records.service_layer import corrections as uc
from services.records.service_layer import handlers

blp = Blueprint("staff", __name__, url_prefix="/staff/v1")

PRACTITIONER = re.compile(f"^Practitioner/{FHIR_ID_PART}$")
STAFF_ONLY = N_("Only a member of the department's staff can do this.")
STAFF_ONLY_NEXT = N_("Sign in to the staff console with your own account.")
NO_SUCH = N_("There is no correction request with this id for your department.")
NO_SUCH_NEXT = N_("Go back to the list of correction requests and pick one from it.")
ANSWERED = N_("This correction request has been answered already.")
ANSWERED_NEXT = N_("Open the request again to see its answer.")
NO_RECORD = N_("The record this request is about is no longer held by your department.")
CANNOT_MARK = N_("This kind of record cannot be marked as entered in error.")
CANNOT_MARK_NEXT = N_("Correct the record instead: send the corrected resource with the action amend.")
OTHER_PATIENT = N_("A correction must stay in the same patient's record.")
UNCHANGED = N_("The resource you sent is the record as it is now, so nothing would change.")
UNCHANGED_NEXT = N_("Send the record with the correction made, or deny the request and say why.")
NOT_VALID = N_("The corrected resource is not valid FHIR R4: {problems}")
CHANGED = N_("The record changed since you read it: its current version is {version}.")
CHANGED_NEXT = N_("Read the record again, make your correction on it, and send it again.")
BAD_STATUS = N_("Use one of: {values}.")
BAD_LIMIT = N_("Use a whole number from 1 to 100.")
BAD_CURSOR = N_("Use the next value of the page before, as it is.")


def register(app: Flask) -> None:
    """Add the staff routes to APP."""
    app.register_blueprint(blp)


def _records():
    return current_app.extensions["records"]


def _officer(interactions: str) -> rules.Officer:
    """The member of staff the token names; 403 for any other token, or a staff token without
    the scope (a clinician's, say)."""
    claims = require_scope("user", "Task", interactions)
    dept, sub, who = claims.get("dept"), claims.get("sub"), claims.get("fhirUser")
    if claims.get("patient") or not (isinstance(dept, str) and dept and isinstance(sub, str) and sub
                                     and isinstance(who, str) and PRACTITIONER.match(who)):
        raise Problem(403, N_("Forbidden"), STAFF_ONLY, next_step=STAFF_ONLY_NEXT)
    return rules.Officer(sub, who, dept)


def _view() -> uc.View:
    """Accept-Language, else the token's locale, else English."""
    lang = i18n.negotiate(request.headers.get("Accept-Language"))
    if lang.requested is None and g.claims.get("locale"):
        lang = i18n.negotiate(None, g.claims["locale"])
    g.language = lang
    return uc.View(lang, vocabulary(), _records().directory, datetime.now(timezone.utc).date())


def _json(body: dict, lang: i18n.Language, status: int = 200) -> Response:
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    i18n.label(resp.headers, lang.used)
    resp.headers["Cache-Control"] = "no-store"
    resp.vary.add("Authorization")
    return resp


def _not_found() -> Problem:
    return Problem(404, N_("Not Found"), NO_SUCH, next_step=NO_SUCH_NEXT)


@blp.get("/corrections")
def corrections():
    """The department's correction requests, oldest first (?status=open, the default, or answered)."""
    officer = _officer("rs")
    view = _view()
    state = request.args.get("status", "open")
    if state not in CORRECTION_STATES:
        raise bodies.invalid_input({"status": [i18n.translate(BAD_STATUS, view.lang.used,
                                                             values=", ".join(CORRECTION_STATES))]})
    size, after = paging.page_size(request.args.get("limit")), None
    errors = {} if size is not None else {"limit": [i18n.translate(BAD_LIMIT, view.lang.used)]}
    if request.args.get("cursor") is not None:
        try:  # the cursor holds the list and the (asked, id) key of the page's last request
            of, asked, task_id = paging.decode(request.args["cursor"], "corrections", str, str, str)
            if of != state:  # a cursor of the other list
                raise paging.BadCursor("corrections")
            after = (datetime.fromisoformat(asked), task_id)
            if after[0].tzinfo is None:  # the server writes every time with its offset
                raise paging.BadCursor("corrections")
        except (paging.BadCursor, ValueError):
            errors["cursor"] = [i18n.translate(BAD_CURSOR, view.lang.used)]
    if errors:
        raise bodies.invalid_input(errors)
    items, last = uc.list_corrections(_records().uow(write=False), officer.department, state, view, size, after)
    following = paging.encode("corrections", state, last[0].isoformat(), last[1]) if last else None
    return _json({"items": items, "next": following, "language": i18n.language_block(view.lang)}, view.lang)


@blp.get("/corrections/<task_id>")
def correction(task_id: str):
    """One of the department's correction requests."""
    officer = _officer("r")
    view = _view()
    try:
        item = uc.read_correction(_records().uow(write=False), officer.department, task_id, view)
    except uc.NotFound:
        raise _not_found() from None
    return _json({**item, "language": i18n.language_block(view.lang)}, view.lang)


@blp.post("/corrections/<task_id>/accept")
def accept(task_id: str):
    """Accept: amend the record (the corrected resource) or mark it entered in error."""
    officer = _officer("u")
    view = _view()
    # The body may carry a whole FHIR resource: it takes what PUT /fhir/{type}/{id} takes.
    data = bodies.load_body(AcceptCorrectionSchema(), bodies.RESOURCE)
    cmd = uc.Accept(task_id, officer, data["action"], data.get("resource"), request.headers.get("If-Match"))
    return _answer(lambda: uc.accept(cmd, _records().uow(), view, _records().labeller), view)


@blp.post("/corrections/<task_id>/deny")
def deny(task_id: str):
    """Deny, with the reason in plain words (shown to the patient as written)."""
    officer = _officer("u")
    view = _view()
    data = bodies.load_body(DenyCorrectionSchema())
    cmd = uc.Deny(task_id, officer, data["reason"].strip())
    return _answer(lambda: uc.deny(cmd, _records().uow(), view), view)


def _answer(run, view: uc.View) -> Response:
    try:
        item = run()
    except uc.NotFound:
        raise _not_found() from None
    except uc.RecordGone:
        raise Problem(409, N_("Conflict"), NO_RECORD) from None
    except uc.AlreadyAnswered:
        raise Problem(409, N_("Conflict"), ANSWERED, next_step=ANSWERED_NEXT) from None
    except uc.CannotMarkInError:
        raise Problem(422, N_("Unprocessable Content"), CANNOT_MARK, next_step=CANNOT_MARK_NEXT,
                      fields=["action"]) from None
    except uc.Unchanged:
        raise Problem(422, N_("Unprocessable Content"), UNCHANGED, next_step=UNCHANGED_NEXT,
                      fields=["resource"]) from None
    except uc.OtherPatient:
        raise Problem(422, N_("Unprocessable Content"), OTHER_PATIENT, fields=["resource"]) from None
    except InvalidBundle as exc:
        messages = [f"{e.expression}: {e.message}" for e in exc.errors]
        raise Problem(422, N_("Unprocessable Content"), NOT_VALID, params={"problems": "; ".join(messages)},
                      fields=["resource"], errors={"resource": messages}) from None
    except handlers.PreconditionFailed as exc:
        raise Problem(412, N_("Precondition Failed"), CHANGED, params={"version": exc.current},
                      next_step=CHANGED_NEXT, current_version=str(exc.current)) from None
    return _json({**item, "language": i18n.language_block(view.lang)}, view.lang)
