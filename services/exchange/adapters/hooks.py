"""The rest-hook client of subscriptions and of revocation-receipt webhooks (adapters/webhooks.py):
one POST to a department's endpoint, in two steps.

``open`` resolves the endpoint's host, checks every address it resolves to against the host
policy (services/common/outbound.py HostPolicy: a name that resolved to a public address when the
subscription was made may resolve to an inside one now), and connects to a checked address (TLS
with the host's name). ``Opened.send`` then writes the request at once on that connection. The
delivery asks its last consent decision between the two, so that what separates the decision
from the first byte sent is writing a few hundred bytes, not a DNS look-up or a TLS handshake.
Redirects are not followed; the answer's body is read up to 4 KiB and dropped.
"""
from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from services.common.outbound import HostPolicy


class EndpointRefused(Exception):
    """The endpoint points where notifications may not go (the host policy)."""


class Opened:
    """A connection to an endpoint, checked, with nothing sent yet."""

    def __init__(self, conn: http.client.HTTPConnection, path: str):
        self.conn, self.path = conn, path

    def send(self, body: bytes, headers: dict[str, str]) -> int:
        """Write the POST now and return the answer's status code (OSError when it broke)."""
        self.conn.request("POST", self.path, body=body, headers=headers)
        resp = self.conn.getresponse()
        resp.read(4096)
        return resp.status

    def close(self) -> None:
        self.conn.close()


class RestHook:
    """Open checked connections to endpoints, under POLICY, each step within TIMEOUT seconds."""

    def __init__(self, policy: HostPolicy, timeout: float = 5.0):
        self.policy, self.timeout = policy, timeout

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
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.sock = sock  # connected to the checked address; request() will not connect again
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Opened(conn, path)
