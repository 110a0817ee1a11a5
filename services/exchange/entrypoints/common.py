"""What the exchange routes share: the service, the department or patient asking, pages."""
from __future__ import annotations

import json

from flask import current_app, g, request
from marshmallow import Schema

from services.common import bodies, i18n, paging
from services.common.i18n import N_
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


def page_args(name: str) -> tuple[int, int]:
    """Return (limit, offset) of list NAME from ?limit= (1 to 100, default 20) and ?cursor= (the
    `next` of the page before: services.common.paging), or raise a 422 naming the field: a limit
    out of range is refused, not bent."""
    size, offset, cursor = paging.page_size(request.args.get("limit")), 0, request.args.get("cursor")
    fields = [] if size is not None else ["limit"]
    if cursor is not None:
        try:
            offset = paging.decode(cursor, name, int)[0]
        except paging.BadCursor:
            fields.append("cursor")
    if fields:
        raise Problem(422, N_("Unprocessable Content"),
                      N_("Use a limit from 1 to {max} and the cursor of the page before, as it is."),
                      slug="invalid-input", params={"max": paging.MAX_PAGE}, fields=fields)
    return size, offset


def next_cursor(name: str, offset: int, items: list, more: bool) -> str | None:
    """Return the cursor of list NAME's page after ITEMS (read from OFFSET), or None at the end."""
    return paging.encode(name, offset + len(items)) if more else None
