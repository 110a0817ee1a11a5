"""Wire the exchange service's dependencies once per process."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from contracts.events import EventChecker
from services.common.config import Settings
from services.common.db import make_engine
from services.common.directory import Directory, sql_loader
from services.exchange.adapters.hooks import RestHook
from services.exchange.adapters.peers import ConsentClient, PeerRefused, RecordsClient, ServiceToken
from services.exchange.adapters.senders import NotConfigured, SmtpSender, WebhookSmsSender
from services.exchange.adapters.tables import departments
from services.exchange.adapters.webhooks import Signer
from services.exchange.domain.notices import EMAIL, SMS, Backoff
from services.exchange.domain.subscriptions import HostPolicy
from services.exchange.service_layer.delivery import Deliverer
from services.exchange.service_layer.flow import Flow
from services.exchange.service_layer.receipts import Receipts
from services.exchange.service_layer.subscriptions import Subscriptions
from services.exchange.service_layer.unit_of_work import SqlUnitOfWork


@dataclass
class Exchange:
    """The exchange service's dependencies."""

    settings: Settings
    engine: Engine
    flow: Flow
    consent: object  # ConsentClient: decisions for the worker (service token) and for downloads
    records: object  # RecordsClient: claim-check Bundles, fetched with the caller's token
    directory: Directory  # the departments: who may call, and their names in each language
    notice_senders: dict  # channel -> sender (adapters/senders.py): notices and address codes
    deliverer: Deliverer  # sends due notice deliveries (the worker's delivery thread)
    receipts: Receipts | None = None  # departments told when a consent ends, and the patient's receipt
    subscriptions: Subscriptions | None = None  # departments' FHIR Subscriptions and their deliveries

    def uow(self, write: bool = True) -> SqlUnitOfWork:
        """Start a unit of work."""
        return SqlUnitOfWork(self.engine, write=write, checker=self.flow.checker)


def _no_service_token() -> str:
    raise PeerRefused(401, "EXCHANGE_CLIENT_ID and EXCHANGE_CLIENT_SECRET (or EXCHANGE_CLIENT_SECRET_FILE) are not set")


def service_token(settings: Settings):
    """The worker's own token source (client credentials at the gateway), or one that refuses."""
    if not (settings.client_id and settings.client_secret):
        return _no_service_token
    return ServiceToken(f"{settings.peers['gateway']}/oauth/token", settings.client_id, settings.client_secret)


def notice_senders(settings: Settings) -> dict:
    """The email and text message senders the settings name (one that is not set makes every
    delivery by it wait until it is)."""
    email = SmtpSender(settings.smtp_url, settings.notify_from) if settings.smtp_url else NotConfigured("SMTP_URL")
    sms = (WebhookSmsSender(settings.sms_webhook_url, settings.sms_webhook_token) if settings.sms_webhook_url
           else NotConfigured("SMS_WEBHOOK_URL"))
    return {EMAIL: email, SMS: sms}


def bootstrap(settings: Settings, engine: Engine | None = None, consent=None, records=None,
              deadline: float = 120.0, fetch_wait: float = 5.0, hook=None,
              senders: dict | None = None) -> Exchange:
    """Build the dependencies from SETTINGS; a test may pass the ENGINE, CONSENT and RECORDS to use.

    The process's one Directory reads the service's copy of the departments (kept by the
    worker from phr.directory.v1) when it is first asked, not here.
    """
    engine = engine or make_engine(settings.database_url)
    consent = consent or ConsentClient(settings.peers["consent"], service_token(settings))
    records = records or RecordsClient(settings.peers["records"])
    flow = Flow(consent, EventChecker(settings.contract_checks), deadline=deadline, fetch_wait=fetch_wait)
    receipts = Receipts(Signer(settings.webhook_key_file, settings.webhook_public_key_file),
                        settings.issuer, clock=flow.clock)
    policy = HostPolicy.from_settings(settings.subscription_endpoint_allow, settings.peers)
    subscriptions = Subscriptions(consent, hook or RestHook(policy), policy, f"{settings.issuer}/fhir",
                                  flow.checker)
    senders = senders or notice_senders(settings)
    deliverer = Deliverer(senders, Backoff(settings.notify_retry_first_seconds, settings.notify_retry_longest_seconds,
                                           settings.notify_max_attempts), settings.portal_url)
    return Exchange(settings, engine, flow, consent, records, Directory(sql_loader(engine, departments)),
                    senders, deliverer, receipts, subscriptions)
