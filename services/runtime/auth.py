"""API keys: every write endpoint needs one, with the right scope.

Keys are compared by their SHA-256 digest so the process never keeps or logs a key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from impactline.runtime.problems import Problem

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
        for known, principal in self._hashed.items():
            if hmac.compare_digest(known, key_hash):
                return principal
        return None


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require_scope(scope: str):
    """Dependency: the request must present a key that holds `scope` (or `admin`)."""

    async def dependency(request: Request) -> Principal:
        return await authorize(request.app.state.key_store, presented_key(request), scope)

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
