"""RFC 9457 problem details: one exception type and the Flask handlers that render it.

``title``, ``detail`` and ``next_step`` are written in English and translated when the
response is rendered, into the request's negotiated language (services.common.i18n); ``type``
and ``status`` never change with the language.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from services.common import i18n
from services.common.i18n import N_

PROBLEM_BASE = "https://phr.example.org/problems/"
CONTENT_TYPE = "application/problem+json"
#: Errors on /fhir are OperationOutcomes in FHIR's own media type (R4 3.1.0.1.10), so FHIR
#: clients parse them; the RFC 9457 members stay in the body for problem+json readers.
FHIR_CONTENT_TYPE = "application/fhir+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error a client can act on, rendered as application/problem+json (RFC 9457 section 3).

    TITLE, DETAIL and NEXT_STEP are English message ids: mark literals with ``N_`` so they
    reach the catalog, and they are shown in the negotiated language (text the catalog does
    not know is shown as it is). Put values in ``{name}`` placeholders and pass them in
    PARAMS rather than formatting them in, so the sentence stays translatable::

        Problem(404, N_("Not Found"), N_("There is no {resource} that you may read."),
                params={"resource": "Observation/1"},
                next_step=N_("Go back to your records and pick another one."))

    NEXT_STEP is the plain-words "what to do now" for patients. EXTRA become extension
    members of the body as they are (never translated); ``params``, ``next_step`` and
    ``language`` are therefore reserved names.
    """

    def __init__(self, status: int, title: str, detail: str | None = None,
                 slug: str | None = None, headers: dict | None = None, *,
                 params: dict | None = None, next_step: str | None = None, **extra):
        self.params = dict(params or {})
        super().__init__(i18n.translate(detail or title, i18n.DEFAULT, **self.params))
        self.status = status
        self.title = title
        self.detail = detail
        self.next_step = next_step
        self.slug = slug or _slug_for(status)
        self.headers = headers or {}
        self.extra = extra

    def body(self, locale: str | None = None) -> dict:
        """Return the problem document (RFC 9457 section 3.1 members plus extensions) in LOCALE."""
        locale = locale or i18n.current_language().used
        doc = {"type": PROBLEM_BASE + self.slug,
               "title": i18n.translate(self.title, locale, **self.params),
               "status": self.status}
        if self.detail:
            doc["detail"] = i18n.translate(self.detail, locale, **self.params)
        if self.next_step:
            doc["next_step"] = i18n.translate(self.next_step, locale, **self.params)
        doc["instance"] = request.path if request else None
        doc.update(self.extra)
        return doc


_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
          413: "payload-too-large", 415: "unsupported-media-type", 422: "invalid-input",
          429: "too-many-requests", 500: "internal-error", 502: "bad-gateway",
          503: "unavailable", 504: "gateway-timeout"}

# Generic titles (RFC 9110 section 15 reason phrases), in the catalog like every other title.
TITLES = {400: N_("Bad Request"), 401: N_("Unauthorized"), 403: N_("Forbidden"),
          404: N_("Not Found"), 405: N_("Method Not Allowed"), 406: N_("Not Acceptable"),
          409: N_("Conflict"), 410: N_("Gone"), 412: N_("Precondition Failed"),
          413: N_("Content Too Large"), 415: N_("Unsupported Media Type"),
          422: N_("Unprocessable Content"), 428: N_("Precondition Required"),
          429: N_("Too Many Requests"), 500: N_("Internal Server Error"),
          501: N_("Not Implemented"), 502: N_("Bad Gateway"), 503: N_("Service Unavailable"),
          504: N_("Gateway Timeout")}
GENERIC_TITLE = N_("Error")
# Werkzeug's own English descriptions replaced by plainer, translated ones.
DETAILS = {400: N_("The request could not be understood. Check it and send it again."),
           401: N_("You need to sign in first."),
           403: N_("You may not do this."),
           404: N_("There is nothing at this address."),
           405: N_("This address does not accept the {method} method."),
           406: N_("We cannot answer in any of the formats that were asked for."),
           413: N_("What you sent is too large."),
           415: N_("We cannot read the format that was sent."),
           429: N_("Too many requests. Wait a little, then try again.")}
INTERNAL_DETAIL = N_("The server could not finish this request. Nothing was changed.")


def _slug_for(status: int) -> str:
    return _SLUGS.get(status, "error")


def title_for(status: int) -> str:
    """Return the generic English title of STATUS (a catalog message id)."""
    return TITLES.get(status, GENERIC_TITLE)


#: FHIR R4 IssueType codes for the statuses a problem may carry (others are "processing").
ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 429: "throttled",
               502: "transient", 503: "transient", 504: "timeout"}


def _fhir_members(doc: dict) -> None:
    """Give a problem on a FHIR path the OperationOutcome members FHIR clients read (if it lacks them)."""
    if "resourceType" not in doc:
        doc["resourceType"] = "OperationOutcome"
        doc["issue"] = [{"severity": "error", "code": ISSUE_CODES.get(doc["status"], "processing"),
                         "diagnostics": doc.get("detail") or doc["title"]}]


def problem_response(problem: Problem) -> Response:
    """Render PROBLEM as a Flask response in the request's negotiated language."""
    locale = i18n.current_language().used
    doc = problem.body(locale)
    fhir = bool(request) and (request.path == "/fhir" or request.path.startswith("/fhir/"))
    if fhir:
        _fhir_members(doc)  # every error on a FHIR endpoint, whoever raised it, is an OperationOutcome too
    resp = Response(json.dumps(doc), status=problem.status, mimetype=FHIR_CONTENT_TYPE if fhir else CONTENT_TYPE)
    for key, value in problem.headers.items():
        resp.headers[key] = value
    resp.headers["Content-Language"] = locale
    return resp


def _from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    headers = dict(exc.get_response().headers) if status == 405 else {}
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    # Keep a description someone wrote for this error; replace Werkzeug's stock English.
    stock = exc.description == type(exc).description
    detail = DETAILS.get(status, exc.description) if stock else exc.description
    return Problem(status, TITLES.get(status, exc.name), detail, headers=headers,
                   params={"method": request.method})


def http_problem(exc: HTTPException) -> Response:
    """The problem+json answer to EXC, as install_problem_handlers gives it."""
    return problem_response(_from_http_exception(exc))


def install_problem_handlers(app: Flask) -> None:
    """Make every error of APP, expected or not, a problem+json response."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return http_problem(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The route's rule, not the path: a path may hold a patient id.
        log.exception("unhandled error on %s %s", request.method,
                      request.url_rule.rule if request.url_rule else "unmatched")
        return problem_response(Problem(500, TITLES[500], INTERNAL_DETAIL))
