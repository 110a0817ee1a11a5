"""RFC 9457 problem details: one exception type and the Flask handlers that render it."""
from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_BASE = "https://phr.example.org/problems/"
CONTENT_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error a client can act on, rendered as application/problem+json (RFC 9457 section 3)."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 slug: str | None = None, headers: dict | None = None, **extra):
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or _slug_for(status)
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        """Return the problem document (RFC 9457 section 3.1 members plus extensions)."""
        doc = {"type": PROBLEM_BASE + self.slug, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        doc["instance"] = request.path if request else None
        doc.update(self.extra)
        return doc


_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
          413: "payload-too-large", 415: "unsupported-media-type", 422: "invalid-input",
          429: "too-many-requests", 500: "internal-error", 502: "bad-gateway",
          503: "unavailable", 504: "gateway-timeout"}


def _slug_for(status: int) -> str:
    return _SLUGS.get(status, "error")


def problem_response(problem: Problem) -> Response:
    """Render PROBLEM as a Flask response."""
    resp = Response(json.dumps(problem.body()), status=problem.status, mimetype=CONTENT_TYPE)
    for key, value in problem.headers.items():
        resp.headers[key] = value
    return resp


def install_problem_handlers(app: Flask) -> None:
    """Make every error of APP, expected or not, a problem+json response."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = dict(exc.get_response().headers) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return problem_response(Problem(exc.code or 500, exc.name, exc.description, headers=headers))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(Problem(500, "Internal Server Error",
                                        "The server could not finish this request. Nothing was changed."))
