"""How a notice leaves the system: email over SMTP (RFC 5321) and text messages through a provider.

Each sender takes a Message and either returns (the server took it) or raises: Retry when trying
again later may work (the server is away, busy, or answered 4xx), Refused when it never will (a
5xx answer, an address the server will not take).

The one text message provider here is a generic webhook (README, "Notices by email and text
message"): it POSTs ``{"id", "to", "text", "language"}`` as JSON to ``SMS_WEBHOOK_URL``, with
``Authorization: Bearer <SMS_WEBHOOK_TOKEN>`` when a token is set and ``Idempotency-Key: <id>``;
any 2xx is taken, 408, 429 and 5xx are tried again, any other answer is refused. A small relay in
front of a real SMS gateway (or the gateway itself, when it accepts such a call) fits behind it.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import requests


@dataclass(frozen=True)
class Message:
    """One message to one address. ID is the delivery's id (the same on every try)."""

    id: str
    to: str
    language: str
    subject: str
    text: str
    html: str | None = None


class Retry(Exception):
    """The message was not taken this time; a later try may work."""


class Refused(Exception):
    """The message will never be taken as it is."""


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


class NotConfigured:
    """A channel the deployment named no server for: every try waits for one."""

    def __init__(self, setting: str):
        self.setting = setting

    def send(self, message: Message) -> None:
        raise Retry(f"{self.setting} is not set")


@dataclass(frozen=True)
class SmtpSender:
    """Email through the SMTP server of URL: ``smtp://[user:password@]host[:port]`` (add
    ``?starttls=1`` to upgrade the connection, RFC 3207) or ``smtps://...`` (TLS from the start)."""

    url: str
    sender: str
    timeout: float = 10.0

    def send(self, message: Message) -> None:
        mail = self._mail(message)
        try:
            with self._connect() as smtp:
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise (Refused if codes and min(codes) >= 500 else Retry)(f"recipient refused: {codes}") from exc
        except smtplib.SMTPResponseException as exc:
            raise (Refused if exc.smtp_code >= 500 else Retry)(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise Retry(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        parts = urlsplit(self.url)
        if parts.scheme not in ("smtp", "smtps"):
            raise Refused(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        host, options = parts.hostname or "127.0.0.1", parse_qs(parts.query)
        if parts.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=self.timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        return smtp

    def _mail(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.to, message.subject
        mail["Date"] = formatdate(localtime=False)
        domain = self.sender.rpartition("@")[2] or "localhost"
        # The same Message-ID on every try of one delivery, so a receiving server can drop a copy.
        mail["Message-ID"] = f"<{message.id}@{domain}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        mail["Content-Language"] = message.language  # RFC 3282; after set_content, which clears Content-*
        return mail


def _text(raw) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


@dataclass(frozen=True)
class WebhookSmsSender:
    """Text messages through the generic webhook provider (module docstring)."""

    url: str
    token: str | None = None
    timeout: float = 10.0

    def send(self, message: Message) -> None:
        headers = {"Idempotency-Key": message.id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"id": message.id, "to": message.to, "text": message.text, "language": message.language}
        try:
            resp = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Retry(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= resp.status_code < 300:
            return
        detail = f"HTTP {resp.status_code}"
        raise (Retry if resp.status_code in (408, 429) or resp.status_code >= 500 else Refused)(detail)
