"""Read what is left of a request's body before answering, so a keep-alive connection survives.

An app that answers without reading the body (a 401, 403 or 429 refusal of a POST, say)
leaves its bytes unread, and granian (hyper underneath) then closes the kept-alive
connection after the answer, or before it when the bytes have not all arrived. The client
sees its next request on that connection fail with no answer at all (``RemoteDisconnected``,
``BrokenPipeError``), as keep-alive clients posting past the gateway's rate limit did
(tests/fault/test_gateway_overload.py).
A body of known, modest length is therefore read and dropped here before the answer goes out;
any other unread body (no Content-Length, or longer than DRAIN_LIMIT, as a refused oversized
upload is) gets ``Connection: close`` on its answer, so the client knows not to reuse the
connection instead of finding out by losing a request.
"""
from __future__ import annotations

from typing import Callable, Iterable

#: The most unread body bytes read and dropped to keep a connection; beyond, it is closed.
#: As large as the bodies most routes take (services.common.bodies.SMALL) and no larger: a
#: client that declares a long body and trickles it would hold a server thread after its answer.
DRAIN_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


class DrainRequestBody:
    """WSGI middleware: consume the rest of every request's body before the answer is sent."""

    def __init__(self, app: Callable, limit: int = DRAIN_LIMIT):
        self.app, self.limit = app, limit

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = _declared_length(environ)
        if length == 0:
            return self.app(environ, start_response)
        if length is None or length > self.limit:
            return self.app(environ, _closing(start_response))
        result = self.app(environ, start_response)
        _drain(environ["wsgi.input"], length)
        return result


def _declared_length(environ: dict) -> int | None:
    """Return the request's Content-Length (0 for none on a request without a body), or None
    when the body's end is unknown (chunked) or the header is not a number."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    raw = environ.get("CONTENT_LENGTH") or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def _closing(start_response: Callable) -> Callable:
    """Return START_RESPONSE that adds ``Connection: close`` (RFC 9112 section 9.6)."""

    def start(status, headers, exc_info=None):
        headers = [(k, v) for k, v in headers if k.lower() != "connection"]
        return start_response(status, [*headers, ("Connection", "close")], exc_info)

    return start


def _drain(stream, length: int) -> None:
    """Read and drop what the app left of a body of LENGTH bytes (at most LENGTH: the stream
    ends where the body does, so a body the app read whole costs one empty read)."""
    left = length
    while left > 0:
        data = stream.read(min(_CHUNK, left))
        if not data:
            return
        left -= len(data)
