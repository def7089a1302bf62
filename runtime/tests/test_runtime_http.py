"""The HTTP edge: problem+json for every error, health, readiness, body limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from switchboard.runtime.errors import Problem
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import TEST_REGISTRY, settings_for

pytestmark = pytest.mark.kafka


class Order(BaseModel):
    order_id: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=1, le=100)


router = APIRouter()


@router.post("/orders")
async def place(order: Order) -> dict[str, str]:
    if order.order_id == "blocked":
        raise Problem(409, "logout-blocked", detail="2 active conversations", open=["i-1", "i-2"])
    if order.order_id == "boom":
        raise RuntimeError("secret internals")
    return {"placed": order.order_id}


@pytest.fixture
async def client(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = ServiceRuntime(
        settings_for("tester", kafka_bootstrap, database_url, topic_prefix, max_body_bytes=2048),
        registry=TEST_REGISTRY,
    )
    app = runtime.http_app(router)
    async with runtime.running():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://switchboard.dev/errors/{slug}"
    assert body["status"] == status
    assert body["title"]
    return dict(body)


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "tester"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}


async def test_domain_refusal_is_a_problem_with_its_stable_type(client: httpx.AsyncClient) -> None:
    body = _problem(
        await client.post("/orders", json={"order_id": "blocked", "quantity": 1}), 409, "logout-blocked"
    )
    assert body["detail"] == "2 active conversations"
    assert body["open"] == ["i-1", "i-2"]
    assert body["instance"] == "/orders"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"order_id": "a", "quantity": "many"}, "quantity"),
        ({"order_id": "", "quantity": 1}, "order_id"),
        ({"quantity": 1}, "order_id"),
        ({"order_id": "a" * 50, "quantity": 1}, "order_id"),
        ([1, 2], "body"),
    ],
)
async def test_wrong_types_name_the_field(client: httpx.AsyncClient, payload: object, field: str) -> None:
    body = _problem(await client.post("/orders", json=payload), 422, "validation-error")
    assert field in str(body["detail"])


async def test_broken_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=b'{"order_id": ', headers={"content-type": "application/json"}
    )
    _problem(response, 422, "validation-error")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    _problem(await client.get("/nothing-here"), 404, "not-found")
    _problem(await client.delete("/orders"), 405, "method-not-allowed")


async def test_oversized_bodies_are_refused_declared_or_streamed(client: httpx.AsyncClient) -> None:
    big = b'{"order_id": "' + b"x" * 5000 + b'", "quantity": 1}'
    _problem(
        await client.post("/orders", content=big, headers={"content-type": "application/json"}),
        413,
        "payload-too-large",
    )

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await client.post("/orders", content=chunks(), headers={"content-type": "application/json"})
    _problem(response, 413, "payload-too-large")


async def test_unexpected_error_is_a_500_problem_without_internals(client: httpx.AsyncClient) -> None:
    body = _problem(
        await client.post("/orders", json={"order_id": "boom", "quantity": 1}), 500, "internal-error"
    )
    assert "secret internals" not in str(body)
    assert "Traceback" not in str(body)
    assert body["incident"]


async def test_correlation_id_is_echoed_or_made_up(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"x-correlation-id": "abc-123"})
    assert echoed.headers["x-correlation-id"] == "abc-123"
    hostile = await client.get("/healthz", headers={"x-correlation-id": b"bad\r<script>"})
    assert hostile.headers["x-correlation-id"] != "bad\r<script>"
    assert len(hostile.headers["x-correlation-id"]) == 32
