"""SMART App Launch 2 scope grammar (section "Scopes for requesting clinical data")."""
from __future__ import annotations

import re
from functools import lru_cache

_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Za-z]+)\.([cruds]+|read|write|\*)(\?.*)?$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}

#: Resources that are oversight, emergency or staff functions, not clinical data: a wildcard
#: scope such as ``system/*.rs`` or ``user/*.cu`` never covers them, so only a client granted
#: them by name gets them (the equity report; breaking the glass; reviewing it; a department's
#: staff accounts; asking a patient to share).
NAMED_ONLY = frozenset({"Equity", "BreakGlass", "BreakGlassReview", "Staff", "SharingRequest"})
#: The same, in one context only: a patient's ``patient/*.rs`` covers reading their own
#: disclosures (``patient/AuditEvent``), but a department's accounting of every patient's
#: (``user/AuditEvent``, a privacy officer's) is given only by name.
NAMED_ONLY_IN = {"user": frozenset({"AuditEvent", "Report", "Measure"})}


def parse(scope: str) -> tuple[str, str, str] | None:
    """Return (context, resource type, interactions) for a clinical scope, else None."""
    m = _SCOPE.match(scope)
    if not m:
        return None
    context, resource, perms = m.group(1), m.group(2), m.group(3)
    return context, resource, _V1.get(perms, perms)


def allows(granted: str | list[str], context: str, resource: str, interactions: str) -> bool:
    """Say whether GRANTED scopes permit every interaction letter on RESOURCE in CONTEXT.

    ``resource="*"`` asks for a wildcard grant (for example a transaction touching any type).
    A resource in NAMED_ONLY needs a scope that names it.
    """
    if isinstance(granted, str):
        return _allows_cached(granted, context, resource, interactions)
    return _allows(granted, context, resource, interactions)


def _allows(scopes, context: str, resource: str, interactions: str) -> bool:
    have: set[str] = set()
    for scope in scopes:
        parsed = parse(scope)
        if not parsed:
            continue
        ctx, res, perms = parsed
        if ctx == context and (res == resource or (res == "*" and resource not in NAMED_ONLY
                                                   and resource not in NAMED_ONLY_IN.get(ctx, ()))):
            have.update(perms)
    return set(interactions) <= have


@lru_cache(maxsize=4096)  # a token's scope string is asked about on every request it makes
def _allows_cached(granted: str, context: str, resource: str, interactions: str) -> bool:
    return _allows(granted.split(), context, resource, interactions)


def within(requested: str | list[str], allowed: str | list[str]) -> list[str]:
    """Keep the requested scopes that ALLOWED covers (a client never gets more than it may)."""
    req = requested.split() if isinstance(requested, str) else requested
    allowed_list = allowed.split() if isinstance(allowed, str) else allowed
    kept = []
    for scope in req:
        parsed = parse(scope)
        if parsed is None:
            if scope in allowed_list:
                kept.append(scope)
        elif allows(allowed_list, *parsed):
            kept.append(scope)
    return kept
