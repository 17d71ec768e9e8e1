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
    tracer = trace.get_tracer(tracer_name)

    @app.exception_handler(BodyReadTimeout)
    async def _slow_body(request: Request, exc: BodyReadTimeout) -> Response:
        problem = Problem(408, "Request timeout", str(exc), kind="timeout")
        response = problem_response(problem, request.url.path)
        response.headers["Connection"] = "close"
        return response

    @app.middleware("http")
    async def trace_requests(request: Request, call_next: Callable) -> Response:
        # Continue the caller's trace when it sent one, so the trace starts at the real source.
        ctx = context_from_headers(dict(request.headers))
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, context=ctx, kind=SpanKind.SERVER) as span:
            response = await call_next(request)
            span.set_attribute("http.response.status_code", response.status_code)
            response.headers.update(current_trace_headers())
            return response

    app.add_middleware(EdgeChecks, body_timeout_s=limits.body_timeout_s)
    return app


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
