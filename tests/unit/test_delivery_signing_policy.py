"""Signatures (ours, PagerDuty's, Jira's), retry pacing, escalation timing, back-sync parsing,
secrets, and the vendor format checks the other tests rely on."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from impactline.core.catalog.model import EscalationStep
from impactline.core.delivery import RouteFile
from impactline.core.delivery.backsync import (
    CallbackError,
    SyncAction,
    from_jira,
    from_pagerduty,
    from_servicenow,
)
from impactline.core.delivery.destinations import Backoff, Circuit, RateLimit
from impactline.core.delivery.escalation import Page, due_steps, next_due
from impactline.core.delivery.policy import CircuitBreaker, CircuitState, TokenBucket, retry_delay
from impactline.core.delivery.signing import (
    SignatureError,
    sign,
    verify,
    verify_jira,
    verify_pagerduty,
)
from impactline.notify.secrets import Secrets, SecretsMissing
from tests import vendor_formats as formats

BODY = b'{"event":{"event_type":"incident.acknowledged"}}'


def hexdigest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# -- our webhook signature ----------------------------------------------------------------------


def test_our_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign("whsec", 1_795_000_000, BODY)
    assert header == f"t=1795000000,v1={hexdigest('whsec', b'1795000000.' + BODY)}"
    verify(["old", "whsec"], header, BODY, 1_795_000_100)  # a rotated-in secret still verifies


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        (None, BODY, 1_795_000_000, "missing"),
        ("v1=abc", BODY, 1_795_000_000, "expected"),
        (sign("whsec", 1_795_000_000, BODY), BODY + b" ", 1_795_000_000, "does not match"),
        (sign("other", 1_795_000_000, BODY), BODY, 1_795_000_000, "does not match"),
        (sign("whsec", 1_795_000_000, BODY), BODY, 1_795_000_301, "301 s from now"),
    ],
)
def test_a_wrong_stale_or_missing_signature_is_refused(
    header: str | None, body: bytes, now: int, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(["whsec"], header, body, now)


def test_pagerduty_and_jira_signatures_are_checked_over_the_raw_body() -> None:
    good = hexdigest("pd-secret", BODY)
    verify_pagerduty(["pd-secret"], f"v1={'0' * 64},v1={good}", BODY)
    with pytest.raises(SignatureError):
        verify_pagerduty(["pd-secret"], f"v1={good}", BODY + b"\n")
    with pytest.raises(SignatureError, match="missing"):
        verify_pagerduty(["pd-secret"], None, BODY)
    verify_jira(["jira"], f"sha256={hexdigest('jira', BODY)}", BODY)
    with pytest.raises(SignatureError):
        verify_jira(["jira"], f"sha1={hexdigest('jira', BODY)}", BODY)


# -- pacing ------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_ceiling() -> None:
    backoff = Backoff(initial_seconds=1, max_seconds=60, jitter_seconds=0.5)
    for failures, base in ((1, 1), (2, 2), (3, 4), (4, 8), (6, 32)):
        delays = [retry_delay(backoff, failures) for _ in range(50)]
        assert all(base <= d <= base + 0.5 for d in delays), (failures, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered, so retries of many deliveries spread out
    assert all(retry_delay(backoff, 20) == 60 for _ in range(10))
    assert retry_delay(backoff, 1, retry_after_s=30) == 30  # the server's Retry-After wins


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(RateLimit(per_second=2, burst=3), now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.5) == 0


def test_the_circuit_opens_after_consecutive_failures_and_lets_one_trial_through() -> None:
    breaker = CircuitBreaker(Circuit(failures=3, cooldown_seconds=10))
    for at in (0.0, 1.0):
        assert breaker.allows(at)
        breaker.failed(at)
    breaker.succeeded()  # a success resets the count
    for at in (2.0, 3.0, 4.0):
        assert breaker.allows(at)
        breaker.failed(at)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allows(13.9) and breaker.wait_s(13.9) == pytest.approx(0.1)
    assert breaker.allows(14.0) and breaker.state is CircuitState.HALF_OPEN
    assert not breaker.allows(14.0)  # one trial at a time
    breaker.failed(15.0)
    assert breaker.state is CircuitState.OPEN and not breaker.allows(24.0)
    assert breaker.allows(25.0)
    breaker.succeeded()
    assert breaker.state is CircuitState.CLOSED and breaker.allows(25.0)


# -- escalation --------------------------------------------------------------------------------

STEPS = (
    EscalationStep(level=1, contact="Finance Systems desk", after_minutes=0),
    EscalationStep(level=2, contact="ERP on-call engineer", after_minutes=15),
    EscalationStep(level=3, contact="Head of Finance Systems", after_minutes=45),
)
PAGED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_an_unacknowledged_p1_climbs_one_level_per_step_once() -> None:
    page = Page("financial-close/e1", "financial-close", "P1", PAGED, level=1)
    assert due_steps(page, STEPS, PAGED + timedelta(minutes=14, seconds=59)) == []
    assert [s.level for s in due_steps(page, STEPS, PAGED + timedelta(minutes=15))] == [2]
    assert next_due(page, STEPS) == PAGED + timedelta(minutes=15)
    at_two = Page(page.subject, page.service_id, "P1", PAGED, level=2)
    assert due_steps(at_two, STEPS, PAGED + timedelta(minutes=44)) == []
    # Checked late, every step due since the page is escalated to, in order.
    assert [s.level for s in due_steps(page, STEPS, PAGED + timedelta(hours=1))] == [2, 3]
    done = Page(page.subject, page.service_id, "P1", PAGED, level=3)
    assert next_due(done, STEPS) is None


def test_only_p1_pages_escalate() -> None:
    page = Page("s", "financial-close", "P2", PAGED, level=1)
    assert due_steps(page, STEPS, PAGED + timedelta(hours=5)) == []


# -- back-sync ---------------------------------------------------------------------------------


def pagerduty_webhook(kind: str, key: str | None = "financial-close/e1") -> dict[str, object]:
    data: dict[str, object] = {"id": "Q1", "type": "incident", "number": 42, "status": "x"}
    if key is not None:
        data["incident_key"] = key
    return {
        "event": {
            "id": "01EVT",
            "event_type": kind,
            "resource_type": "incident",
            "occurred_at": "2026-11-30T10:04:00Z",
            "agent": {"id": "PU1", "summary": "Dana Okafor", "type": "user_reference"},
            "data": data,
        }
    }


def test_pagerduty_acknowledge_and_resolve_come_back_for_our_dedup_keys_only() -> None:
    sync = from_pagerduty(pagerduty_webhook("incident.acknowledged"))
    assert sync is not None
    assert (sync.key, sync.action, sync.actor) == (
        "financial-close/e1",
        SyncAction.ACKNOWLEDGE,
        "pagerduty:Dana Okafor",
    )
    resolved = from_pagerduty(pagerduty_webhook("incident.resolved"))
    assert resolved is not None and resolved.action is SyncAction.RESOLVE
    assert from_pagerduty(pagerduty_webhook("incident.annotated")) is None
    assert from_pagerduty(pagerduty_webhook("incident.acknowledged", key=None)) is None
    with pytest.raises(CallbackError, match=r"event\.event_type"):
        from_pagerduty({"event": {"data": {}}})


def test_servicenow_and_jira_status_changes_map_to_acknowledge_and_resolve() -> None:
    progress = from_servicenow({"correlation_id": "impactline:e1", "state": "2", "number": "INC1"})
    assert progress is not None and progress.action is SyncAction.ACKNOWLEDGE
    closed = from_servicenow({"sys_id": "abc", "state": 6})
    assert closed is not None and (closed.key_kind, closed.action) == (
        "external_ref",
        SyncAction.RESOLVE,
    )
    assert from_servicenow({"sys_id": "abc", "state": "3"}) is None
    with pytest.raises(CallbackError, match="correlation_id or sys_id"):
        from_servicenow({"state": "6"})

    def issue(name: str, category: str) -> dict[str, object]:
        status = {"name": name, "statusCategory": {"key": category}}
        return {
            "webhookEvent": "jira:issue_updated",
            "issue": {"key": "OPS-7", "fields": {"status": status}},
        }

    working = from_jira(issue("In Progress", "indeterminate"), ["In Progress"])
    assert working is not None and working.action is SyncAction.ACKNOWLEDGE
    done = from_jira(issue("Resolved", "done"), ["In Progress"])
    assert done is not None and (done.key, done.action) == ("OPS-7", SyncAction.RESOLVE)
    assert from_jira(issue("Waiting for customer", "indeterminate"), ["In Progress"]) is None


# -- secrets -----------------------------------------------------------------------------------


def secret_routes(path: Path) -> RouteFile:
    return RouteFile.from_mapping(
        {
            "destinations": {
                "pd": {"kind": "pagerduty", "routing_key": {"env": "PD_KEY"}},
                "hook": {
                    "kind": "webhook",
                    "url": "https://hooks.example/in",
                    "signing_secret": {"file": str(path)},
                },
            }
        },
        "routes.yaml",
    )


def test_secrets_come_from_the_environment_and_files_and_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "signing"
    path.write_text("file-secret-value\n")
    secrets = Secrets.resolve(secret_routes(path), {"PD_KEY": "R0UT1NGK3Y0000"})
    assert secrets.require("pd", "routing_key") == "R0UT1NGK3Y0000"
    assert secrets.require("hook", "signing_secret") == "file-secret-value"
    assert secrets.redact("POST https://x/R0UT1NGK3Y0000 failed") == "POST https://x/*** failed"
    assert "R0UT1NGK3Y" not in repr(secrets)


def test_every_missing_secret_is_named_at_start(tmp_path: Path) -> None:
    with pytest.raises(SecretsMissing) as missing:
        Secrets.resolve(secret_routes(tmp_path / "absent"), {})
    assert "pd.routing_key: environment variable PD_KEY is not set" in str(missing.value)
    assert "hook.signing_secret: file" in str(missing.value)


# -- the format checks themselves --------------------------------------------------------------


def test_the_vendor_format_checks_catch_what_vendors_refuse() -> None:
    trigger = {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "high"},
    }
    assert formats.violations(formats.PAGERDUTY_EVENT, trigger)
    assert formats.violations(
        formats.PAGERDUTY_EVENT, {"routing_key": "R", "event_action": "resolve"}
    )  # no dedup key
    assert formats.violations(formats.OPSGENIE_CREATE, {"message": "m" * 131})
    assert formats.violations(formats.SERVICENOW_PATCH, {"state": "6"})  # no close code/notes
    assert formats.violations(formats.SERVICENOW_CREATE, {"short_description": "x", "impact": 1})
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "x"}}
    assert formats.violations(formats.SLACK_WEBHOOK_MESSAGE, {"text": "t", "blocks": [header]})
