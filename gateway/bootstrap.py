"""The one wiring point of the gateway process: engine, stores, keys, rate limits, authorization server, proxy."""
from __future__ import annotations

import math
from dataclasses import dataclass

from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy.engine import Engine

from contracts.events import EventChecker
from gateway import MIGRATIONS_DIR
from gateway.accounts import activation, caregivers
from gateway.accounts.devices import DeviceCookies
from gateway.accounts.forwarded import AddressVoucher
from gateway.accounts.signin import PasswordGate, password_hasher
from gateway.accounts.staff_store import StaffStore
from gateway.accounts.stores import AccountStore, GrantStore, SignInStore
from gateway.accounts.throttle import SignInPolicy
from gateway.admin import api as admin_api
from gateway.admin import measures_api, staff_api
from gateway.authz import apps as app_routes, authorize, registration, revocation
from gateway.authz.app_store import AppStore
from gateway.authz.keys import SigningKeys, public_jwks, signing_keys
from gateway.authz.oauth import GatewayAuthorizationServer, create_authorization_server
from gateway.authz.revocation import RevocationList
from gateway.authz.staff_login import StaffLogin
from gateway.authz.stores import ClientStore, CodeStore, TicketStore, TokenStore
from gateway.directory.store import DirectoryStore
from gateway.portal.once import FormSends
from gateway.portal.page_answers import PageAnswers
from gateway.portal.pulse import StaffPulse
from gateway.portal.secret import session_keys
from gateway.proxy import forward
from gateway.proxy.guard import Guard
from gateway.proxy.ratelimit import Limits, open_limits
from gateway.proxy.upstreams import Upstreams
from services.common import bodies, measures
from services.common.auth import JwksCache, TokenValidator
from services.common.config import Settings
from services.common.db import make_engine, migrate, ping
from services.common.outbound import HostPolicy

DEFAULTS = {
    "MIGRATE_ON_START": True,
    "REVOCATION_REFRESH_SECONDS": 1.0,
    "UPSTREAM_CONNECT_TIMEOUT": 2.0,
    "UPSTREAM_READ_TIMEOUT": 30.0,
    "UPSTREAM_POOL_SIZE": 32,
    "ACTIVATION_CODE_DAYS": 14,
    "ACTIVATION_ATTEMPTS_PER_MINUTE": None,  # a test's own; else the setting of that name
    # Sign-in (gateway/accounts/throttle.py): after 5 wrong tries for a username, wait 1, 2, 4 ... s
    # (at most 5 minutes) between tries; counts forgotten after a day without a wrong try.
    "SIGNIN_FREE_FAILURES": 5,
    "SIGNIN_DELAY_BASE_SECONDS": 1.0,
    "SIGNIN_DELAY_CAP_SECONDS": 300.0,
    "SIGNIN_FORGET_SECONDS": 24 * 3600.0,
    # The gateway's own forms and bodies; a proxied route takes its own size
    # (gateway/proxy/routes.py BODY_LIMITS).
    "MAX_CONTENT_LENGTH": bodies.SMALL,
    # argon2.Parameters of every password hash; None: argon2-cffi's defaults. Only a test suite
    # sets cheaper ones (tests/support/gateway.py), for the hundreds of passwords it hashes.
    "PASSWORD_HASH_PARAMETERS": None,
    # Patients' apps registered from one address an hour (gateway/authz/registration.py).
    "APP_REGISTRATIONS_PER_HOUR": 20,
}


@dataclass
class Stores:
    """One store per aggregate, all over the gateway's one engine."""

    clients: ClientStore
    codes: CodeStore
    tickets: TicketStore
    tokens: TokenStore
    accounts: AccountStore
    grants: GrantStore
    signin: SignInStore
    directory: DirectoryStore
    staff: StaffStore
    form_sends: FormSends
    page_answers: PageAnswers
    pulse: StaffPulse
    apps: AppStore


def make_stores(engine: Engine, checker: EventChecker | None = None,
                hasher: PasswordHasher | None = None) -> Stores:
    """Build the stores; stopping a caregiver's grant, or disabling a member of staff or changing
    their roles, revokes their tokens in the same transaction."""
    tokens = TokenStore(engine)
    return Stores(clients=ClientStore(engine), codes=CodeStore(engine), tickets=TicketStore(engine),
                  tokens=tokens, accounts=AccountStore(engine, checker),
                  grants=GrantStore(engine, tokens.revoke_grant_tokens, checker),
                  signin=SignInStore(engine), directory=DirectoryStore(engine, checker),
                  staff=StaffStore(engine, tokens.revoke_staff_tokens, checker, hasher),
                  form_sends=FormSends(engine), page_answers=PageAnswers(engine),
                  pulse=StaffPulse(engine), apps=AppStore(engine))


@dataclass
class Gateway:
    """What one gateway process holds for its lifetime."""

    settings: Settings
    engine: Engine
    stores: Stores
    keys: SigningKeys  # the token signing keys: the first signs, all are published and trusted
    session_keys: tuple[bytes, ...]  # the portal's: the first signs, the others still verify
    server: GatewayAuthorizationServer
    guard: Guard
    upstreams: Upstreams
    limits: Limits  # where every rate limit of this process counts (memory, or shared Redis)


def bootstrap(app: Flask, settings: Settings) -> Gateway:
    """Build the gateway's parts from SETTINGS and register its blueprints on APP."""
    config = app.config
    # first, so that a key file that cannot be used stops the start before anything else (KeyFileError)
    keys = signing_keys(settings.var_dir, settings.signing_key_file)
    sessions = session_keys(settings.var_dir, settings.session_key_file)
    if config["MIGRATE_ON_START"]:  # workers started together take turns (services/common/db.py)
        migrate(settings.database_url, MIGRATIONS_DIR)
    engine = make_engine(settings.database_url)
    hasher = password_hasher(config["PASSWORD_HASH_PARAMETERS"])
    stores = make_stores(engine, EventChecker(settings.contract_checks), hasher)
    revocations = RevocationList(stores.tokens, config["REVOCATION_REFRESH_SECONDS"])
    server = create_authorization_server(
        app, keys, settings, revocations.refresh, clients=stores.clients, codes=stores.codes,
        tokens=stores.tokens, accounts=stores.accounts, grants=stores.grants, staff=stores.staff,
        department=stores.directory.entry, apps=stores.apps)

    limits = open_limits(settings.redis_url, settings.redis_key_prefix)
    jwks = public_jwks(keys)
    validator = TokenValidator(settings.issuer, settings.audience,
                               JwksCache(settings.jwks_url, ttl=math.inf, fetch=lambda _url: jwks))
    guard = Guard(validator, revocations,
                  limits.rate("proxy", settings.rate_limit_per_second, settings.rate_limit_burst,
                              fail_open=True))
    upstreams = Upstreams(settings.peers, config["UPSTREAM_CONNECT_TIMEOUT"],
                          config["UPSTREAM_READ_TIMEOUT"], config["UPSTREAM_POOL_SIZE"])
    per_minute = config.get("ACTIVATION_ATTEMPTS_PER_MINUTE") or settings.activation_attempts_per_minute
    gate = PasswordGate(stores.signin, stores.accounts, signin_policy(config, settings), hasher)

    devices = DeviceCookies(*sessions)
    staff_login = StaffLogin(server, stores.tickets, stores.staff, gate, devices,
                             stores.directory.active)
    app.register_blueprint(authorize.create_blueprint(
        server, stores.tickets, stores.accounts, stores.grants, gate, devices, staff_login))
    app.register_blueprint(activation.create_blueprint(
        stores.accounts, stores.grants, guard, upstreams, config["ACTIVATION_CODE_DAYS"],
        limits.limiter("activation", per_minute, 60), AddressVoucher(*sessions), gate))
    app.register_blueprint(caregivers.create_blueprint(stores.accounts, stores.grants, guard,
                                                       config["ACTIVATION_CODE_DAYS"]))
    app.register_blueprint(forward.create_blueprint(guard, upstreams, settings.issuer))
    app.register_blueprint(revocation.create_blueprint(revocations))
    app.register_blueprint(registration.create_blueprint(
        server, stores.apps, limits.limiter("registration", config["APP_REGISTRATIONS_PER_HOUR"], 3600)))
    app.register_blueprint(app_routes.create_blueprint(stores.apps, stores.accounts, guard))
    # webhook URLs obey the exchange's rule for every callback a department names
    callbacks = HostPolicy.from_settings(settings.subscription_endpoint_allow, settings.peers)
    app.register_blueprint(admin_api.create_blueprint(stores.directory, guard, revocations, callbacks))
    app.register_blueprint(staff_api.create_blueprint(stores.staff, stores.directory, guard, revocations,
                                                      callbacks))
    app.register_blueprint(measures_api.create_blueprint(guard, measures.providers(app)))
    return Gateway(settings, engine, stores, keys, sessions, server, guard, upstreams, limits)


def signin_policy(config, settings: Settings) -> SignInPolicy:
    """The sign-in throttle's numbers: delays from the app config, the per-address budget of
    password checks from SIGNIN_CHECKS_PER_MINUTE (its burst is one minute's worth)."""
    per_minute = settings.signin_checks_per_minute
    return SignInPolicy(free_failures=config["SIGNIN_FREE_FAILURES"],
                        base_seconds=config["SIGNIN_DELAY_BASE_SECONDS"],
                        cap_seconds=config["SIGNIN_DELAY_CAP_SECONDS"],
                        forget_seconds=config["SIGNIN_FORGET_SECONDS"],
                        checks_per_minute=per_minute, check_burst=max(1, int(per_minute)))


def readiness_checks(gateway: Gateway) -> dict:
    return {"database": lambda: ping(gateway.engine)}
