"""The live stream's ring buffer, resumption and filters, and the key kept out of access logs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from impactline.api.stream import EventRing, RedactKeys, scope_of, sse
from impactline.core.contracts import IncidentAction, IncidentEvent, IncidentState


def fill(ring: EventRing, count: int, domain: str = "finance") -> None:
    for n in range(count):
        ring.push("impact", {f"svc-{n}"}, {domain}, json.dumps({"n": n}))


async def frames(
    ring: EventRing, wanted: int | None = None, until: str | None = None, **options: object
) -> list[str]:
    """The frames of a stream over `ring`, each as its text: the first `wanted`, or up to the
    first event named `until`."""
    closing = asyncio.Event()
    out: list[str] = []
    stream = sse(ring, closing, keepalive_s=0.05, **options)  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        async for text in stream:
            out.append(text)
            if len(out) == wanted or (until and f"event: {until}\n" in text):
                break
    await stream.aclose()
    return out


def kinds(texts: list[str]) -> list[str]:
    return [
        line.removeprefix("event: ") for t in texts for line in t.splitlines() if "event:" in line
    ]


def test_ids_carry_the_boot_and_a_growing_sequence() -> None:
    ring = EventRing(capacity=3, boot="b00t")
    fill(ring, 5)
    items, gap = ring.after(0)
    assert [i.seq for i in items] == [3, 4, 5] and gap
    assert ring.event_id(5) == "b00t-5"
    assert ring.after(3) == (items[1:], False)


def test_resuming_depends_on_the_boot_and_what_the_ring_still_holds() -> None:
    ring = EventRing(capacity=10, boot="b00t")
    fill(ring, 4)
    assert ring.resume_after(None) == (4, False)  # no id: live from now
    assert ring.resume_after("b00t-2") == (2, False)
    assert ring.resume_after("0ther-2") == (0, True)  # the API restarted
    assert ring.resume_after("b00t-99") == (0, True)
    assert ring.resume_after("garbage") == (0, True)


async def test_a_stream_resumes_after_the_last_event_id_and_filters() -> None:
    ring = EventRing(boot="b00t")
    fill(ring, 2)
    ring.push("service-health", {"payroll"}, {"hr"}, "{}")
    fill(ring, 1)
    got = await frames(ring, 4, last_event_id="b00t-1", domain="finance", service=None)
    assert got[0].startswith("retry:")
    assert kinds(got[1:]) == ["ready", "impact", "impact"]
    assert "id: b00t-2\n" in got[2] and "id: b00t-4\n" in got[3]


def test_a_position_the_ring_no_longer_holds_resets_once_to_its_oldest_event() -> None:
    ring = EventRing(capacity=3, boot="b00t")
    fill(ring, 10)
    assert ring.resume_after("b00t-2") == (7, True)
    assert ring.after(7) == (ring.after(0)[0], False)


async def test_an_unknown_position_starts_with_a_reset_then_resends_the_ring() -> None:
    ring = EventRing(boot="new")
    fill(ring, 2)
    got = await frames(ring, 5, last_event_id="old-7", domain=None, service=None)
    assert kinds(got[1:]) == ["reset", "ready", "impact", "impact"]


async def test_a_live_stream_gets_new_events_and_keepalives() -> None:
    ring = EventRing(boot="b")
    fill(ring, 3)

    async def later() -> None:
        await asyncio.sleep(0.2)
        ring.push("incident", {"payroll"}, {"hr"}, "{}")

    pusher = asyncio.create_task(later())
    got = await frames(ring, until="incident", last_event_id=None, domain=None, service="payroll")
    await pusher
    assert ": keepalive\n\n" in got
    assert kinds(got)[-1] == "incident"
    assert "id: b-4\n" in got[-1]  # old events were not replayed


def test_an_incident_reaches_the_domains_of_its_services() -> None:
    event = IncidentEvent(
        id="e",
        incident_id="i",
        action=IncidentAction.OPENED,
        state=IncidentState.OPEN,
        time=datetime(2026, 11, 30, tzinfo=UTC),
        correlation_domain="d",
        affected_services=["payroll", "ledger"],
        opened_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    domains = {"payroll": "hr", "ledger": "finance"}
    assert scope_of(event, domains.get) == ({"payroll", "ledger"}, {"hr", "finance"})


def test_the_key_in_a_stream_url_never_reaches_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/stream?domain=finance&key=il_secret", "1.1", 200),
        None,
    )
    assert RedactKeys().filter(record)
    assert "il_secret" not in record.getMessage()
    assert "/v1/stream?domain=finance&key=***" in record.getMessage()
