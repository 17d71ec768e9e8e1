"""API keys: every write endpoint needs one, with the right scope.

Keys are compared by their SHA-256 digest so the process never keeps or logs a key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from impactline.runtime.problems import Problem
from impactline.runtime.ratelimit import RateLimiter, retry_after

SCOPES = ("ingest", "read", "admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return "il_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    scopes: frozenset[str]


class KeyStoreUnavailable(Exception):
    """The key store cannot answer now (database away); the request may be retried."""


class KeyStore(Protocol):
    async def lookup(self, key_hash: str) -> Principal | None:
        """The principal holding the key with this digest, None if unknown or revoked.

        Raises KeyStoreUnavailable when the answer cannot be known right now.
        """


class StaticKeyStore:
    """Keys given at start-up as `key=scope1+scope2` pairs (environment or file)."""

    def __init__(self, hashed: Mapping[str, Principal]) -> None:
        self._hashed = dict(hashed)

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> StaticKeyStore:
        hashed = {}
        for n, spec in enumerate(s.strip() for s in specs if s.strip()):
            key, _, scopes = spec.partition("=")
            wanted = frozenset((scopes or "+".join(SCOPES)).split("+"))
            unknown = wanted - set(SCOPES)
            if unknown:
                raise ValueError(f"API key #{n + 1}: unknown scopes {sorted(unknown)}")
            hashed[hash_key(key)] = Principal(f"static-{n + 1}", wanted)
        return cls(hashed)

    async def lookup(self, key_hash: str) -> Principal | None:
        return self.known(key_hash)

    def known(self, key_hash: str) -> Principal | None:
        for known, principal in self._hashed.items():
            if hmac.compare_digest(known, key_hash):
                return principal
        return None


def known_without_lookup(store: KeyStore, key_hash: str) -> Principal | None:
    """The principal of a key the store knows without asking its database (static keys, the
    lookup cache); None when it would have to ask."""
    known = getattr(store, "known", None)
    return known(key_hash) if known is not None else None


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


class AuthGuard:
    """Failed authentications per client address: a bucket of `burst` that refills at
    `per_min` a minute. An empty bucket answers 429 before any key is looked up."""

    def __init__(
        self,
        per_min: float = 30.0,
        burst: int | None = None,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = per_min / 60.0
        self.burst = float(burst if burst is not None else max(1, math.ceil(per_min)))
        self._max = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, client: str) -> float:
        tokens, updated = self._buckets.get(client, (self.burst, self._clock()))
        return min(self.burst, tokens + (self._clock() - updated) * self.rate_per_s)

    def wait(self, client: str) -> float:
        """0 when the client may try a key, else the seconds until it may."""
        tokens = self._tokens(client)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate_per_s

    def failed(self, client: str) -> None:
        tokens = max(0.0, self._tokens(client) - 1.0)
        self._buckets.pop(client, None)
        self._buckets[client] = (tokens, self._clock())
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)


def client_of(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def authorize_request(request: Request, key: str | None, scope: str) -> Principal:
    """`authorize` for a request: while its client address has failed too often, a key that
    would need a database lookup is refused early (429); and each key is held to the process's
    request rate when one is set (`rate_limiter`)."""
    state = request.app.state
    guard: AuthGuard | None = getattr(state, "auth_guard", None)
    client = client_of(request)
    if (
        guard is not None
        and key is not None
        and (wait := guard.wait(client)) > 0
        # A client over its limit still gets in with a key known without a lookup (so one
        # guessing client cannot lock out others behind the same address); others wait.
        and known_without_lookup(state.key_store, hash_key(key)) is None
    ):
        raise Problem(
            429,
            "Too many failed authentications",
            "this address sent too many unknown or revoked keys; retry after the given seconds",
            kind="rate-limited",
            headers={"Retry-After": retry_after(wait)},
        )
    try:
        principal = await authorize(state.key_store, key, scope)
    except Problem as problem:
        if guard is not None and key is not None and problem.status == 401:
            guard.failed(client)
        raise
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is not None and (wait := limiter.acquire(principal.key_id)) > 0:
        raise Problem(
            429,
            "Too many requests",
            f"this API key may send {limiter.rate_per_s:g} requests per second (bursts of "
            f"{limiter.burst}); retry after the given seconds",
            kind="rate-limited",
            headers={"Retry-After": retry_after(wait)},
        )
    return principal


def require_scope(scope: str):
    """Dependency: the request must present a key that holds `scope` (or `admin`)."""

    async def dependency(request: Request) -> Principal:
        return await authorize_request(request, presented_key(request), scope)

    return dependency


async def authorize(store: KeyStore, key: str | None, scope: str) -> Principal:
    """The principal of `key` when it holds `scope` (or `admin`); otherwise a 401/403 problem.

    For routes whose clients carry the key somewhere else than a header (the PagerDuty
    `routing_key`).
    """
    if key is None:
        raise Problem(
            401,
            "API key required",
            "send the key as 'Authorization: Bearer <key>' or in the 'X-API-Key' header",
            kind="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = await store.lookup(hash_key(key))
    except KeyStoreUnavailable as exc:
        raise Problem(
            503,
            "Key store unavailable",
            f"the API key cannot be checked right now, retry later ({exc})",
            kind="unavailable",
            headers={"Retry-After": "5"},
        ) from None
    if principal is None:
        raise Problem(
            401,
            "Invalid API key",
            "the key is unknown or revoked",
            kind="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scope not in principal.scopes and "admin" not in principal.scopes:
        raise Problem(
            403,
            "Missing scope",
            f"this endpoint needs a key with the {scope!r} scope",
            kind="forbidden",
        )
    return principal
