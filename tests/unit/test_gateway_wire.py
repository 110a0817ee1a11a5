"""The gateway's lean HTTP/1.1 client (gateway.proxy.wire) against a real socket server on 127.0.0.1."""
from __future__ import annotations

import socket
import threading

import pytest

from gateway.proxy import wire


CLOSE = b"<close>"


class Scripted:
    """A TCP server that answers each request on a connection with the next scripted reply.

    A reply is bytes to send (ending in CLOSE: then close), or None to close the connection
    without answering. Every
    request's head is recorded with the connection it arrived on.
    """

    def __init__(self, replies: list[bytes | None], per_connection: int = 100):
        self.replies, self.per_connection = list(replies), per_connection
        self.seen: list[tuple[int, bytes]] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn, self.connections), daemon=True).start()

    def _handle(self, conn, number):
        buf = b""
        with conn:
            for _ in range(self.per_connection):
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.seen.append((number, head + b"\r\n\r\n" + body))
                reply = self.replies.pop(0) if self.replies else None
                if reply is None:
                    return
                conn.sendall(reply.removesuffix(CLOSE))
                if reply.endswith(CLOSE):
                    return

    def close(self):
        self._sock.close()


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra + \
        b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def serve():
    servers = []

    def start(replies, **kw):
        servers.append(Scripted(replies, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_a_request_goes_out_with_host_headers_and_body_and_the_answer_comes_back_whole(serve):
    server = serve([ok(b'{"ok": true}', b"X-Trace: 1\r\n")])
    peer = wire.Peer("127.0.0.1", server.port)
    status, headers, body = peer.request("POST", "/fhir?x=1", [("Content-Type", "application/json")], b'{"a":1}')
    assert (status, body) == (200, b'{"ok": true}')
    assert ("X-Trace", "1") in headers
    head = server.seen[0][1]
    assert head.startswith(b"POST /fhir?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port)
    assert b"Content-Length: 7\r\n" in head and head.endswith(b'{"a":1}')


def test_connections_are_kept_alive_and_reused(serve):
    server = serve([ok(b"1"), ok(b"2"), ok(b"3")])
    peer = wire.Peer("127.0.0.1", server.port)
    bodies = [peer.request("GET", "/", [])[2] for _ in range(3)]
    assert bodies == [b"1", b"2", b"3"]
    assert {number for number, _ in server.seen} == {1}


def test_a_request_with_a_large_body_goes_alone_on_a_new_connection_that_is_closed_after(serve):
    server = serve([ok(b"1"), ok(b"big"), ok(b"3")])
    peer = wire.Peer("127.0.0.1", server.port)
    big = b"x" * (wire.ALONE_BYTES + 1)
    assert peer.request("GET", "/", [])[2] == b"1"
    assert peer.request("POST", "/fhir", [("Content-Type", "application/fhir+json")], big)[2] == b"big"
    assert peer.request("GET", "/", [])[2] == b"3"
    numbers = [number for number, _ in server.seen]
    assert numbers[0] == numbers[2] != numbers[1]  # the small ones share the pooled connection
    assert b"Connection: close\r\n" in server.seen[1][1] and server.seen[1][1].endswith(big)
    assert b"Connection:" not in server.seen[0][1] + server.seen[2][1]


def test_a_chunked_answer_is_joined(serve):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    server = serve([chunked])
    status, headers, body = wire.Peer("127.0.0.1", server.port).request("GET", "/", [])
    assert (status, body) == (200, b"hello world")


def test_an_answer_delimited_by_the_close_of_the_connection_is_read_to_the_end(serve):
    server = serve([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it" + CLOSE])
    peer = wire.Peer("127.0.0.1", server.port)
    assert peer.request("GET", "/", [])[2] == b"all of it"
    assert not peer._idle  # never reused after a close


def test_a_pooled_connection_the_service_closed_is_retried_once_for_a_get(serve):
    # The server answers one request per connection and then closes it silently.
    server = serve([ok(b"first"), ok(b"second")], per_connection=1)
    peer = wire.Peer("127.0.0.1", server.port)
    assert peer.request("GET", "/", [])[2] == b"first"
    assert peer.request("GET", "/", [])[2] == b"second"
    assert server.connections == 2


def test_a_post_on_a_connection_that_dies_without_an_answer_is_an_error_and_is_not_sent_again(serve):
    server = serve([ok(b"first"), None, ok(b"never")])
    peer = wire.Peer("127.0.0.1", server.port)
    assert peer.request("GET", "/", [])[2] == b"first"
    with pytest.raises(wire.UpstreamError) as failed:
        peer.request("POST", "/exchange/v1/requests", [], b"{}")
    assert failed.value.kind == "protocol"
    assert [head.split(b" ")[0] for _, head in server.seen] == [b"GET", b"POST"]


def test_a_refused_connection_is_a_connect_error():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(wire.UpstreamError) as failed:
        wire.Peer("127.0.0.1", port).request("GET", "/", [])
    assert failed.value.kind == "connect"


def test_a_service_that_does_not_answer_in_time_is_a_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody answers
        with pytest.raises(wire.UpstreamError) as failed:
            wire.Peer("127.0.0.1", silent.getsockname()[1], read_timeout=0.3).request("GET", "/", [])
    assert failed.value.kind == "timeout"


def test_garbage_instead_of_http_is_a_protocol_error(serve):
    server = serve([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"])
    with pytest.raises(wire.UpstreamError) as failed:
        wire.Peer("127.0.0.1", server.port).request("GET", "/", [])
    assert failed.value.kind == "protocol"


def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent(serve):
    server = serve([ok()])
    with pytest.raises(wire.UpstreamError):
        wire.Peer("127.0.0.1", server.port).request("GET", "/", [("X-Evil", "a\r\nX-Injected: 1")])
    assert server.seen == []
