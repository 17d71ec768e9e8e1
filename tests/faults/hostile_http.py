"""The HTTP cases of the hostile-input tests: slow clients, a revoked key on a live stream, key
guessing, floods of reads, /metrics and /docs. Each raises AssertionError when the system does
not hold, and returns what it measured for the table."""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urlsplit

import asyncpg
import httpx

from impactline.runtime.keys import create_key, revoke_key
from impactline.runtime.system import RunningSystem
from tests.faults.hostile import HTTP_ENVIRONMENT, client

HEADER_TIMEOUT_S = float(HTTP_ENVIRONMENT["IMPACTLINE_HTTP_HEADER_TIMEOUT_S"])


async def _dribble(host: str, port: int, opened: list[float], closed: list[float]) -> None:
    """Open a connection and send a request's headers one byte a second until it is closed."""
    reader, writer = await asyncio.open_connection(host, port)
    opened.append(time.monotonic())
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 120
    try:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            if await _closed_within(reader, 1.0):
                break
    except ConnectionError:
        pass
    closed.append(time.monotonic())
    writer.close()


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            return await reader.read(1) == b""
    except TimeoutError:
        return False


async def slow_clients_are_dropped(system: RunningSystem) -> dict[str, float]:
    parts = urlsplit(system.api_url)
    opened: list[float] = []
    closed: list[float] = []
    started = time.monotonic()
    dribblers = [
        asyncio.create_task(_dribble(parts.hostname or "", parts.port or 80, opened, closed))
        for _ in range(50)
    ]
    async with asyncio.timeout(HEADER_TIMEOUT_S + 30):
        # Meanwhile, a normal client is served.
        async with client(system.api_url) as api:
            assert (await api.get("/healthz")).status_code == 200
        await asyncio.gather(*dribblers)
    longest = max(closed) - started
    assert len(closed) == 50 and longest < HEADER_TIMEOUT_S + 5, longest

    # A body that stops arriving: 408 once the body timeout passed.
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"PUT /v1/catalog HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {system.api_key}\r\n".encode()
        + b"Content-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    async with asyncio.timeout(HEADER_TIMEOUT_S + 30):
        status = await reader.readline()
    writer.close()
    assert status.startswith(b"HTTP/1.1 408"), status
    return {"headers_s": longest}


async def stream_ends_on_revoke(system: RunningSystem) -> float:
    conn = await asyncpg.connect(system.settings.require_database())
    try:
        record, key = await create_key(conn, ["read"], "faults stream")
    finally:
        await conn.close()
    async with (
        client(system.api_url, key) as api,
        api.stream("GET", "/v1/stream") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        async with asyncio.timeout(30):
            async for line in lines:
                if line.startswith("event: ready"):
                    break
        conn = await asyncpg.connect(system.settings.require_database())
        try:
            await revoke_key(conn, record.key_id)
        finally:
            await conn.close()
        revoked = time.monotonic()
        async with asyncio.timeout(30):
            async for line in lines:
                if line.startswith("event: revoked"):
                    return time.monotonic() - revoked
    raise AssertionError("the stream ended without a `revoked` event")


async def guessing_is_limited(system: RunningSystem) -> dict[str, int]:
    statuses: list[int] = []
    async with client(system.api_url) as api:
        for n in range(60):
            answer = await api.get("/v1/services", headers={"Authorization": f"Bearer il_guess{n}"})
            statuses.append(answer.status_code)
        # The valid key still works from the same address while guesses are refused.
        ok = await api.get("/v1/services", headers={"Authorization": f"Bearer {system.api_key}"})
    assert ok.status_code == 200, ok.text
    assert set(statuses) == {401, 429} and statuses[0] == 401 and statuses[-1] == 429, statuses
    burst = int(HTTP_ENVIRONMENT["IMPACTLINE_HTTP_BURST"])
    async with client(
        system.api_url, system.api_key, limits=httpx.Limits(max_connections=20)
    ) as api:
        reads = await asyncio.gather(*(api.get("/v1/services") for _ in range(burst + 100)))
    limited = [r for r in reads if r.status_code == 429]
    assert limited and all(r.headers.get("retry-after") for r in limited)
    assert all(r.status_code in (200, 429) for r in reads)
    return {"guesses_refused": statuses.count(429), "reads_limited": len(limited)}


async def metrics_need_a_key(system: RunningSystem) -> None:
    for base in (system.ingest_url, system.api_url):
        async with client(base) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401
            docs = await anonymous.get("/docs")
            assert docs.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
            assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
            for source in sources:
                assert (await anonymous.get(source)).status_code == 200, source
        async with client(base, system.api_key) as keyed:
            metrics = await keyed.get("/metrics")
            assert metrics.status_code == 200 and "impactline_task_up" in metrics.text
