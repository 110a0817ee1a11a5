"""Where this platform may send a request a department asked for: FHIR subscription rest-hooks
(services/exchange/service_layer/subscriptions.py) and revocation-receipt webhooks
(services/exchange/service_layer/receipts.py) obey the one policy here.

A department names a URL; without a policy it could make the exchange call inside the hospital's
network (loopback, private networks, cloud metadata at 169.254.169.254) and read the answers back
as a port scanner. So a URL is judged twice: when it is registered, if its host is written as an
address (``literal_address_problem``), and at every send, on every address its name resolves to
then (services/exchange/adapters/hooks.py ``RestHook``, which connects to the address it checked).

The allow list is SUBSCRIPTION_ENDPOINT_ALLOW (Settings.subscription_endpoint_allow), for both
kinds of callback: its name is older than the webhooks and is kept so that deployments keep working.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HostPolicy:
    """Where callbacks may go.

    By default only to public addresses (``is_global``) over https: never to loopback, private,
    link-local (cloud metadata at 169.254.169.254), multicast or reserved ones. ALLOWED
    (SUBSCRIPTION_ENDPOINT_ALLOW: addresses or networks such as 10.1.2.0/24 or 127.0.0.1) opens
    more, and only there may a callback use plain http; the tests use 127.0.0.1. FORBIDDEN
    (host, port) pairs are refused whatever ALLOWED says: the platform's own services
    (Settings.peers), so a callback can never be a request to the gateway, consent, records or
    the exchange itself.
    """

    allowed: tuple = ()
    forbidden: frozenset = frozenset()

    @classmethod
    def from_settings(cls, allow: tuple[str, ...], peers: dict[str, str]) -> "HostPolicy":
        nets = tuple(ipaddress.ip_network(a.strip(), strict=False) for a in allow if a.strip())
        forbidden = set()
        for url in peers.values():
            parts = urlsplit(url)
            if parts.hostname:
                forbidden.add((parts.hostname.lower(), parts.port or default_port(parts.scheme)))
        return cls(nets, frozenset(forbidden))

    def host_problem(self, host: str, port: int) -> str | None:
        """Refuse HOST:PORT when it names one of our services (by name, before any look-up)."""
        if (host.lower(), port) in self.forbidden:
            return "The endpoint may not point at this platform's own services."
        return None

    def address_problem(self, address: str, port: int, scheme: str = "https") -> str | None:
        """Refuse an address a host resolved to: one of our services, one not public and not
        allowed, or an address not allowed reached over plain http (SCHEME)."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if (str(ip), port) in self.forbidden:
            return "The endpoint may not point at this platform's own services."
        if any(ip in net for net in self.allowed):
            return None
        if not ip.is_global:
            return "The endpoint must be a public address."
        if scheme != "https":
            return "The endpoint must use https."
        return None


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or default_port(parts.scheme)


def literal_address_problem(policy: HostPolicy, url: str) -> str | None:
    """Judge URL now as far as can be without a look-up: its host when it is one of our services
    or written as an address (with plain http, which only an allowed address may use). A name is
    judged at each send, on the addresses it resolves to then, the scheme with them; but with no
    allowed addresses at all, plain http can never be sent, so it is refused now for a name too."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", port_of(url)
    problem = policy.host_problem(host, port)
    if problem:
        return problem
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "The endpoint must use https." if parts.scheme != "https" and not policy.allowed else None
    return policy.address_problem(host, port, parts.scheme)
