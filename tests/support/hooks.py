"""A department's rest-hook endpoint for subscription tests: a real HTTP server in a thread."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.servers import serving_thread


class Receiver:
    """Records every POST with the wall-clock time it came (``time.time()``, read before its body),
    and answers STATUS. ``close()`` stops it."""

    def __init__(self, status: int = 200):
        self.got, self.status, self.lock = [], status, threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.got.append({"at": arrived, "path": self.path, "headers": dict(self.headers),
                                         "body": json.loads(body) if body else None})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        serving_thread(self.httpd).start()

    def ids(self) -> list[str]:
        """The resource ids of every notification so far, in the order they came."""
        with self.lock:
            got = list(self.got)
        return [e["fullUrl"].rsplit("/", 1)[1] for g in got if g["body"] for e in g["body"]["entry"][1:]]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
