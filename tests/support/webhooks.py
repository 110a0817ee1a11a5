"""A department's webhook receiver in tests: a real HTTP server on a free port that answers each
POST with the next of the statuses it was given (then 204), keeps what it got, and verifies a
notice's JWS against a JWK Set as a department would."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jws
from joserfc.jwk import KeySet


class Receiver:
    """A webhook endpoint: STATUSES are the answers to the first POSTs, 204 after them."""

    def __init__(self, statuses=()):
        self.statuses, self.got = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((dict(self.headers), body.decode()))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/phr/notices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(jwks: dict, body: str) -> dict:
    """The payload of the compact JWS BODY, checked against the JWK Set JWKS (ES256 only, as the
    exchange signs); joserfc raises BadSignatureError when it does not verify."""
    found = jws.deserialize_compact(body, KeySet.import_key_set(jwks), algorithms=["ES256"])
    return json.loads(found.payload)


def tampered(body: str) -> str:
    """BODY with its signature changed in its last characters."""
    head, claims, signature = body.split(".")
    return ".".join([head, claims, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
