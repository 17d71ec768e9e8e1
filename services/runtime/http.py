"""What every HTTP service shares: app construction, trace spans per request, problem errors,
the limits applied at the edge (see `http_limits`) and the API documentation page, served
from the process itself so that it works without Internet access."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impactline import __version__
from impactline.runtime.auth import AuthGuard
from impactline.runtime.http_limits import BodyReadTimeout, EdgeChecks, HttpLimits
from impactline.runtime.problems import Problem, install_problem_handlers, problem_response
from impactline.runtime.telemetry import context_from_headers, current_trace_headers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
DOCS_ASSETS = "/docs/assets"


def create_http_app(
    title: str,
    description: str,
    lifespan: Lifespan,
    tracer_name: str,
    limits: HttpLimits | None = None,
) -> FastAPI:
    limits = limits or HttpLimits()
    app = FastAPI(
        title=title,
        description=description,
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.http_limits = limits
    app.state.auth_guard = AuthGuard(limits.auth_failures_per_min)
    install_problem_handlers(app)
    _install_docs(app, title)

    @app.exception_handler(BodyReadTimeout)
    async def _slow_body(request: Request, exc: BodyReadTimeout) -> Response:
        problem = Problem(408, "Request timeout", str(exc), kind="timeout")
        response = problem_response(problem, request.url.path)
        response.headers["Connection"] = "close"
        return response

    app.add_middleware(TraceRequests, tracer=trace.get_tracer(tracer_name))
    app.add_middleware(EdgeChecks, body_timeout_s=limits.body_timeout_s)
    return app


class TraceRequests:
    """One server span per request, continuing the caller's trace when it sent one (so the
    trace starts at the real source); the answer carries the trace context back.

    Plain ASGI rather than `@app.middleware`: that wrapper turns an error raised while a route
    reads the body into an exception group that no handler matches (a 500)."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        name = f"{scope['method']} {scope['path']}"
        ctx = context_from_headers(headers)
        with self.tracer.start_as_current_span(name, context=ctx, kind=SpanKind.SERVER) as span:

            async def traced_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    extra = [
                        (k.encode("latin-1"), v.encode("latin-1"))
                        for k, v in current_trace_headers().items()
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            await self.app(scope, receive, traced_send)


def _install_docs(app: FastAPI, title: str) -> None:
    assets = Path(swagger_ui_bundle.swagger_ui_path)
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - documentation",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


async def noop_lifespan(_: FastAPI) -> AsyncIterator[None]:  # pragma: no cover - for typing
    yield
