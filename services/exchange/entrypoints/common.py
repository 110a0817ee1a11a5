"""What the exchange routes share: the service, the department or patient asking, pages."""
from __future__ import annotations

import json

from flask import current_app, g, request
from marshmallow import Schema

from services.common import bodies, i18n
from services.common.i18n import N_
from services.common.params import whole_number
from services.common.problem import Problem
from services.exchange.bootstrap import Exchange


def service() -> Exchange:
    return current_app.extensions["exchange"]


def lang() -> str:
    return i18n.current_language().used


def department() -> str:
    """Return the calling department (the token's dept claim) or raise 403."""
    dept = g.claims.get("dept")
    if not dept:
        raise Problem(403, N_("Forbidden"), N_("Only a department may do this."))
    return str(dept)


def load(schema: Schema) -> dict:
    """Load the JSON body with SCHEMA (services.common.bodies); a broken body is a 422 naming the fields."""
    return bodies.load_body(schema, bodies.SMALL, _invalid)


def _invalid(messages: dict) -> Problem:
    fields = sorted(messages)
    return Problem(bodies.INVALID, N_("Unprocessable Content"), N_("These fields are not valid: {fields}."),
                   slug="invalid-input", params={"fields": ", ".join(fields)}, fields=fields,
                   errors=json.loads(json.dumps(messages, default=str)))


DEFAULT_PAGE, MAX_PAGE = 20, 100


def page_args() -> tuple[int, int]:
    """Return (limit, offset) from ?limit= (1 to 100, default 20) and ?cursor= (an opaque
    offset), or raise a 422 naming the field: a limit out of range is refused, not bent."""
    limit, cursor = request.args.get("limit", str(DEFAULT_PAGE)), request.args.get("cursor", "0")
    size, offset = whole_number(limit), whole_number(cursor)
    fields = [name for name, ok in (("limit", size is not None and 1 <= size <= MAX_PAGE),
                                    ("cursor", offset is not None)) if not ok]
    if fields:
        raise Problem(422, N_("Unprocessable Content"),
                      N_("Use a limit from 1 to {max} and the cursor of the page before, as it is."),
                      slug="invalid-input", params={"max": MAX_PAGE}, fields=fields)
    return size, offset
