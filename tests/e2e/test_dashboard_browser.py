"""The dashboard in a real browser during the demo scenario: Debian's headless Chromium, driven
over the Chrome DevTools Protocol, watches the month-end slowdown of `db-gl-01` arrive live,
acknowledges the incident from the page, and leaves a screenshot in the test's output folder.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets

from impactline.runtime.system import RunningSystem

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
LONDON = ZoneInfo("Europe/London")
MONTH_END = "month-end-close \u00d73"  # as the page writes a calendar weight
WIDTH, HEIGHT = 1440, 1150


class CdpError(RuntimeError):
    pass


class Browser:
    """A small Chrome DevTools Protocol client: one page, commands answered by id."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.session: str | None = None
        self.errors: list[str] = []
        self._ids = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message and message["id"] in self._waiting:
                future = self._waiting.pop(message["id"])
                if "error" in message:
                    future.set_exception(CdpError(str(message["error"])))
                else:
                    future.set_result(message.get("result", {}))
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.errors.append(json.dumps(details.get("exception", details))[:500])

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._ids += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._ids] = future
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        await self.socket.send(json.dumps(message))
        async with asyncio.timeout(30):
            return await future

    async def open(self, url: str) -> None:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        await self.send("Runtime.enable")
        await self.send("Page.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, what: str, timeout_s: float = 60.0) -> Any:
        """Evaluate `expression` until it is truthy; fail naming `what` at the deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = await self.evaluate(expression)
            except CdpError as failure:  # the page may still be loading
                value, last = None, failure
            else:
                last = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the page did not show {what} within {timeout_s:g}s (last error: {last})"
                )
            await asyncio.sleep(0.25)

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.socket.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser test needs Debian's Chromium at {CHROMIUM}, which is missing: run "
            "`make browser` (as root: apt-get update && apt-get install -y chromium)"
        )
    profile = tmp_path / "chromium-profile"
    log_path = tmp_path / "chromium.log"
    process = await asyncio.create_subprocess_exec(
        *[
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log_path.open("wb"),
    )
    try:
        # Chromium writes the port it chose and the browser's websocket path to this file.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if process.returncode is not None or time.monotonic() > deadline:
                log = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"Chromium did not start (exit {process.returncode}):\n{log}")
            await asyncio.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        socket = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=2**26)
        client = Browser(socket)
        try:
            yield client
        finally:
            await client.close()
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def post(system: RunningSystem, ci: str, state: str, at: datetime) -> None:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    body = {"ci_id": ci, "state": state, "time": at.isoformat(), "summary": "p95 latency 4.2 s"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text


async def until_resolved(system: RunningSystem, timeout_s: float = 60.0) -> None:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=system.api_url, headers=headers) as api:
        while True:
            found = (await api.get("/v1/incidents", params={"state": "resolved"})).json()
            if found["items"]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the mid-month incident was not resolved in {timeout_s}s")
            await asyncio.sleep(0.3)


P1_CARD = "document.querySelector('article.incident[data-priority=\"P1\"]')"


async def test_the_board_shows_the_month_end_slowdown_live_and_acknowledges_it(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    # Mid-month first, so the chart and the value stream have the ordinary case to compare.
    mid_month = datetime(2026, 11, 12, 10, 0, tzinfo=LONDON)
    await post(system, "db-gl-01", "degraded", mid_month)
    await post(system, "db-gl-01", "ok", mid_month + timedelta(minutes=30))
    # As in the demo, the month-end failure comes after the mid-month incident was resolved;
    # sooner, it would join that incident instead of opening its own.
    await until_resolved(system)

    await browser.open(f"{system.api_url}/")
    await browser.until("!document.getElementById('key-panel').hidden", "the key form")
    await browser.evaluate(
        f"document.getElementById('key-input').value = {json.dumps(system.api_key)};"
        "document.querySelector('#key-form button[type=submit]').click(); true"
    )
    await browser.until("document.getElementById('live').textContent === 'live'", "live")
    await browser.until(
        "!!document.querySelector('[data-service=\"financial-close\"]')", "the service board"
    )
    await browser.evaluate("window.sameDocument = true")

    month_end = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    await post(system, "db-gl-01", "degraded", month_end)

    card = await browser.until(
        f"{P1_CARD} && {P1_CARD}.innerText",
        "a P1 incident card",
    )
    assert "db-gl-01" in card
    assert "HIGH VISIBILITY" in card.upper()
    assert MONTH_END in card.lower()  # the flag is set in capitals by the style sheet
    assert "Financial Close" in card
    tile = await browser.until(
        "(() => { const t = document.querySelector('[data-service=\"financial-close\"]');"
        " return t && t.dataset.state !== 'ok' && t.innerText; })()",
        "Financial Close out of ok",
    )
    assert MONTH_END in tile
    assert await browser.evaluate("window.sameDocument === true"), "the page was reloaded"

    incident_id = await browser.evaluate(f"{P1_CARD}.dataset.incident")
    await browser.evaluate(f"{P1_CARD}.querySelector('button[data-action=\"ack\"]').click(); true")
    await browser.until(
        f"document.querySelector('article.incident[data-incident=\"{incident_id}\"]')"
        "?.dataset.state === 'acknowledged'",
        "the incident acknowledged",
    )
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.api_url, headers=headers) as api:
        stored = (await api.get(f"/v1/incidents/{incident_id}")).json()
    assert (stored["state"], stored["priority"]) == ("acknowledged", "P1")

    # The chart and value stream reload shortly after the events; wait for them to show both.
    await browser.until(
        "document.querySelectorAll('#chart rect.weighted').length > 0", "weighted impact bars"
    )
    flow = await browser.until(
        "(() => { const t = document.getElementById('value-stream').innerText;"
        " return /2 incidents/.test(t) && t; })()",
        "both incidents in the value stream",
    )
    assert "fell in weighted calendar periods" in flow
    shot = tmp_path / "dashboard.png"
    await browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    print(f"dashboard screenshot: {shot}")
    assert browser.errors == [], f"script errors on the page: {browser.errors}"
