"""The real Redis the shared rate limits use (127.0.0.1:6379 here, PHR_TEST_REDIS elsewhere): each
test counts under a key prefix of its own and deletes its keys afterwards."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

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
