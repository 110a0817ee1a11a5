"""The real Redis the shared rate limits use (127.0.0.1:6379 here, PHR_TEST_REDIS elsewhere): each
test counts under a key prefix of its own and deletes its keys afterwards."""
from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from tests.support.broker import free_port

REDIS_URL = os.environ.get("PHR_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_available() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def unreachable_redis_url() -> str:
    """A Redis URL at a port nothing listens on: Redis as a gateway sees it when it is down."""
    return f"redis://127.0.0.1:{free_port()}/0"


@dataclass
class SharedRedis:
    """REDIS_URL and REDIS_KEY_PREFIX of one test, as settings overrides and as environment."""

    url: str
    prefix: str

    @property
    def settings(self) -> dict:
        return {"redis_url": self.url, "redis_key_prefix": self.prefix}

    @property
    def env(self) -> dict:
        return {"REDIS_URL": self.url, "REDIS_KEY_PREFIX": self.prefix}

    def keys(self) -> list[str]:
        client = redis.Redis.from_url(self.url)
        try:
            return [key.decode() for key in client.scan_iter(f"{self.prefix}:*")]
        finally:
            client.close()

    def clean(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            for key in client.scan_iter(f"{self.prefix}:*"):
                client.delete(key)
        finally:
            client.close()


def shared_redis() -> SharedRedis:
    return SharedRedis(REDIS_URL, f"phr-test-{uuid.uuid4().hex[:12]}")


class RedisLine:
    """A TCP relay in front of the real Redis that a test can cut and mend, as a network fails:
    ``url`` reaches Redis through it; ``cut()`` closes every connection and refuses new ones;
    ``mend()`` listens again on the same port."""

    def __init__(self, target: str = REDIS_URL):
        parsed = urlsplit(target)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}{parsed.path or '/0'}"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def __enter__(self) -> "RedisLine":
        self.mend()
        return self

    def __exit__(self, *exc) -> None:
        self.cut()

    def mend(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        if self._listener is not None:
            sockets.append(self._listener)
            self._listener = None
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
