"""OpenTelemetry set-up and W3C trace-context propagation over Kafka headers.

A real SDK tracer provider is always installed, even when nothing is exported, so every span has
a valid trace id that can be propagated and recorded next to the events it produced.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

log = logging.getLogger(__name__)
EXPORTERS = ("none", "console", "otlp")


def setup_tracing(service_name: str, exporter: str = "none") -> trace.Tracer:
    """Install a tracer provider for this process and return its tracer.

    `exporter` is `none`, `console` or `otlp` (the OTLP/HTTP endpoint comes from the standard
    OTEL_EXPORTER_OTLP_* variables).
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown trace exporter {exporter!r}; expected one of {EXPORTERS}")
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    return trace.get_tracer(f"impactline.{service_name}")


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    """The trace context carried by a message's `traceparent` (and `tracestate`) headers."""
    return extract(dict(headers))


def current_trace_headers() -> dict[str, str]:
    """`traceparent`/`tracestate` for the span that is current now."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id inside a W3C traceparent value (`00-<trace id>-<span id>-<flags>`)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
