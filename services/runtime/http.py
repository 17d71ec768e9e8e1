"""What every HTTP service shares: app construction, trace spans per request, problem errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from impactline import __version__
from impactline.runtime.problems import install_problem_handlers
from impactline.runtime.telemetry import context_from_headers, current_trace_headers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_http_app(title: str, description: str, lifespan: Lifespan, tracer_name: str) -> FastAPI:
    app = FastAPI(title=title, description=description, version=__version__, lifespan=lifespan)
    install_problem_handlers(app)
    tracer = trace.get_tracer(tracer_name)

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

    return app


async def noop_lifespan(_: FastAPI) -> AsyncIterator[None]:  # pragma: no cover - for typing
    yield
