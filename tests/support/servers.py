"""A test's HTTP server in a thread of its own."""
from __future__ import annotations

import threading

#: How often the serving loop looks for shutdown(). socketserver's default, 0.5 s, made every
#: test that stops a server wait a quarter second on average in its teardown.
POLL_SECONDS = 0.02


def serving_thread(server) -> threading.Thread:
    """A daemon thread (not yet started) that serves SERVER until ``server.shutdown()``."""
    return threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                            daemon=True)
