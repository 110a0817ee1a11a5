"""Calls from the gateway to its services: plain-HTTP peers over gateway.proxy.wire's keep-alive
connections, any other (https) over one urllib3 pool; a failed call is a 503, 504 or 502 problem."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from gateway.proxy import wire
from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)


@dataclass
class UpstreamResponse:
    """What a service answered: status, headers and the body exactly as sent."""

    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


class Upstreams:
    """Forward requests to the services, one named peer each (Settings.peers).

    Not requests: every proxied request goes through here, and requests' session machinery
    (hooks, cookies, redirects, environment proxies) adds cost per call and nothing a fixed set
    of internal peers needs (gateway.proxy.wire says why not urllib3 either).
    """

    def __init__(self, peers: dict[str, str], connect_timeout: float = 2.0,
                 read_timeout: float = 30.0, pool_size: int = 32):
        self.peers = {name: url.rstrip("/") for name, url in peers.items()}
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.pool = urllib3.PoolManager(num_pools=max(len(self.peers), 1), maxsize=pool_size,
                                        block=False, retries=False)
        self.wire: dict[str, wire.Peer] = {}
        for name, url in self.peers.items():
            parts = urlsplit(url)
            if parts.scheme == "http" and parts.hostname and not parts.path:
                self.wire[name] = wire.Peer(parts.hostname, parts.port or 80, connect_timeout,
                                            read_timeout, pool_size)

    def call(self, service: str, method: str, path: str, query: bytes = b"",
             headers: dict | None = None, body: bytes | None = None) -> UpstreamResponse:
        """Send one request to SERVICE, mapping network failures to 503/504/502 problems."""
        target = path + (("?" + query.decode("latin-1")) if query else "")
        peer = self.wire.get(service)
        if peer is not None:
            try:
                return UpstreamResponse(*peer.request(method, target, list((headers or {}).items()),
                                                      body or b""))
            except wire.UpstreamError as exc:
                log.warning("%s failed (%s): %s", service, exc.kind, exc)
                raise _failure(service, exc.kind) from exc
        try:
            resp = self.pool.request(method, self.peers[service] + target, headers=headers or {},
                                     body=body or None, timeout=self.timeout, redirect=False,
                                     retries=False, preload_content=True, decode_content=False)
            return UpstreamResponse(resp.status, list(resp.headers.items()), resp.data)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            log.warning("%s unreachable: %s", service, exc)
            raise _failure(service, "connect") from exc
        except urllib3.exceptions.TimeoutError as exc:
            log.warning("%s timed out: %s", service, exc)
            raise _failure(service, "timeout") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("%s failed: %s", service, exc)
            raise _failure(service, "protocol") from exc


def _failure(service: str, kind: str) -> Problem:
    """Return the problem for a failed call of KIND (gateway.proxy.wire.UpstreamError's kinds):
    "connect" (unreachable) 503, "timeout" 504, anything else 502."""
    if kind == "connect":
        return Problem(503, N_("Service Unavailable"),
                       N_("The {service} service cannot be reached right now."),
                       next_step=N_("Try again in a few minutes."),
                       headers={"Retry-After": "5"}, params={"service": service})
    if kind == "timeout":
        return Problem(504, N_("Gateway Timeout"),
                       N_("The {service} service did not answer in time. Nothing is known to have changed."),
                       next_step=N_("Try again in a few minutes."), params={"service": service})
    return Problem(502, N_("Bad Gateway"), N_("The {service} service gave an invalid answer."),
                   next_step=N_("Try again in a few minutes."), params={"service": service})
