"""Who may send and how fast: per-key rate limits, cached key lookups, an unreachable key store."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.sink import MemorySink
from impactline.runtime.auth import KeyStoreUnavailable, Principal, StaticKeyStore, hash_key
from impactline.runtime.keys import CachedKeyStore, ChainedKeyStore, check_scopes
from impactline.runtime.ratelimit import RateLimiter
from impactline.runtime.settings import Settings

EVENT = {"ci_id": "a", "state": "ok"}


def test_limiter_allows_a_burst_then_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(0.5)
    assert limiter.acquire("other") == 0.0  # each key has its own bucket
    now[0] = 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") > 0


@pytest.fixture
def limited() -> Iterator[TestClient]:
    keys = StaticKeyStore.from_specs(["k1=ingest", "k2=ingest"])
    options = IngestSettings(rate_per_s=0.01, burst=2)
    app = create_app(Settings(), sink=MemorySink(), key_store=keys, ingest_settings=options)
    with TestClient(app) as c:
        yield c


def test_over_the_rate_answers_429_with_retry_after(limited: TestClient) -> None:
    k1 = {"Authorization": "Bearer k1"}
    assert [limited.post("/v1/events", json=EVENT, headers=k1).status_code for _ in range(2)] == [
        202,
        202,
    ]
    r = limited.post("/v1/events", json=EVENT, headers=k1)
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1
    assert "requests per second" in r.json()["detail"]
    other = limited.post("/v1/events", json=EVENT, headers={"Authorization": "Bearer k2"})
    assert other.status_code == 202


class CountingStore:
    def __init__(self) -> None:
        self.keys: dict[str, Principal] = {}
        self.calls = 0
        self.down = False

    async def lookup(self, key_hash: str) -> Principal | None:
        self.calls += 1
        if self.down:
            raise KeyStoreUnavailable("database: ConnectionRefusedError")
        return self.keys.get(key_hash)


async def test_lookups_are_cached_for_the_ttl_so_a_revoke_takes_effect_after_it() -> None:
    now = [0.0]
    inner = CountingStore()
    inner.keys[hash_key("k")] = Principal("key-1", frozenset({"ingest"}))
    cached = CachedKeyStore(inner, ttl_s=5, clock=lambda: now[0])
    assert await cached.lookup(hash_key("k")) is not None
    inner.keys.clear()  # revoked
    assert await cached.lookup(hash_key("k")) is not None  # still within 5 s
    now[0] = 5.1
    assert await cached.lookup(hash_key("k")) is None
    assert inner.calls == 2


async def test_static_keys_answer_before_the_database() -> None:
    inner = CountingStore()
    inner.down = True
    store = ChainedKeyStore(StaticKeyStore.from_specs(["s=admin"]), inner)
    assert (await store.lookup(hash_key("s"))) is not None
    assert inner.calls == 0
    with pytest.raises(KeyStoreUnavailable):
        await store.lookup(hash_key("other"))


def test_an_unreachable_key_store_answers_503_not_401() -> None:
    inner = CountingStore()
    inner.down = True
    app = create_app(Settings(), sink=MemorySink(), key_store=inner)
    with TestClient(app) as c:
        r = c.post("/v1/events", json=EVENT, headers={"Authorization": "Bearer x"})
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"] == "application/problem+json"


def test_scopes_are_checked_and_ordered() -> None:
    assert check_scopes(["admin", "ingest"]) == ("ingest", "admin")
    with pytest.raises(ValueError, match="unknown scope write"):
        check_scopes(["write"])
