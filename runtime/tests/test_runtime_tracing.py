"""One trace id from an HTTP request, through the outbox and Kafka, into the consuming handler."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchboard.contracts.envelope import Envelope
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.telemetry import setup_tracing
from switchboard.runtime.testing import TEST_REGISTRY, TEST_TOPIC, OrderPlaced, eventually, settings_for

pytestmark = pytest.mark.kafka


async def test_trace_crosses_http_outbox_kafka_handler(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing("tester", SimpleSpanProcessor(exporter))

    producer = ServiceRuntime(
        settings_for("producer", kafka_bootstrap, database_url, topic_prefix), registry=TEST_REGISTRY
    )
    consumer = ServiceRuntime(
        settings_for(
            "consumer", kafka_bootstrap, database_url.replace("test.db", "consumer.db"), topic_prefix
        ),
        registry=TEST_REGISTRY,
    )
    handled: list[Envelope[Any]] = []

    async def on_order(session: Any, envelope: Envelope[Any]) -> None:
        handled.append(envelope)

    consumer.subscribe(TEST_TOPIC, on_order)
    router = APIRouter()

    @router.post("/orders/{order_id}")
    async def place(order_id: str, request: Request) -> dict[str, str]:
        async with producer.transaction() as session:
            producer.emit(session, OrderPlaced(order_id=order_id, seq=1), key=order_id)
        return {"ok": order_id}

    app = producer.http_app(router)
    async with producer.running(), consumer.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/orders/o-9", headers={"x-correlation-id": "corr-9"})
        assert response.status_code == 200

        async def was_handled() -> bool:
            return bool(handled)

        await eventually(was_handled)
        await asyncio.sleep(0)  # let the consumer span end

    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    server = next(s for s in spans if s.kind == trace.SpanKind.SERVER and s.name.startswith("POST /orders"))
    consume = next(s for s in spans if s.name == "consume order.placed")
    assert server.context is not None
    assert consume.context is not None
    assert consume.kind == trace.SpanKind.CONSUMER
    assert consume.context.trace_id == server.context.trace_id
    # The consumer span descends from the request's server span (through FastAPI's endpoint span).
    ancestors = []
    parent = consume.parent
    while parent is not None and parent.span_id in by_id:
        ancestors.append(parent.span_id)
        parent = by_id[parent.span_id].parent
    assert server.context.span_id in ancestors
    # The correlation id travelled with the event too.
    assert handled[0].correlation_id == "corr-9"
