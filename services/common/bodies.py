"""Load a JSON request body with its contract schema: 400 if it is not JSON, 422 naming the fields."""
from __future__ import annotations

from flask import request
from marshmallow import Schema, ValidationError

from services.common.i18n import N_
from services.common.problem import Problem


def load_body(schema: Schema) -> dict:
    """Return the request's JSON object loaded by SCHEMA, or raise a 400/422 Problem."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, N_("Bad Request"), N_("Send a JSON object."))
    try:
        return schema.load(body)
    except ValidationError as exc:
        fields = sorted(str(name) for name in exc.messages) if isinstance(exc.messages, dict) else []
        raise Problem(422, N_("Invalid input"), N_("Check these fields: {fields}."),
                      params={"fields": ", ".join(fields)}, fields=fields,
                      errors=exc.messages) from exc
