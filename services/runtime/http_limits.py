"""What the HTTP services refuse before any route runs, and how long they wait for a client.

- a request line, header block or body that arrives too slowly: a connection must deliver its
  headers within `header_timeout_s` of opening (or of the previous response) and each part of a
  body within `body_timeout_s`, so slow clients cannot hold connections open (slowloris);
- control characters in the path or query string (`%00` and friends): no id contains one, and
  the database cannot store U+0000;
- too many failed authentications from one client address, so guessing keys is slow and costs
  no database lookup once limited.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from impactline.runtime.problems import Problem, problem_response


class HttpLimits(BaseSettings):
    """Knobs shared by ingest and the API (environment: IMPACTLINE_HTTP_*)."""

    model_config = SettingsConfigDict(env_prefix="IMPACTLINE_HTTP_", extra="ignore")

    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a connection has to send a request's headers."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds a client may take to send each part of a body."
    )
    rate_per_s: float = Field(
        default=50.0, gt=0, description="Query API requests per second per API key (average)."
    )
    burst: int = Field(default=200, ge=1, description="Query API requests a key may send at once.")
    auth_failures_per_min: float = Field(
        default=30.0,
        gt=0,
        description="Failed authentications a client address may make per minute (after a "
        "burst of as many); more get 429 without the key being looked up.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without an API key (for a scraper on a private network); "
        "by default it needs a key with the `read` scope, sent as a bearer token.",
    )
    stream_recheck_s: float = Field(
        default=5.0,
        gt=0,
        description="How often an open live stream checks that its key is still valid.",
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BodyReadTimeout(Exception):
    """The client stopped sending the body it announced."""


class EdgeChecks:
    """ASGI middleware: control characters in the target are refused (400), a stalled body
    raises BodyReadTimeout inside the route (answered 408 by the problem handlers)."""

    def __init__(self, app: ASGIApp, body_timeout_s: float = 30.0) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = scope.get("path", "") + "?" + unquote(scope.get("query_string", b"").decode())
        found = _CONTROL.search(target)
        if found is not None:
            problem = Problem(
                400,
                "Invalid request target",
                f"the path or query holds the control character U+{ord(found.group()):04X}; "
                "no id or parameter contains one",
                kind="validation",
            )
            await problem_response(problem, scope.get("path"))(scope, receive, send)
            return
        await self.app(scope, self._timed(receive), send)

    def _timed(self, receive: Receive) -> Receive:
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:
                # After the body only a disconnect can come; streaming answers wait for it.
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeout(
                    f"no part of the request body arrived within {self.body_timeout_s:g} s"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        return timed_receive


def header_timeout_protocol(timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing a connection whose request headers do not arrive
    within `timeout_s`: from the connection's start, and from each response on a kept-alive
    connection to the end of the next request's headers."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # A pipelined request already sent its headers: no deadline for it.
            pipelined = bool(self.pipeline)
            super().on_response_complete()
            if not pipelined and not self.transport.is_closing():
                self._arm()

    return HeaderTimeoutProtocol
