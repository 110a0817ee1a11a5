"""A lean HTTP/1.1 client for the gateway's calls to its own services over plain HTTP.

Written by hand around httptools' C parser (llhttp) on purpose: urllib3 and http.client parse
every response's header block with ``email.parser``, and that, with urllib3's pool and
response objects, was a large share of the gateway's CPU per proxied request (README,
"Benchmarks"). The peers are our own services, so this needs little:
keep-alive sockets pooled per peer, a request with a Content-Length body, and a response
delimited by Content-Length, chunked coding or the connection's close. Anything else (https
peers, say) stays with urllib3 (gateway.proxy.upstreams.Upstreams).
"""
from __future__ import annotations

import select
import socket
from collections import deque

import httptools

#: RFC 9110 section 9.2.2: safe to send again when a pooled connection turns out to be closed.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_BUFFER = 65536
#: A request with a body larger than this (a transaction Bundle, say: hundreds of kilobytes,
#: much of the peer's CPU) goes on a connection of its own, closed after the answer. On a
#: pooled connection it ran in whichever server worker had accepted that connection earlier,
#: and imports piled up in one worker while the other stood idle (under gunicorn and granian
#: alike, whose workers accept connections the same way); a new connection is accepted by the
#: worker that is free to accept it first, the least busy one. One connect on loopback is
#: nothing next to such a request.
ALONE_BYTES = 64 * 1024


class UpstreamError(Exception):
    """The call failed: KIND is "connect" (nothing sent), "timeout" or "protocol"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Response:
    """httptools' callbacks collect the response here."""

    __slots__ = ("headers", "chunks", "complete", "headers_complete", "keep_alive", "parser")

    def __init__(self):
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.complete = self.headers_complete = self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_complete = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        # Asked here: llhttp resets its state (and says "close") once the message is done.
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True


class Peer:
    """Keep-alive connections to one service at HOST:PORT, at most MAXSIZE kept idle."""

    def __init__(self, host: str, port: int, connect_timeout: float = 2.0,
                 read_timeout: float = 30.0, maxsize: int = 32):
        self.address = (host, port)
        self.host_header = f"{host}:{port}".encode("ascii")
        self.connect_timeout, self.read_timeout, self.maxsize = connect_timeout, read_timeout, maxsize
        self._idle: deque[socket.socket] = deque()

    def request(self, method: str, target: str, headers: list[tuple[str, str]],
                body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request and return (status, headers, body); raise UpstreamError on failure.

        TARGET is the path and query as they go on the request line. A request on a pooled
        connection that the peer turns out to have closed (nothing came back) is sent again on
        a new connection only when METHOD is idempotent; otherwise it is a "protocol" error,
        since the peer may have acted on it.
        """
        alone = len(body) > ALONE_BYTES
        if alone:
            headers = [*headers, ("Connection", "close")]
        head = self._head(method, target, headers, len(body))
        sock = None if alone else self._checkout()
        reused = sock is not None
        try:
            if sock is None:
                sock = self._connect()
            return self._exchange(sock, head, body, method, keep_open=not alone)
        except _Stale:
            if not reused:
                raise UpstreamError("protocol", "the service closed the connection without answering")
            # A pooled connection that had been closed by the peer: one more try on a new one.
            if method not in IDEMPOTENT:
                raise UpstreamError("protocol", "the service closed a kept-alive connection")
            return self._exchange(self._connect(), head, body, method)

    def _head(self, method: str, target: str, headers: list[tuple[str, str]], length: int) -> bytes:
        lines = [f"{method} {target} HTTP/1.1".encode("latin-1"), b"Host: " + self.host_header]
        for name, value in headers:
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise UpstreamError("protocol", f"header {name!r} holds a line break")  # nothing sent yet
            lines.append(f"{name}: {value}".encode("latin-1"))
        if length or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(b"Content-Length: %d" % length)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except OSError as exc:
            raise UpstreamError("connect", f"cannot connect to {self.address[0]}:{self.address[1]}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return sock

    def _checkout(self) -> socket.socket | None:
        """Return an idle connection that is still open, or None."""
        while True:
            try:
                sock = self._idle.pop()
            except IndexError:
                return None
            # Readable while idle means the peer closed it (or sent something unasked): drop it.
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return sock
            sock.close()

    def _exchange(self, sock: socket.socket, head: bytes, body: bytes, method: str,
                  keep_open: bool = True) -> tuple[int, list[tuple[str, str]], bytes]:
        got_any = False
        try:
            try:
                sock.sendall(head + body if len(body) < _BUFFER else head)
                if len(body) >= _BUFFER:
                    sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise _Stale() from exc
            response = _Response()
            parser = response.parser
            while not response.complete:
                if method == "HEAD" and response.headers_complete:
                    break  # a response to HEAD has headers only
                try:
                    data = sock.recv(_BUFFER)
                except ConnectionResetError as exc:
                    if not got_any:
                        raise _Stale() from exc
                    raise UpstreamError("protocol", "the service reset the connection") from exc
                if not data:
                    if not got_any:
                        raise _Stale()
                    if response.headers_complete and not _delimited(response.headers):
                        break  # the body ran to the connection's close
                    raise UpstreamError("protocol", "the service closed the connection mid-answer")
                got_any = True
                try:
                    parser.feed_data(data)
                except httptools.HttpParserUpgrade as exc:
                    raise UpstreamError("protocol", "the service asked for a protocol upgrade") from exc
                except httptools.HttpParserError as exc:
                    raise UpstreamError("protocol", f"the service's answer is not HTTP/1.1: {exc}") from exc
            status = parser.get_status_code()
            keep = keep_open and response.complete and response.keep_alive
            response.parser = None  # no cycle left for the garbage collector
        except socket.timeout as exc:
            sock.close()
            raise UpstreamError("timeout", "the service did not answer in time") from exc
        except BaseException:
            sock.close()
            raise
        if keep and len(self._idle) < self.maxsize:
            self._idle.append(sock)
        else:
            sock.close()
        return status, response.headers, b"".join(response.chunks)


class _Stale(Exception):
    """The connection was closed before any byte of an answer came back."""


def _delimited(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers)
