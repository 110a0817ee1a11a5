"""What the consent service's routes share: the service, the JSON body, problems in our words."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from flask import current_app

from services.common import bodies, i18n
from services.common.problem import Problem
from services.consent.bootstrap import ConsentService
from services.consent.domain.model import InvalidConsent
from services.consent.entrypoints import wording


def service() -> ConsentService:
    return current_app.extensions["consent"]


def locale() -> str:
    return i18n.current_language().used


def invalid(field: str, reason: str, value=None, patient: bool = False) -> Problem:
    """A 422 that names FIELD (extension members ``fields`` and, for a bad code, ``value``)."""
    loc = locale()
    detail = wording.t(wording.INVALID, loc, field=field, reason=wording.t(reason, loc))
    extra = {"value": value} if isinstance(value, str) else {}
    next_step = wording.t(wording.INVALID_NEXT, loc) if patient else None
    return Problem(422, "Unprocessable Content", detail, slug="invalid-input",
                   next_step=next_step, fields=[field], **extra)


def from_domain(exc: InvalidConsent, patient: bool = False) -> Problem:
    return invalid(exc.field, str(exc), exc.value, patient)


def json_body(patient: bool = False) -> dict:
    """Return the request's JSON object (services.common.bodies); any other body is a 422."""
    return bodies.json_object(bodies.SMALL,
                              lambda _messages: invalid("body", "the body is not a JSON object", patient=patient))


def parse_instant(value, field: str, end: bool = False, patient: bool = False) -> datetime | None:
    """Read an ISO 8601 date or date-time; a bare end date counts to the end of that day (UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a date", patient=patient)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
            return moment.replace(hour=23, minute=59, second=59) if end else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, "must be a date", patient=patient) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
