"""Sharing requests: a department's clinician asks (/staff/v1/sharing-requests), the patient or
their caregiver answers (/patient/v1/sharing-requests). The department is the staff token's
``dept`` and the person its ``sub``/``fhirUser``; another department's request, like another
patient's, is not found.
"""
from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request

from contracts.limits import ID_MAX
from contracts.schemas.consent import SharingAnswerRequestSchema, SharingRequestCreateSchema
from contracts.vocabulary import STAFF_ROLES
from services.common import i18n, paging
from services.common.auth import require_scope
from services.common.problem import Problem
from services.consent.domain import model, sharing
from services.consent.domain.model import InvalidConsent, NotPermitted
from services.consent.domain.sharing import Person
from services.consent.entrypoints import wording
from services.consent.entrypoints.common import from_domain, json_body, locale, parse_instant, service
from services.consent.entrypoints.patient import _envelope, _patient, _view
from services.consent.service_layer import sharing as uc

blp = Blueprint("sharing", __name__)
_CREATE, _ANSWER = SharingRequestCreateSchema(), SharingAnswerRequestSchema()
LIST = "sharing-requests"
FHIR_USER_MAX = 100  # "Practitioner/<id>" (a FHIR id is at most 64 characters), as the event allows


def register(app: Flask) -> None:
    """Add the sharing request routes to APP."""
    app.register_blueprint(blp)


# -- what the views share ---------------------------------------------------------------------------

def _staff(interactions: str) -> tuple[str, Person]:
    """Return the token's department and person; a token without them (a patient's, a department
    client's) is refused."""
    claims = require_scope("user", "SharingRequest", interactions)
    dept, sub, fhir_user = claims.get("dept"), claims.get("sub"), claims.get("fhirUser")
    fhir_user = fhir_user if isinstance(fhir_user, str) and fhir_user else None
    # A staff token names an account (an id of at most ID_MAX characters) and a Practitioner; the
    # request's event carries both, so a token that does not is refused rather than stored.
    if (not isinstance(dept, str) or not dept or not isinstance(sub, str) or not 0 < len(sub) <= ID_MAX
            or len(fhir_user or "") > FHIR_USER_MAX or claims.get("patient")):
        raise Problem(403, "Forbidden", wording.t(wording.STAFF_ONLY, locale()))
    roles = claims.get("role")
    roles = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
    role = sharing.ASKING_ROLE if sharing.ASKING_ROLE in roles else (roles[0] if roles else None)
    _preferred_language()
    return dept, Person(sub, fhir_user, role if role in STAFF_ROLES else None)


def _preferred_language() -> None:
    """Accept-Language, else the token's ``locale`` (the patient's or the person's preferred
    language: docs/architecture.md, "Language"), else English."""
    locale_claim = g.claims.get("locale")
    if isinstance(locale_claim, str) and locale_claim:
        i18n.use_preferred(locale_claim)


def _answerer(interactions: str):
    """The token's patient and who answers (the patient, or a caregiver named by ``act``)."""
    found = _patient(interactions)
    _preferred_language()
    return found


def _flat(messages: dict, prefix: str = "") -> list[str]:
    """The dotted field names of marshmallow's MESSAGES ({"period": {"days": [...]}} -> period.days)."""
    found = []
    for name, value in messages.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and not str(name).isdigit() and all(not str(k).isdigit() for k in value):
            found += _flat(value, path + ".")
        else:
            found.append(path)
    return sorted(found)


def _checked(schema, body: dict, patient: bool = False) -> None:
    """Refuse a body that breaks SCHEMA (unknown fields included) with a 422 naming the fields."""
    messages = schema.validate(body)
    if messages:
        fields, loc = _flat(messages), locale()
        raise Problem(422, "Unprocessable Content", wording.t(wording.CHECK_FIELDS, loc, fields=", ".join(fields)),
                      slug="invalid-input", fields=fields,
                      next_step=wording.t(wording.INVALID_NEXT, loc) if patient else None)


def _conflict(detail: str, next_step: str, **extra) -> Problem:
    loc = locale()
    return Problem(409, "Conflict", wording.t(detail, loc), slug="conflict",
                   next_step=wording.t(next_step, loc), **extra)


# -- the department's staff ---------------------------------------------------------------------------

def _staff_view(r) -> dict:
    svc = service()
    return wording.staff_sharing_view(r, r.status_at(svc.clock(), svc.directory), locale(), svc.directory)


def _staff_not_found() -> Problem:
    return Problem(404, "Not Found", wording.t(wording.STAFF_NOT_FOUND, locale()), slug="not-found")


@blp.post("/staff/v1/sharing-requests")
def ask():
    """Ask a patient to share: stored pending with the department and the person, announced."""
    dept, person = _staff("c")
    svc = service()
    if not model.may_receive(svc.directory.get(dept)):  # the department's right first, as for break-the-glass
        raise Problem(403, "Forbidden", wording.t(wording.STAFF_NOT_A_GRANTEE, locale()))
    body = json_body()
    _checked(_CREATE, body)
    period = body["period"]
    cmd = uc.AskToShare(body["patient"], dept, person, body["classes"], body["purposes"], period.get("days"),
                        parse_instant(period.get("end"), "period.end", end=True), body["reason"],
                        body.get("exchange_request"))
    try:
        created = uc.ask(cmd, svc.uow(), svc.clock(), svc.directory)
    except NotPermitted:  # its entry changed while the request was read
        raise Problem(403, "Forbidden", wording.t(wording.STAFF_NOT_A_GRANTEE, locale())) from None
    except InvalidConsent as exc:
        raise from_domain(exc) from None
    except sharing.Duplicate as exc:
        raise _conflict(wording.STAFF_DUPLICATE, wording.STAFF_DUPLICATE_NEXT,
                        **({"existing": exc.existing_id} if exc.existing_id else {})) from None
    except sharing.TooMany:
        loc = locale()
        raise Problem(409, "Conflict", wording.t(wording.STAFF_TOO_MANY, loc, count=sharing.MAX_PENDING),
                      slug="conflict", next_step=wording.t(wording.STAFF_TOO_MANY_NEXT, loc)) from None
    resp = jsonify(_staff_view(created))
    resp.status_code = 201
    resp.headers["Location"] = f"/staff/v1/sharing-requests/{created.id}"
    return resp


@blp.get("/staff/v1/sharing-requests")
def department_list():
    """The department's requests, newest first, a page at a time, optionally of one status."""
    dept, _person = _staff("r")
    size, cursor, status = (paging.page_size(request.args.get("limit")), request.args.get("cursor"),
                            request.args.get("status"))
    fields, offset = [] if size is not None else ["limit"], 0
    if cursor is not None:
        try:
            offset = paging.decode(cursor, LIST, int)[0]
        except paging.BadCursor:
            fields.append("cursor")
    if status is not None and status not in sharing.STATUSES:
        fields.append("status")
    if fields:
        raise _checked_fields(fields)
    svc = service()
    items, more = uc.for_department(svc.uow(write=False), dept, status, svc.clock(), size, offset)
    return jsonify({"items": [_staff_view(r) for r in items],
                    "next": paging.encode(LIST, offset + len(items)) if more else None})


def _checked_fields(fields: list[str]) -> Problem:
    return Problem(422, "Unprocessable Content",
                   wording.t(wording.CHECK_FIELDS, locale(), fields=", ".join(fields)),
                   slug="invalid-input", fields=fields)


@blp.get("/staff/v1/sharing-requests/<request_id>")
def department_read(request_id: str):
    """One of the department's requests; another department's is not found."""
    dept, _person = _staff("r")
    try:
        found = uc.department_request(service().uow(write=False), dept, request_id)
    except uc.NotFound:
        raise _staff_not_found() from None
    return jsonify(_staff_view(found))


# -- the patient (or a caregiver whose grant lets them change consents) -------------------------------

def _patient_view(r, consent=None) -> dict:
    """R in the patient's words; while it waits, with the exact consent text a yes now grants."""
    svc, loc = service(), locale()
    now = svc.clock()
    status = r.status_at(now, svc.directory)
    if status == sharing.PENDING and consent is None:
        consent = uc.preview(r, now, loc, lambda c: wording.consent_text(c, loc, svc.directory), svc.directory)
    return wording.patient_sharing_view(r, status, loc, svc.directory, consent if status == sharing.PENDING else None)


def _patient_not_found() -> Problem:
    loc = locale()
    return Problem(404, "Not Found", wording.t(wording.SHARING_NOT_FOUND, loc), slug="not-found",
                   next_step=wording.t(wording.SHARING_NOT_FOUND_NEXT, loc))


def _answer_body() -> dict:
    """The answer's JSON object; an empty body is an empty object."""
    if not request.get_data(cache=True):
        return {}
    body = json_body(patient=True)
    _checked(_ANSWER, body, patient=True)
    return body


@blp.get("/patient/v1/sharing-requests")
def patient_list():
    """The patient's requests: those waiting and those of the last 90 days, newest first."""
    patient, _actor = _answerer("s")
    svc = service()
    found = uc.for_patient(svc.uow(write=False), patient, svc.clock())
    return jsonify(_envelope({"items": [_patient_view(r) for r in found], "next": None}))


@blp.get("/patient/v1/sharing-requests/<request_id>")
def patient_read(request_id: str):
    """One of the patient's requests (a notice links to it); another patient's is not found."""
    patient, _actor = _answerer("r")
    try:
        found = uc.patient_request(service().uow(write=False), patient, request_id)
    except uc.NotFound:
        raise _patient_not_found() from None
    return jsonify(_envelope(_patient_view(found)))


def _answering(action):
    """Run ACTION(patient, actor, body) and map the answer's refusals to problems."""
    patient, actor = _answerer("c")
    body = _answer_body()
    try:
        return action(patient, actor, body)
    except uc.NotFound:
        raise _patient_not_found() from None
    except sharing.AlreadyAnswered:
        raise _conflict(wording.SHARING_ANSWERED, wording.SHARING_ANSWERED_NEXT) from None
    except sharing.Expired:
        raise _conflict(wording.SHARING_EXPIRED, wording.SHARING_EXPIRED_NEXT) from None
    except uc.TextChanged:
        raise _conflict(wording.SHARING_TEXT_CHANGED, wording.SHARING_TEXT_CHANGED_NEXT) from None
    except InvalidConsent as exc:
        raise from_domain(exc, patient=True) from None


@blp.post("/patient/v1/sharing-requests/<request_id>/approve")
def approve(request_id: str):
    """Say yes: the consent is granted as POST /patient/v1/consents grants one, with the text the
    patient read, and the request is marked approved with its id."""
    def action(patient, actor, body):
        svc, loc = service(), locale()
        answered, consent = uc.approve(svc.uow(), patient, request_id, actor, svc.clock(), loc,
                                       lambda c: wording.consent_text(c, loc, svc.directory), svc.directory,
                                       body.get("text_sha256"))
        resp = jsonify(_envelope({**_patient_view(answered), "consent": _view(consent)}))
        resp.status_code = 201
        resp.headers["Location"] = f"/patient/v1/consents/{consent.id}"
        return resp
    return _answering(action)


@blp.post("/patient/v1/sharing-requests/<request_id>/decline")
def decline(request_id: str):
    """Say no: nothing is shared, and the department is told."""
    def action(patient, actor, body):
        svc = service()
        answered = uc.decline(svc.uow(), patient, request_id, actor, svc.clock(), svc.directory)
        return jsonify(_envelope(_patient_view(answered)))
    return _answering(action)
