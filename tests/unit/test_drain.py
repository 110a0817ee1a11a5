"""Every request's body is read before the answer, so a kept-alive connection can carry the next."""
from __future__ import annotations

import io

from services.common.drain import DrainRequestBody


class _Input(io.BytesIO):
    """A request body that remembers how many reads it served."""

    reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)


def _refuse(environ, start_response):
    start_response("429 Too Many Requests", [("Retry-After", "1")])
    return [b"{}"]


def _accept(environ, start_response):
    environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("200 OK", [])
    return [b"{}"]


def _call(app, body: bytes, **environ):
    stream = _Input(body)
    seen = {}
    env = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)), "wsgi.input": stream, **environ}
    result = DrainRequestBody(app, limit=1024)(env, lambda status, headers, exc=None: seen.update(
        status=status, headers=headers))
    return stream, seen, b"".join(result)


def test_a_refusal_that_never_read_the_body_leaves_nothing_unread():
    stream, seen, body = _call(_refuse, b'{"patient": "p"}' * 10)
    assert stream.tell() == 160 and seen["status"].startswith("429") and body == b"{}"
    assert ("Connection", "close") not in seen["headers"]


def test_a_body_the_app_read_whole_costs_one_empty_read():
    stream, seen, _ = _call(_accept, b"x" * 500)
    assert stream.tell() == 500 and stream.reads == 2


def test_no_more_than_the_declared_length_is_read():
    stream, _seen, _ = _call(_refuse, b"x" * 100 + b"GET /next HTTP/1.1\r\n\r\n", CONTENT_LENGTH="100")
    assert stream.tell() == 100


def test_a_body_over_the_limit_is_not_read_and_the_answer_says_the_connection_closes():
    stream, seen, _ = _call(_refuse, b"x" * 2048)
    assert stream.tell() == 0 and ("Connection", "close") in seen["headers"]
    assert seen["status"].startswith("429")


def test_a_body_of_unknown_length_is_not_read_and_the_answer_says_the_connection_closes():
    stream, seen, _ = _call(_refuse, b"x" * 10, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    assert stream.tell() == 0 and ("Connection", "close") in seen["headers"]


def test_a_request_without_a_body_is_passed_through_untouched():
    stream, seen, _ = _call(_refuse, b"", REQUEST_METHOD="GET")
    assert stream.reads == 0 and ("Connection", "close") not in seen["headers"]
