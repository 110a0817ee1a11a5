"""``POST /consent/v1/decisions`` answered without Flask (services.common.fastpath): the
question every exchange asks, and the consent service's most frequent route.

The handler does what the view (entrypoints.departments.decide) does, with the same objects:
the token validator (which refuses a department the directory does not hold as active), the
scope grammar, the service's decide (handlers.decide on the prepared reads, timed) with the same directory. It answers
only a well-formed question with a valid token and the scope; anything else (no or bad
token, no scope, a body that is not a JSON object, a question about another department, an
unknown purpose or label) goes to the view, which refuses and explains.
"""
from __future__ import annotations

import json
import re

from services.common import bodies
from services.common.auth import TokenValidator
from services.common.fastpath import Answer, FastRoute, authorized, language_headers, read_body
from services.common.problem import Problem
from services.consent.domain.model import InvalidConsent
from services.consent.service_layer import handlers

# As Flask's jsonify with this service's settings (compact, keys in order, ASCII, a newline).
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def fast_decide(service, validator: TokenValidator) -> FastRoute:
    """The fast route of a department's decision."""

    def decide(environ: dict, _found: re.Match) -> Answer | None:
        content_type = environ.get("CONTENT_TYPE")
        if not bodies.is_json(content_type):
            return None
        claims = authorized(environ, validator, "system", "Consent", "r")
        if claims is None:
            return None
        raw = read_body(environ, bodies.SMALL)  # a larger one is the view's to refuse
        if not raw:
            return None
        try:  # the view's parse (services.common.bodies): NaN, depth and size alike
            body = bodies.parse_json(raw, content_type)
        except Problem:
            return None
        if not isinstance(body, dict):
            return None
        try:  # the view's rule, the same function: a question about another department is its refusal
            actor = handlers.actor_for(claims, body.get("actor"), service.settings.decision_clients)
        except handlers.NotYours:
            return None
        q = handlers.AskDecision(body.get("patient"), actor, body.get("purpose"), body.get("classes"))
        try:
            decision = service.decide(q)
        except InvalidConsent:
            return None
        headers = [("Content-Type", "application/json"), *language_headers(environ)]
        return 200, headers, (_DUMPS(decision.as_dict()) + "\n").encode()

    return FastRoute("POST", re.compile(r"^/consent/v1/decisions$"), "/consent/v1/decisions", decide)
