"""The rest-hook client of subscriptions and of revocation-receipt webhooks (adapters/webhooks.py):
one POST to a department's endpoint, in two steps.

``open`` resolves the endpoint's host, checks every address it resolves to against the host
policy (services/common/outbound.py HostPolicy: a name that resolved to a public address when the
subscription was made may resolve to an inside one now), and connects to a checked address (TLS
with the host's name). ``Opened.send`` then writes the request at once on that connection. The
delivery asks its last consent decision between the two, so that what separates the decision
from the first byte sent is writing a few hundred bytes, not a DNS look-up or a TLS handshake.
Redirects are not followed; the answer's body is read up to 4 KiB and dropped.

Each step has a DEADLINE as a whole, besides the TIMEOUT of each socket operation: an endpoint
that trickles a byte every few seconds never trips a per-operation timeout, and would hold the
delivery thread (every other department's notifications wait behind it) past the delivery's
claim (service_layer/subscriptions.py, CLAIM_SECONDS), when another worker would send it again.
At the deadline the socket is shut down, which ends the blocked read or write at once.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
from urllib.parse import urlsplit

from services.common.outbound import HostPolicy


class EndpointRefused(Exception):
    """The endpoint points where notifications may not go (the host policy)."""


#: Seconds a step (opening with TLS, or sending and reading the answer) may take in all: well
#: under the delivery's claim (service_layer/subscriptions.py, CLAIM_SECONDS = 60).
DEADLINE = 10.0


class Deadline:
    """While entered, shut SOCK down once SECONDS have passed (``expired`` says whether it did)."""

    def __init__(self, sock: socket.socket, seconds: float):
        self.sock, self.expired = sock, False
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        try:
            # The plain socket's shutdown, also for an SSLSocket: it wakes the thread blocked on
            # it without touching the TLS state that thread is using.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> "Deadline":
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        self.timer.join()


class Opened:
    """A connection to an endpoint, checked, with nothing sent yet."""

    def __init__(self, conn: http.client.HTTPConnection, path: str, deadline: float = DEADLINE):
        self.conn, self.path, self.deadline = conn, path, deadline

    def send(self, body: bytes, headers: dict[str, str]) -> int:
        """Write the POST now and return the answer's status code; OSError when it broke or took
        longer than the deadline in all."""
        with Deadline(self.conn.sock, self.deadline) as deadline:
            try:
                self.conn.request("POST", self.path, body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read(4096)
            except (OSError, http.client.HTTPException) as exc:
                if deadline.expired:
                    raise TimeoutError(f"the endpoint took more than {self.deadline} s") from exc
                if isinstance(exc, OSError):
                    raise
                raise OSError(f"the endpoint's answer is broken: {exc!r}") from exc
        if deadline.expired:
            raise TimeoutError(f"the endpoint took more than {self.deadline} s")
        return resp.status

    def close(self) -> None:
        self.conn.close()


class RestHook:
    """Open checked connections to endpoints, under POLICY, each socket operation within TIMEOUT
    seconds and each step (open, send) within DEADLINE seconds in all."""

    def __init__(self, policy: HostPolicy, timeout: float = 5.0, deadline: float = DEADLINE):
        self.policy, self.timeout, self.deadline = policy, timeout, deadline

    def open(self, url: str) -> Opened:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        problem = self.policy.host_problem(host, port)
        if problem:
            raise EndpointRefused(problem)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            problem = self.policy.address_problem(address, port, parts.scheme)
            if problem:
                raise EndpointRefused(problem)
        sock = socket.create_connection((addresses[0], port), timeout=self.timeout)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout)
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host,
                                                                do_handshake_on_connect=False)
                with Deadline(sock, self.deadline) as deadline:
                    try:
                        sock.do_handshake()
                    except OSError as exc:
                        if deadline.expired:
                            raise TimeoutError(f"the TLS handshake took more than {self.deadline} s") from exc
                        raise
            except BaseException:
                sock.close()
                raise
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.sock = sock  # connected to the checked address; request() will not connect again
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Opened(conn, path, self.deadline)
