"""The coarse checks in front of every service: a valid, unrevoked token, the route's scope,
the client's rate (docs/architecture.md, "Security model"). Each service checks the token again.

Per request: one cached token check (the signature is verified once per token), one dict
lookup for revocation, one rate-limit count (in memory, or one call to Redis when shared). No key loading, no database query.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from gateway.proxy.ratelimit import Limiter
from services.common import smart
from services.common.auth import TokenValidator, bearer_token, parse_bearer
from services.common.i18n import N_
from services.common.problem import Problem

CAREGIVER_MAY_NOT = N_("The patient has not given you the right to do this.")
CAREGIVER_ASK = N_("Ask the patient to give you this right, or to do it themselves.")


class Revocations(Protocol):
    """The revoked-token list the Guard reads: gateway.authz.revocation.RevocationList, named
    here by what it does so that the proxy imports nothing above it."""

    def is_revoked(self, jti: str) -> bool: ...

    def refresh(self) -> None: ...


def _challenge(error: str, scope: str | None = None) -> dict:
    value = f'Bearer realm="phr", error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


@dataclass
class Guard:
    """The coarse checks: a valid, unrevoked token, the route's scope, the client's rate."""

    validator: TokenValidator
    revocations: Revocations
    limiter: Limiter  # fails open: with the shared store away, requests pass

    def claims(self, authorization: str | None = None) -> dict:
        """Return the claims of the bearer token in AUTHORIZATION (default: the Flask
        request's header), or raise 401."""
        # TokenValidator keeps verified tokens until they expire, so a signature is checked once.
        raw = bearer_token() if authorization is None else parse_bearer(authorization)
        claims = self.validator.validate(raw)
        if self.revocations.is_revoked(claims["jti"]):
            raise Problem(401, N_("Unauthorized"), N_("The access token was revoked."),
                          next_step=N_("Sign in again."),
                          headers=_challenge("invalid_token"))
        if claims.get("act") and claims["exp"] <= time.time():
            # A caregiver's token expires with the grant (gateway/accounts/caregivers.py). We issued it on
            # this clock, so the validator's leeway for clock skew does not apply.
            raise Problem(401, N_("Unauthorized"), N_("The caregiver's access has ended."),
                          next_step=N_("Ask the patient to invite you again."),
                          headers=_challenge("invalid_token"))
        return claims

    def check(self, rule, authorization: str | None = None) -> dict:
        """Return the claims if the token passes RULE (or one of a tuple of rules, routes.Rule)
        and the rate limit, else raise 401/403/429."""
        claims = self.claims(authorization)
        if isinstance(rule[0], tuple):  # the first the token's scopes allow, else the token's kind's
            scope = claims.get("scope", "")
            kind = "patient" if claims.get("patient") else "system"
            rule = next((r for r in rule if smart.allows(scope, *r)),
                        next((r for r in rule if r[0] == kind), rule[0]))
        context, resource, interactions = rule
        if not smart.allows(claims.get("scope", ""), context, resource, interactions):
            needed = f"{context}/{resource}.{interactions}"
            if claims.get("act"):  # a caregiver holds only the rights the patient gave
                raise Problem(403, N_("Forbidden"), CAREGIVER_MAY_NOT, next_step=CAREGIVER_ASK,
                              headers=_challenge("insufficient_scope", needed))
            raise Problem(403, N_("Forbidden"),
                          N_("Your token may not do this. It needs the scope {scope}."),
                          headers=_challenge("insufficient_scope", needed), params={"scope": needed})
        if context == "patient" and not claims.get("patient"):
            raise Problem(403, N_("Forbidden"), N_("This request needs a patient's access token."),
                          headers=_challenge("insufficient_scope"))
        self.limit(claims)
        return claims

    def limit(self, claims: dict) -> None:
        """Spend one request of the caller's budget or raise 429."""
        # Department clients share one budget; every patient of the public portal has their own.
        # A caregiver (act) has a budget of their own, apart from the patient's, and so has each
        # member of staff (a token with roles) of the console.
        actor = claims.get("act") if isinstance(claims.get("act"), dict) else {}
        key = (claims["client_id"] if not claims.get("patient") and "role" not in claims
               else f"{claims['client_id']} {actor.get('sub') or claims['sub']}")
        wait = self.limiter.take(key)
        if wait:
            raise Problem(429, N_("Too Many Requests"),
                          N_("Too many requests from this app. Wait {seconds} seconds, then try again."),
                          headers={"Retry-After": str(wait)}, params={"seconds": wait})
