"""Configuration read once from the environment; no secret has a default."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

SERVICES = ("gateway", "consent", "records", "exchange")
DEFAULT_PORTS = {"gateway": 8080, "consent": 8081, "records": 8082, "exchange": 8083}
DEFAULT_BROKER = "127.0.0.1:9092"


def _port(env: Mapping[str, str], service: str) -> int:
    return int(env.get(f"{service.upper()}_PORT", DEFAULT_PORTS[service]))


def service_url(env: Mapping[str, str], service: str) -> str:
    """Return the base URL a peer uses to reach SERVICE (``<NAME>_URL`` or localhost)."""
    explicit = env.get(f"{service.upper()}_URL")
    return (explicit or f"http://127.0.0.1:{_port(env, service)}").rstrip("/")


def database_url(env: Mapping[str, str], service: str, var_dir: Path) -> str:
    """Return ``<NAME>_DATABASE_URL``, else ``DATABASE_URL``, else a SQLite file under var/."""
    return (
        env.get(f"{service.upper()}_DATABASE_URL")
        or env.get("DATABASE_URL")
        or f"sqlite:///{(var_dir / f'{service}.db').resolve()}"
    )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if env.get(name) else None


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def client_secret(env: Mapping[str, str], service: str) -> str | None:
    """SERVICE's own client secret: ``<SERVICE>_CLIENT_SECRET``, else the first line of the file
    ``<SERVICE>_CLIENT_SECRET_FILE`` names; None when neither is set or the file is not there
    (yet: under compose the migrate step makes it before the workers start)."""
    return secret(env, f"{service.upper()}_CLIENT_SECRET")


def secret(env: Mapping[str, str], name: str) -> str | None:
    """The secret NAME, or the first line of the file ``NAME_FILE`` names; None without either."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        lines = Path(path).read_text().strip().splitlines()
    except FileNotFoundError:
        return None
    return (lines[0].strip() or None) if lines else None


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """METRICS_TOKEN (or its file's first line), stripped. A file named but missing or empty stops
    the process: /metrics would otherwise be open while the operator thinks it closed."""
    if env.get("METRICS_TOKEN", "").strip():
        return env["METRICS_TOKEN"].strip()
    if not env.get("METRICS_TOKEN_FILE"):
        return None
    token = secret({"METRICS_TOKEN_FILE": env["METRICS_TOKEN_FILE"]}, "METRICS_TOKEN")
    if not token:
        raise ValueError(f"METRICS_TOKEN_FILE names {env['METRICS_TOKEN_FILE']!r}, which is missing or empty")
    return token


@dataclass(frozen=True)
class Settings:
    """Everything one process needs to know about its surroundings."""

    service: str
    var_dir: Path
    port: int
    database_url: str
    kafka_bootstrap: str
    kafka_embedded: bool
    issuer: str
    audience: str
    jwks_url: str
    revocations_url: str = ""  # the gateway's list of revoked access tokens (services.common.auth)
    peers: dict[str, str] = field(default_factory=dict)
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    # Where the gateway counts its rate limits (gateway/proxy/ratelimit.py): Redis at REDIS_URL,
    # shared by every gateway process, under keys that start with REDIS_KEY_PREFIX; unset: each
    # process counts in its own memory.
    redis_url: str | None = None
    redis_key_prefix: str = "phr"
    # The gateway's keys given by the operator (gateway/authz/keys.py, gateway/portal/secret.py):
    # GATEWAY_SIGNING_KEY_FILE, a JWK or JWK Set (the first key signs, all are published and
    # trusted); GATEWAY_SESSION_KEY_FILE, hex lines (the first signs, the others still verify).
    # Unset: keys made at first start in var/.
    signing_key_file: Path | None = None
    session_key_file: Path | None = None
    access_token_minutes: int = 5
    outbox_poll_seconds: float = 0.05
    outbox_retention_days: float = 7.0  # 0: keep sent outbox rows for ever
    # PostgreSQL: a relay wakes on the NOTIFY of a commit that enqueued, and reads the outbox
    # anyway this often (OUTBOX_WAKE_SECONDS); OUTBOX_POLL_SECONDS is SQLite's polling.
    outbox_wake_seconds: float = 1.0
    # How long a consumer remembers an event it applied (PROCESSED_EVENTS_RETENTION_DAYS), so
    # that the same event published again is dropped; longer than OUTBOX_RETENTION_DAYS, the
    # time a sent row may be published again (services/common/worker.py, processed_retention).
    processed_events_retention_days: float = 14.0  # 0: remember for ever
    claim_check_ttl_hours: float = 24.0  # records: a prepared Bundle expires this long after it is made
    claim_check_grace_minutes: float = 10.0  # ... and this long after its first download
    log_level: str = "INFO"
    contract_checks: str = "report"
    testing: bool = False
    client_id: str | None = None  # the service's own OAuth client (<SERVICE>_CLIENT_ID)
    # Its secret: <SERVICE>_CLIENT_SECRET, or the file <SERVICE>_CLIENT_SECRET_FILE names (how
    # docker-compose.yml hands over the one its migrate step made: launcher/service_clients.py);
    # no default.
    client_secret: str | None = None
    # What a scraper must send to read /metrics, as "Authorization: Bearer <token>" (METRICS_TOKEN,
    # or the file METRICS_TOKEN_FILE names); unset: /metrics is open, for a private network only.
    metrics_token: str | None = None
    # Proxies in front that set X-Forwarded-For (PHR_TRUSTED_PROXIES); 0: the header is ignored,
    # since any client can send it.
    trusted_proxies: int = 0
    # Password checks at sign-in per client address and minute (SIGNIN_CHECKS_PER_MINUTE).
    signin_checks_per_minute: float = 30.0
    # Account activation tries per client address and minute, and per code (ACTIVATION_ATTEMPTS_PER_MINUTE).
    activation_attempts_per_minute: float = 10.0
    # The OAuth clients consent lets ask decisions about any department: the exchange service's
    # (CONSENT_DECISION_CLIENTS, comma-separated; default EXCHANGE_CLIENT_ID). Departments ask
    # only about themselves.
    decision_clients: tuple[str, ...] = ()
    # The exchange's webhook signing key (PHR_WEBHOOK_KEY_FILE, a JWK; default
    # var/exchange-webhook-key.json). The exchange creates it at first start and signs the
    # revocation notices it POSTs to departments with it; the gateway publishes its public part
    # in its JWK Set (/oauth/jwks) beside the token key, so a department verifies a notice with
    # the keys it already trusts. Services never import each other, so a file is how the key
    # reaches the gateway: the public one below, never this one (on hosts apart, the operator
    # gives the gateway a copy of the public file).
    webhook_key_file: Path | None = None
    # Its public part alone (PHR_WEBHOOK_PUBLIC_KEY_FILE, a JWK; default
    # exchange-webhook-key.pub.json beside the private one): the exchange writes it beside the
    # key, and it is the only one the gateway reads, so a gateway broken into cannot sign notices.
    webhook_public_key_file: Path | None = None
    # Consent: how long a revoke of a department's consent waits after its commit before it
    # answers (CONSENT_REVOKE_SETTLE_MS); permits may be acted on for half of it
    # (services/consent/service_layer/handlers.py, settle_revocation).
    revoke_settle_ms: int = 300
    # Exchange: addresses or networks (comma-separated) a subscription's rest-hook may reach
    # besides public ones (SUBSCRIPTION_ENDPOINT_ALLOW, e.g. 10.1.2.0/24 or 127.0.0.1).
    subscription_endpoint_allow: tuple[str, ...] = ()
    # Notices outside the app (exchange; README, "Notices by email and text message"): the SMTP
    # server (SMTP_URL, smtp:// or smtps://; unset: emails wait for one), the From address
    # (NOTIFY_FROM), the text message webhook (SMS_WEBHOOK_URL, SMS_WEBHOOK_TOKEN), the portal's
    # address the messages point to (PORTAL_URL, default the gateway's), and the retries: the
    # first after NOTIFY_RETRY_FIRST_SECONDS, doubling up to NOTIFY_RETRY_LONGEST_SECONDS, dead
    # after NOTIFY_MAX_ATTEMPTS tries (the defaults keep trying for about a day).
    smtp_url: str | None = None
    notify_from: str = "no-reply@localhost"
    sms_webhook_url: str | None = None
    sms_webhook_token: str | None = None
    portal_url: str = ""
    notify_retry_first_seconds: float = 5.0
    notify_retry_longest_seconds: float = 1800.0
    notify_max_attempts: int = 60


def load_settings(service: str, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build Settings for SERVICE: defaults, then the environment, then OVERRIDES."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("PHR_VAR_DIR", "var"))
    issuer = (env.get("PHR_ISSUER") or service_url(env, "gateway")).rstrip("/")
    values = dict(
        service=service,
        var_dir=var_dir,
        port=_port(env, service),
        database_url=database_url(env, service, var_dir),
        kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BROKER,
        kafka_embedded=not env.get("KAFKA_BOOTSTRAP_SERVERS"),
        issuer=issuer,
        audience=env.get("PHR_AUDIENCE") or issuer,
        jwks_url=env.get("PHR_JWKS_URL") or f"{service_url(env, 'gateway')}/oauth/jwks",
        revocations_url=(env.get("PHR_REVOCATIONS_URL")
                         or f"{service_url(env, 'gateway')}/oauth/revoked"),
        peers={name: service_url(env, name) for name in SERVICES},
        rate_limit_per_second=float(env.get("RATE_LIMIT_PER_SECOND", 50)),
        rate_limit_burst=int(env.get("RATE_LIMIT_BURST", 200)),
        redis_url=env.get("REDIS_URL") or None,
        redis_key_prefix=env.get("REDIS_KEY_PREFIX") or "phr",
        signing_key_file=_path(env, "GATEWAY_SIGNING_KEY_FILE"),
        session_key_file=_path(env, "GATEWAY_SESSION_KEY_FILE"),
        access_token_minutes=int(env.get("ACCESS_TOKEN_MINUTES", 5)),
        outbox_poll_seconds=float(env.get("OUTBOX_POLL_SECONDS", 0.05)),
        outbox_retention_days=float(env.get("OUTBOX_RETENTION_DAYS", 7)),
        outbox_wake_seconds=float(env.get("OUTBOX_WAKE_SECONDS", 1)),
        processed_events_retention_days=float(env.get("PROCESSED_EVENTS_RETENTION_DAYS", 14)),
        claim_check_ttl_hours=float(env.get("CLAIM_CHECK_TTL_HOURS", 24)),
        claim_check_grace_minutes=float(env.get("CLAIM_CHECK_GRACE_MINUTES", 10)),
        log_level=env.get("LOG_LEVEL", "INFO"),
        contract_checks=env.get("CONTRACT_CHECKS", "report"),
        client_id=env.get(f"{service.upper()}_CLIENT_ID") or None,
        client_secret=client_secret(env, service),
        metrics_token=_metrics_token(env),
        trusted_proxies=int(env.get("PHR_TRUSTED_PROXIES", 0)),
        signin_checks_per_minute=float(env.get("SIGNIN_CHECKS_PER_MINUTE", 30)),
        activation_attempts_per_minute=float(env.get("ACTIVATION_ATTEMPTS_PER_MINUTE", 10)),
        decision_clients=_names(env.get("CONSENT_DECISION_CLIENTS") or env.get("EXCHANGE_CLIENT_ID") or ""),
        webhook_key_file=Path(env["PHR_WEBHOOK_KEY_FILE"]) if env.get("PHR_WEBHOOK_KEY_FILE") else None,
        webhook_public_key_file=(Path(env["PHR_WEBHOOK_PUBLIC_KEY_FILE"]) if env.get("PHR_WEBHOOK_PUBLIC_KEY_FILE")
                                 else None),
        revoke_settle_ms=int(env.get("CONSENT_REVOKE_SETTLE_MS", 300)),
        subscription_endpoint_allow=_names(env.get("SUBSCRIPTION_ENDPOINT_ALLOW") or ""),
        smtp_url=env.get("SMTP_URL") or None,
        notify_from=env.get("NOTIFY_FROM") or "no-reply@localhost",
        sms_webhook_url=env.get("SMS_WEBHOOK_URL") or None,
        sms_webhook_token=env.get("SMS_WEBHOOK_TOKEN") or None,
        portal_url=(env.get("PORTAL_URL") or issuer).rstrip("/"),
        notify_retry_first_seconds=float(env.get("NOTIFY_RETRY_FIRST_SECONDS", 5)),
        notify_retry_longest_seconds=float(env.get("NOTIFY_RETRY_LONGEST_SECONDS", 1800)),
        notify_max_attempts=int(env.get("NOTIFY_MAX_ATTEMPTS", 60)),
    )
    values.update(overrides)
    if values["webhook_key_file"] is None:  # beside the other keys, in the var/ of the overrides too
        values["webhook_key_file"] = Path(values["var_dir"]) / "exchange-webhook-key.json"
    if values["webhook_public_key_file"] is None:
        values["webhook_public_key_file"] = Path(values["webhook_key_file"]).with_name("exchange-webhook-key.pub.json")
    return Settings(**values)
