"""Local stand-ins for the vendors notify delivers to, on 127.0.0.1: each checks every request
against the vendor's published format (tests/vendor_formats.py), keeps it, and answers the way
the vendor does. A receiver can be told to fail its next N requests or to hang.

    async with Receivers.running() as receivers:
        pagerduty = receivers.add("pd", "pagerduty")
        ...  # point a destination at pagerduty.url
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from impactline.core.delivery.signing import SignatureError, verify
from impactline.runtime.clock import SYSTEM
from tests import vendor_formats as formats
from tests.helpers import wait_for

WEBHOOK_SECRET = "receiver-signing-secret"


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return formats.parse(self.body)


class Receiver:
    def __init__(self, name: str, kind: str, base: str) -> None:
        self.name = name
        self.kind = kind
        self.url = f"{base}/{name}"
        self.requests: list[Received] = []
        self.failures_left = 0
        self.failure_status = 503
        self.hanging = False
        self.released = asyncio.Event()
        self.records: dict[str, dict[str, Any]] = {}  # ServiceNow records / Jira issues

    def fail_next(self, count: int, status: int = 503) -> None:
        self.failures_left, self.failure_status = count, status

    def hang(self) -> None:
        self.hanging = True

    @property
    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx."""
        return [r for r in self.requests if 200 <= r.answered < 300]

    @property
    def violations(self) -> list[str]:
        return [f"{r.method} {r.path}: {v}" for r in self.requests for v in r.violations]

    async def handle(self, request: Request, rest: str) -> Response:
        body = await request.body()
        received = Received(
            request.method,
            "/" + rest,
            request.url.query,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            time.monotonic(),
        )
        self.requests.append(received)
        if self.hanging:
            await self.released.wait()  # until the test ends
            received.answered = 504
            return PlainTextResponse("gave up", status_code=504)
        if self.failures_left > 0:
            self.failures_left -= 1
            received.answered = self.failure_status
            return PlainTextResponse("unavailable", status_code=self.failure_status)
        response = self._answer(received)
        received.answered = response.status_code
        return response

    def _refuse(self, received: Received, problems: list[str]) -> Response:
        received.violations += problems
        return JSONResponse({"errors": problems}, status_code=400)

    def _answer(self, r: Received) -> Response:
        handler = getattr(self, f"_{self.kind}")
        return handler(r)

    # -- one answer per vendor ------------------------------------------------------------------

    def _pagerduty(self, r: Received) -> Response:
        problems = formats.violations(formats.PAGERDUTY_EVENT, r.json)
        if r.path != "/v2/enqueue" or r.method != "POST":
            problems.append(f"expected POST /v2/enqueue, got {r.method} {r.path}")
        if problems:
            return self._refuse(r, problems)
        body = {"status": "success", "message": "Event processed", "dedup_key": r.json["dedup_key"]}
        return JSONResponse(body, status_code=202)

    def _opsgenie(self, r: Received) -> Response:
        if not r.headers.get("authorization", "").startswith("GenieKey "):
            return self._refuse(r, ["Authorization: expected GenieKey <key>"])
        if r.path == "/v2/alerts":
            problems = formats.violations(formats.OPSGENIE_CREATE, r.json)
        elif re.fullmatch(r"/v2/alerts/[^/]+/(acknowledge|close)", r.path):
            problems = formats.violations(formats.OPSGENIE_ACTION, r.json)
            if parse_qs(r.query).get("identifierType") != ["alias"]:
                problems.append("identifierType: expected alias")
        else:
            problems = [f"unknown path {r.path}"]
        if problems:
            return self._refuse(r, problems)
        body = {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())}
        return JSONResponse(body, status_code=202)

    def _slack(self, r: Received) -> Response:
        problems = formats.violations(formats.SLACK_WEBHOOK_MESSAGE, r.json)
        return self._refuse(r, problems) if problems else PlainTextResponse("ok")

    def _slack_api(self, r: Received) -> Response:
        if not r.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"ok": False, "error": "not_authed"})
        schema = {
            "/chat.postMessage": formats.SLACK_POST_MESSAGE,
            "/chat.update": formats.SLACK_UPDATE,
        }
        problems = formats.violations(schema[r.path], r.json) if r.path in schema else ["unknown"]
        if problems:
            r.violations += problems
            return JSONResponse({"ok": False, "error": "invalid_blocks"})
        body = r.json
        ts = body.get("ts") or f"{1_700_000_000 + len(self.requests)}.000100"
        return JSONResponse({"ok": True, "channel": body["channel"], "ts": ts, "message": {}})

    def _teams(self, r: Received) -> Response:
        problems = formats.violations(formats.TEAMS_MESSAGE, r.json)
        problems += formats.teams_size_violations(r.body)
        return self._refuse(r, problems) if problems else Response(status_code=202)

    def _servicenow(self, r: Received) -> Response:
        if not r.headers.get("authorization", "").startswith(("Basic ", "Bearer ")):
            return JSONResponse({"error": {"message": "User Not Authenticated"}}, status_code=401)
        table = "/api/now/table/incident"
        if r.method == "GET" and r.path == table:
            query = parse_qs(r.query).get("sysparm_query", [""])[0]
            wanted = query.removeprefix("correlation_id=")
            found = [rec for rec in self.records.values() if rec["correlation_id"] == wanted]
            return JSONResponse({"result": found[:1]})
        if r.method == "POST" and r.path == table:
            problems = formats.violations(formats.SERVICENOW_CREATE, r.json)
            if problems:
                return self._refuse(r, problems)
            sys_id = uuid.uuid4().hex
            record = {**r.json, "sys_id": sys_id, "number": f"INC{10001 + len(self.records):07d}"}
            record.setdefault("state", "1")
            self.records[sys_id] = record
            return JSONResponse({"result": record}, status_code=201)
        match = re.fullmatch(rf"{table}/(\w+)", r.path)
        if r.method == "PATCH" and match:
            if match.group(1) not in self.records:
                return JSONResponse({"error": {"message": "No Record found"}}, status_code=404)
            problems = formats.violations(formats.SERVICENOW_PATCH, r.json)
            if problems:
                return self._refuse(r, problems)
            record = self.records[match.group(1)]
            record.update({k: v for k, v in r.json.items() if k != "work_notes"})
            record.setdefault("notes", []).append(r.json.get("work_notes", ""))
            return JSONResponse({"result": record})
        return self._refuse(r, [f"unknown {r.method} {r.path}"])

    def _jira(self, r: Received) -> Response:
        api = "/rest/api/3"
        if r.method == "GET" and r.path == f"{api}/search/jql":
            jql = parse_qs(r.query).get("jql", [""])[0]
            label = re.search(r'labels = "([^"]+)"', jql)
            found = [
                {"id": i["id"], "key": key}
                for key, i in self.records.items()
                if label and label.group(1) in i["fields"]["labels"]
            ]
            return JSONResponse({"issues": found[:1], "isLast": True})
        if r.method == "POST" and r.path == f"{api}/issue":
            problems = formats.violations(formats.JIRA_CREATE, r.json)
            if problems:
                return self._refuse(r, problems)
            key = f"OPS-{len(self.records) + 1}"
            self.records[key] = {"id": str(10000 + len(self.records)), **r.json, "comments": []}
            body = {
                "id": self.records[key]["id"],
                "key": key,
                "self": f"{self.url}{api}/issue/{key}",
            }
            return JSONResponse(body, status_code=201)
        match = re.fullmatch(rf"{api}/issue/([A-Z]+-\d+)(/comment|/transitions)?", r.path)
        if not match or match.group(1) not in self.records:
            return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
        issue, tail = self.records[match.group(1)], match.group(2)
        schema = {None: formats.JIRA_EDIT, "/comment": formats.JIRA_COMMENT}.get(
            tail, formats.JIRA_TRANSITION
        )
        problems = formats.violations(schema, r.json)
        if problems:
            return self._refuse(r, problems)
        issue["comments"].append(r.json)
        if tail == "/transitions":
            issue["status"] = "done"
        return (
            JSONResponse({}, status_code=201) if tail == "/comment" else Response(status_code=204)
        )

    def _webhook(self, r: Received) -> Response:
        try:
            now = int(SYSTEM.now().timestamp())
            verify([WEBHOOK_SECRET], r.headers.get("impactline-signature"), r.body, now)
        except SignatureError as exc:
            return self._refuse(r, [f"signature: {exc}"])
        problems = formats.violations(formats.CLOUDEVENT, r.json)
        return self._refuse(r, problems) if problems else Response(status_code=200)


class Receivers:
    """A local HTTP server holding named receivers (`/<name>/...`)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.receivers: dict[str, Receiver] = {}

    def add(self, name: str, kind: str) -> Receiver:
        receiver = Receiver(name, kind, self.base)
        self.receivers[name] = receiver
        return receiver

    async def _dispatch(self, request: Request) -> Response:
        # The raw path: an escaped `/` inside an identifier (an Opsgenie alias) stays escaped.
        raw = request.scope.get("raw_path", b"").decode().lstrip("/")
        name, _, rest = raw.partition("/")
        receiver = self.receivers.get(name)
        if receiver is None:
            return PlainTextResponse(f"no receiver {name}", status_code=404)
        return await receiver.handle(request, rest)

    @property
    def violations(self) -> list[str]:
        return [f"{n}: {v}" for n, r in self.receivers.items() for v in r.violations]

    @classmethod
    @asynccontextmanager
    async def running(cls) -> AsyncIterator[Receivers]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        receivers = cls(port)
        methods = ["GET", "POST", "PUT", "PATCH"]
        app = Starlette(routes=[Route("/{path:path}", receivers._dispatch, methods=methods)])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            await wait_for(lambda: server.started or task.done(), timeout=30, message="receivers")
            yield receivers
        finally:
            for receiver in receivers.receivers.values():
                receiver.released.set()
            server.should_exit = True
            await asyncio.wait_for(task, 30)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def pagerduty_signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()
