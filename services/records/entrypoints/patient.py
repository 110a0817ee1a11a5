"""Patient-facing HTTP API of the records service (/patient/v1/me, records, entries, amendments).

Thin views: check that the token is a patient's, negotiate the language (Accept-Language, else
the token's ``locale``, else FHIR Patient.communication), load the body with the contract's
schema, call a use case, answer in the shapes of contracts/PATIENT_FACING.md.

The records page is also answered without Flask (entrypoints.fastpath, fast_records_page) in
its common case, with the functions of its view here: patient_of, header_language, page_query,
records_page and private_headers.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Mapping

from flask import Blueprint, Flask, Response, current_app, g, json, request

from contracts.schemas.patient_records import (RECORD_CATEGORIES, AmendmentRequestSchema,
                                               DisagreementRequestSchema, EntryRequestSchema)
from services.common import bodies, i18n, paging, smart
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.lru import LruCache
from services.common.problem import Problem
from services.records.domain import plain_language as pl
from services.records.service_layer import corrections
from services.records.service_layer import patient as uc

blp = Blueprint("patient", __name__, url_prefix="/patient/v1")

NOT_YOURS = N_("Only a patient's own sign-in can use this.")
NOT_YOURS_NEXT = N_("Sign in to the patient portal with your own account.")
NO_RECORD = N_("We could not find this in your record.")
CAREGIVER_MAY_NOT = N_("The patient has not given you the right to do this.")
CAREGIVER_ASK = N_("Ask the patient to give you this right, or to do it themselves.")
NO_RECORD_NEXT = N_("Go back to your records and pick one from the list.")
NO_FILE = N_("We do not have a record for you here yet.")
NO_FILE_NEXT = N_("Call your care team. They can set up your record.")
BAD_INPUT = N_("Some of what you sent is not right.")
BAD_INPUT_NEXT = N_("Fix the fields named here. Then send it again.")
NOT_DENIED = N_("You can send this only after your request was turned down.")
NOT_DENIED_NEXT = N_("Look at your correction requests to see where this one stands.")
ALREADY_SENT = N_("You already sent your words about this request.")
ALREADY_SENT_NEXT = N_("Open the record to read what you sent.")


def register(app: Flask) -> None:
    """Add the patient-facing routes to APP."""
    app.register_blueprint(blp)


@lru_cache(maxsize=1)
def vocabulary() -> pl.Vocabulary:
    """The plain-language names and units, read once per process."""
    return pl.load_vocabulary()


def _records():
    return current_app.extensions["records"]


def _patient(context_resource: str = "*", interactions: str = "r") -> str:
    """Return the token's patient id; department (and other non-patient) tokens get 403."""
    return patient_of(g.claims, context_resource, interactions)


def patient_of(claims: dict, context_resource: str = "*", interactions: str = "r") -> str:
    """Return the patient id of a token's CLAIMS when they may use the interactions, else raise 403."""
    if claims.get("dept") or not isinstance(claims.get("patient"), str) or not claims["patient"]:
        raise Problem(403, N_("Forbidden"), NOT_YOURS, next_step=NOT_YOURS_NEXT)
    if claims.get("act") and not smart.allows(claims.get("scope", ""), "patient", context_resource,
                                              interactions):
        # A caregiver's token carries only the rights the patient gave (gateway/accounts/caregivers.py).
        raise Problem(403, N_("Forbidden"), CAREGIVER_MAY_NOT, next_step=CAREGIVER_ASK,
                      headers={"WWW-Authenticate": 'Bearer realm="phr", error="insufficient_scope"'})
    require_scope("patient", context_resource, interactions, claims)
    return claims["patient"]


def _language(patient_id: str) -> i18n.Language:
    """Accept-Language, else the token's `locale`, else the patient's preferred language."""
    lang = header_language(request.headers.get("Accept-Language"))
    if lang is None:
        preferred = g.claims.get("locale") or uc.patient_language(_records().uow(write=False), patient_id)
        lang = i18n.negotiate(None, preferred)
    g.language = lang
    return lang


def header_language(accept_language: str | None) -> i18n.Language | None:
    """The language ACCEPT_LANGUAGE negotiates, or None when it names none (absent, or only
    `*` or what is not a language tag): then the token's and the patient's decide."""
    lang = i18n.negotiate(accept_language)
    return lang if lang.requested is not None else None


#: Encoded pages of records by (patient, ETag) (see records_page()), the view's and the fast route's.
_pages: LruCache[bytes] = LruCache(256)


def private_headers(headers, lang: i18n.Language, etag: str | None = None) -> None:
    """Label an answer to a patient in LANG, and keep it private and revalidated, per token.

    HEADERS is a response's Werkzeug Headers (a view's) or a dict (the fast route's)."""
    i18n.label(headers, lang.used)
    headers["Cache-Control"] = "private, no-cache"
    vary = headers["Vary"]  # i18n.label has set it
    if "authorization" not in vary.lower():
        headers["Vary"] = vary + ", Authorization"
    if etag:
        headers["ETag"] = etag


def _json(body: dict | bytes, lang: i18n.Language, status: int = 200, etag: str | None = None) -> Response:
    resp = Response(body if isinstance(body, bytes) else json.dumps(body), status=status,
                    mimetype="application/json")
    private_headers(resp.headers, lang, etag)
    return resp


def _not_modified(etag: str, lang: i18n.Language) -> Response:
    resp = Response(status=304)
    private_headers(resp.headers, lang, etag)
    return resp


def _matches(etag: str) -> bool:
    header = request.headers.get("If-None-Match") or ""
    return etag in [v.strip() for v in header.split(",")] or header.strip() == "*"


def _invalid(messages: dict) -> Problem:
    return Problem(422, N_("Unprocessable Content"), BAD_INPUT, next_step=BAD_INPUT_NEXT,
                   fields=sorted(messages), errors=messages)


def _body(schema) -> dict:
    return bodies.load_body(schema, bodies.SMALL, _invalid)


@blp.get("/me")
def me():
    """Return my name, preferred language, interpreter flag and proxies."""
    patient_id = _patient("Patient", "r")
    lang = _language(patient_id)
    try:
        body, etag = uc.me(_records().uow(write=False), patient_id, lang, _records().directory)
    except uc.NotFound:
        raise Problem(404, N_("Not Found"), NO_FILE, next_step=NO_FILE_NEXT) from None
    if _matches(etag):
        return _not_modified(etag, lang)
    return _json(body, lang, etag=etag)


@blp.get("/records")
def records():
    """Return one page of my records in plain words (cursor paging, newest first)."""
    patient_id = _patient("*", "rs")
    lang = _language(patient_id)
    query = page_query(patient_id, lang, request.args)
    etag, encoded = records_page(_records(), query, request.headers.get("If-None-Match"),
                                 current_app.json.dumps)
    if encoded is None:
        return _not_modified(etag, lang)
    return _json(encoded, lang, etag=etag)


def page_query(patient_id: str, lang: i18n.Language, args: Mapping[str, str]) -> uc.ListRecords:
    """The query of one page of records from ARGS (category, limit, cursor), or a 422 problem
    naming each one that is not right."""
    errors = {}
    category = args.get("category") or None
    if category is not None and category not in RECORD_CATEGORIES:
        errors["category"] = [f"Use one of: {', '.join(RECORD_CATEGORIES)}."]
    size = paging.page_size(args.get("limit"), uc.DEFAULT_PAGE, uc.MAX_PAGE)
    if size is None:
        errors["limit"] = [f"Use a whole number from 1 to {uc.MAX_PAGE}."]
    cursor = args.get("cursor") or None
    if cursor is not None:
        try:
            uc.decode_cursor(cursor)
        except uc.BadCursor:
            errors["cursor"] = ["Use the `next` value of the page before, as it is."]
    if errors:
        raise _invalid(errors)
    return uc.ListRecords(patient_id, lang, category, cursor, size)


def records_page(records, query: uc.ListRecords, if_none_match: str | None,
                 dumps: Callable[[dict], str]) -> tuple[str, bytes | None]:
    """Return (ETag, the page's JSON bytes by DUMPS, the app's encoder), the bytes None when
    IF_NONE_MATCH already names the page."""
    etag, body = uc.list_records(records.uow(write=False), query, vocabulary(), records.directory,
                                 if_none_match)
    if body is None:
        return etag, None
    # The ETag names the page's whole state (compartment, directory, language, query): the same
    # ETag is the same bytes, so a page served again is not encoded again (nor, being the same
    # bytes, checked again: services/common/contract_checks.py).
    # Keyed by the patient too, so that no two patients could ever share an entry.
    key = (query.patient_id, etag)
    return etag, _pages.get(key) or _pages.put(key, dumps(body).encode())


@blp.get("/records/<path:record_id>")
def record(record_id: str):
    """Return one of my records in plain words."""
    patient_id = _patient("*", "r")
    lang = _language(patient_id)
    try:
        etag, body = uc.read_record(_records().uow(write=False), patient_id, record_id, lang, vocabulary(),
                                    _records().directory)
    except uc.NotFound:
        raise Problem(404, N_("Not Found"), NO_RECORD, next_step=NO_RECORD_NEXT) from None
    if _matches(etag):
        return _not_modified(etag, lang)
    return _json(body, lang, etag=etag)


@blp.post("/entries")
def entries():
    """Store a home reading or a symptom note in my record (a patient-reported Observation)."""
    patient_id = _patient("Observation", "c")
    lang = _language(patient_id)
    data = _body(EntryRequestSchema())
    try:
        item = uc.add_entry(uc.AddEntry(patient_id, data), _records().uow(), vocabulary(),
                            _records().directory, lang)
    except uc.NotFound:
        raise Problem(404, N_("Not Found"), NO_FILE, next_step=NO_FILE_NEXT) from None
    resp = _json({**item, "language": i18n.language_block(lang)}, lang, status=201)
    resp.headers["Location"] = f"/patient/v1/records/{item['id']}"
    return resp


@blp.post("/amendments")
def request_amendment():
    """Ask the custodian department to correct one of my records (a FHIR Task)."""
    patient_id = _patient("Task", "c")
    lang = _language(patient_id)
    data = _body(AmendmentRequestSchema())
    try:
        # A caregiver's token carries act (RFC 8693): the Task records who really asked.
        proxy = (g.claims.get("act") or {}).get("sub")
        item = uc.request_amendment(uc.RequestAmendment(patient_id, **data, proxy=proxy), _records().uow(),
                                    vocabulary(), _records().directory, lang)
    except uc.NotFound:
        raise Problem(404, N_("Not Found"), NO_RECORD, next_step=NO_RECORD_NEXT) from None
    return _json({**item, "language": i18n.language_block(lang)}, lang, status=201)


@blp.get("/amendments")
def amendments():
    """Return my correction requests and where each one stands, in words."""
    patient_id = _patient("*", "r")
    lang = _language(patient_id)
    body = uc.list_amendments(_records().uow(write=False), patient_id, lang, vocabulary(),
                              _records().directory)
    return _json(body, lang)


@blp.post("/corrections/<task_id>/disagreement")
def disagreement(task_id: str):
    """Disagree with a denied correction request, in my words: kept with the record (one per request)."""
    # Part of asking for a correction (45 CFR 164.526(d)): the same right as filing the
    # request, patient/Task.c, so a caregiver needs the patient's request-corrections right.
    patient_id = _patient("Task", "c")
    lang = _language(patient_id)
    data = _body(DisagreementRequestSchema())
    proxy = (g.claims.get("act") or {}).get("sub")
    cmd = corrections.FileDisagreement(patient_id, task_id, data["statement"], lang.used, proxy)
    try:
        task, doc, record = corrections.file_disagreement(cmd, _records().uow())
    except corrections.NotFound:
        raise Problem(404, N_("Not Found"), NO_RECORD, next_step=NO_RECORD_NEXT) from None
    except corrections.NotDenied:
        raise Problem(409, N_("Conflict"), NOT_DENIED, next_step=NOT_DENIED_NEXT) from None
    except corrections.AlreadyFiled:
        raise Problem(409, N_("Conflict"), ALREADY_SENT, next_step=ALREADY_SENT_NEXT) from None
    item = uc.amendment_item(task, record, lang.used, vocabulary(), _records().directory, statement=doc)
    return _json({**item, "language": i18n.language_block(lang)}, lang, status=201)
