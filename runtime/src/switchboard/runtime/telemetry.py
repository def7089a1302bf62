"""OpenTelemetry tracing across HTTP → outbox → Kafka → handler.

The trace context is written into the outbox row with the event (W3C ``traceparent``), published as
Kafka headers, and restored by the consumer, so one trace id follows a command through every service.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

TRACER_NAME = "switchboard"


def setup_tracing(service: str, *processors: SpanProcessor) -> None:
    """Install a tracer provider unless the process already has one (tests install their own)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        for processor in processors:
            current.add_span_processor(processor)
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"switchboard-{service}"}))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(headers))


__all__ = ["SpanExporter", "extract_context", "inject_headers", "setup_tracing", "tracer"]
