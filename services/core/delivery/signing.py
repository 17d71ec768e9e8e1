"""HMAC-SHA256 signatures: the ones impactline puts on its webhooks, and the ones PagerDuty and
Jira put on theirs.

impactline's webhooks carry `Impactline-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256(secret, "<t>." + raw body). The timestamp is signed too, so a captured request
cannot be replayed later than the receiver's tolerance (five minutes by default); several `v1`
values may appear while a secret is being rotated. docs/delivery.md shows how to verify.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "Impactline-Signature"
DELIVERY_HEADER = "Impactline-Delivery"
TOLERANCE_S = 300
PAGERDUTY_HEADER = "X-PagerDuty-Signature"
JIRA_HEADER = "X-Hub-Signature"


class SignatureError(ValueError):
    """A signature is missing, malformed, stale or does not match; the text says which."""


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Impactline-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_hmac(secret, f'{timestamp}.'.encode() + body)}"


def verify(
    secrets: Iterable[str],
    header: str | None,
    body: bytes,
    now: int,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise `SignatureError` unless `header` signs `body` with one of `secrets`, recently."""
    if not header:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is missing")
    parts = [item.strip().partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t"]
    signatures = [value for key, _, value in parts if key == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise SignatureError(f"expected {SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            f"the signature is {abs(now - timestamp)} s from now; at most {tolerance_s} s allowed"
        )
    message = f"{timestamp}.".encode() + body
    if not _any_match((_hmac(secret, message) for secret in secrets), signatures):
        raise SignatureError("the signature does not match the body")


def verify_pagerduty(secrets: Iterable[str], header: str | None, body: bytes) -> None:
    """PagerDuty v3 webhooks: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of
    the raw body with the subscription's secret."""
    if not header:
        raise SignatureError(f"the {PAGERDUTY_HEADER} header is missing")
    given = [
        value
        for key, _, value in (i.strip().partition("=") for i in header.split(","))
        if key == "v1"
    ]
    if not given:
        raise SignatureError(f"{PAGERDUTY_HEADER} holds no v1 signature")
    if not _any_match((_hmac(secret, body) for secret in secrets), given):
        raise SignatureError("the PagerDuty signature does not match the body")


def verify_jira(secrets: Iterable[str], header: str | None, body: bytes) -> None:
    """Jira Cloud webhooks registered with a secret: `X-Hub-Signature: sha256=<hex>`."""
    if not header:
        raise SignatureError(f"the {JIRA_HEADER} header is missing")
    method, _, value = header.strip().partition("=")
    if method != "sha256" or not value:
        raise SignatureError(f"expected {JIRA_HEADER}: sha256=<hex>")
    if not _any_match((_hmac(secret, body) for secret in secrets), [value]):
        raise SignatureError("the Jira signature does not match the body")


def _any_match(expected: Iterable[str], given: list[str]) -> bool:
    found = False
    for wanted in expected:
        for candidate in given:
            # Compare every pair, so the time taken says nothing about which one matched.
            found |= hmac.compare_digest(wanted, candidate.strip().lower())
    return found
