"""Where the tests' notices arrive: a real SMTP server (aiosmtpd) and a real HTTP receiver for the
generic text message webhook (services/exchange/adapters/senders.py)."""
from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.support.broker import free_port
from tests.support.servers import serving_thread


class _Inbox:
    """aiosmtpd's handler: keeps each message it takes; answers 451 to the next REFUSE ones."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refused = 0
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


class MailServer:
    """A real SMTP server on 127.0.0.1:PORT that a test stops and starts again on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.inbox = _Inbox()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "MailServer":
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def refuse_next(self, count: int) -> None:
        """Answer the next COUNT messages with 451 (try again later)."""
        with self.inbox.lock:
            self.inbox.refuse = count

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.inbox.lock:
            return [m for m in self.inbox.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        """The messages to ADDRESS once there are COUNT of them (AssertionError after TIMEOUT)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.to(address))} of {count} messages to {address} after {timeout} s")

    def __enter__(self) -> "MailServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SmsReceiver:
    """The provider's side of the generic text message webhook: keeps each JSON body it is sent."""

    def __init__(self, token: str | None = None):
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if token and self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def to(self, number: str) -> list[dict]:
        return [b for b in self.bodies if b["to"] == number]

    def wait_for(self, number: str, count: int = 1, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.to(number)) >= count:
                return self.to(number)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.to(number))} of {count} text messages to {number} after {timeout} s")

    def __enter__(self) -> "SmsReceiver":
        serving_thread(self.server).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def notice_env(mail: MailServer, sms: SmsReceiver) -> dict[str, str]:
    """A stack's settings that send its notices to MAIL and SMS and try again quickly: the first
    retry after 0.2 s, then every second at most, for up to 600 tries (about ten minutes). With
    the defaults (5 s doubling to 30 min, 60 tries) the same outage would be survived alike, only
    slower to test."""
    return {"SMTP_URL": mail.url, "NOTIFY_FROM": "notices@phr.example.org", "SMS_WEBHOOK_URL": sms.url,
            "NOTIFY_RETRY_FIRST_SECONDS": "0.2", "NOTIFY_RETRY_LONGEST_SECONDS": "1",
            "NOTIFY_MAX_ATTEMPTS": "600"}
