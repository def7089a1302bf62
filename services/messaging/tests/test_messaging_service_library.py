"""Standard responses, AI-enhanced compose (local and an OpenAI-compatible provider) and feature flags.

The provider is a tiny HTTP server on 127.0.0.1 started by the test: no external network.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.messaging.testing import Harness, actor, new_id, running

pytestmark = pytest.mark.kafka

ADMIN = actor("admin", "00000000-0000-4000-8000-000000000001")
SEED_DRAFT = "Your mortgage appointment has been scheduled for Jun 24, 2023, 1 pm"


@pytest.fixture
async def svc(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with running(kafka_bootstrap, database_url, topic_prefix, tmp_path) as harness:
        yield harness


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://switchboard.dev/errors/{slug}", body
    return body


async def test_library_categories_search_and_fill(svc: Harness) -> None:
    conversation, _, agent = await svc.live_chat()
    as_agent = actor("agent", agent)
    greetings = (
        await svc.http.post("/responses/categories", json={"name": "Greetings"}, headers=ADMIN)
    ).json()
    billing = (await svc.http.post("/responses/categories", json={"name": "Billing"}, headers=ADMIN)).json()
    _problem(
        await svc.http.post("/responses/categories", json={"name": "greetings"}, headers=ADMIN),
        409,
        "category-exists",
    )
    _problem(
        await svc.http.post("/responses/categories", json={"name": "Mine"}, headers=as_agent),
        403,
        "role-not-allowed",
    )

    async def template(
        category: str, shortcut: str, title: str, body: str, channels: list[str]
    ) -> httpx.Response:
        return await svc.http.post(
            "/responses/templates",
            json={
                "category_id": category,
                "shortcut": shortcut,
                "title": title,
                "body": body,
                "channels": channels,
            },
            headers=ADMIN,
        )

    hello = await template(
        greetings["id"],
        "/hello",
        "Hello",
        "Hi {{customer_name}}, I am {{ agent_name }} from {{queue}}.",
        ["chat"],
    )
    assert hello.status_code == 201, hello.text
    assert (
        await template(greetings["id"], "help", "Help offered", "How can I help?", ["chat", "email"])
    ).status_code == 201
    cycle = await template(billing["id"], "cycle", "Billing cycle", "Your bill is due monthly.", ["email"])
    _problem(await template(billing["id"], "hello", "Again", "Hi", ["chat"]), 409, "shortcut-taken")
    _problem(
        await template(billing["id"], "x", "X", "Hi {{first_name}}", ["chat"]), 422, "unknown-placeholder"
    )
    _problem(await template(billing["id"], "y", "Y", "Hi", []), 422, "validation-error")

    chat_counts = (
        await svc.http.get("/responses/categories", params={"channel": "chat"}, headers=as_agent)
    ).json()
    assert [(c["name"], c["count"]) for c in chat_counts["categories"]] == [("Billing", 0), ("Greetings", 2)]
    all_counts = (await svc.http.get("/responses/categories", headers=as_agent)).json()
    assert [(c["name"], c["count"]) for c in all_counts["categories"]] == [("Billing", 1), ("Greetings", 2)]
    found = (
        await svc.http.get("/responses", params={"q": "/he", "channel": "chat"}, headers=as_agent)
    ).json()
    assert [t["shortcut"] for t in found["templates"]] == ["hello", "help"]
    everything = (await svc.http.get("/responses", params={"q": "/"}, headers=as_agent)).json()
    assert [t["shortcut"] for t in everything["templates"]] == ["cycle", "hello", "help"]
    by_word = (
        await svc.http.get("/responses", params={"q": "cyc", "category": "billing"}, headers=as_agent)
    ).json()
    assert [t["title"] for t in by_word["templates"]] == ["Billing cycle"]
    _problem(await svc.http.get("/responses", headers=actor("customer", new_id())), 403, "role-not-allowed")

    filled = await svc.http.post(
        f"/responses/templates/{hello.json()['id']}/fill",
        json={"conversation_id": conversation},
        headers=as_agent,
    )
    assert filled.json() == {
        "template_id": hello.json()["id"],
        "text": "Hi Dana, I am Alex from Mortgages.",
        "missing": [],
    }
    _problem(
        await svc.http.post(
            f"/responses/templates/{hello.json()['id']}/fill",
            json={"conversation_id": conversation},
            headers=actor("agent", new_id()),
        ),
        403,
        "not-assigned-agent",
    )
    # Filling suggests text; nothing was sent.
    assert (await svc.http.get(f"/conversations/{conversation}/messages", headers=as_agent)).json()[
        "messages"
    ] == []

    _problem(
        await svc.http.delete(f"/responses/categories/{billing['id']}", headers=ADMIN),
        409,
        "category-not-empty",
    )
    moved = await svc.http.put(
        f"/responses/templates/{cycle.json()['id']}",
        json={
            "category_id": greetings["id"],
            "shortcut": "cycle",
            "title": "Cycle",
            "body": "Monthly.",
            "channels": ["chat"],
        },
        headers=ADMIN,
    )
    assert moved.json()["category"] == "Greetings"
    assert (await svc.http.delete(f"/responses/categories/{billing['id']}", headers=ADMIN)).status_code == 204
    assert (
        await svc.http.delete(f"/responses/templates/{cycle.json()['id']}", headers=ADMIN)
    ).status_code == 204
    renamed = await svc.http.patch(
        f"/responses/categories/{greetings['id']}", json={"name": "Openers"}, headers=ADMIN
    )
    assert renamed.json()["name"] == "Openers"
    final = (await svc.http.get("/responses/categories", headers=as_agent)).json()["categories"]
    assert [(c["name"], c["count"]) for c in final] == [("Openers", 2)]


async def test_ai_compose_is_behind_the_tenant_flag_and_only_suggests(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_agent = actor("agent", agent)
    _problem(
        await svc.http.post("/compose/friendlier", json={"text": SEED_DRAFT}, headers=as_agent),
        403,
        "feature-disabled",
    )
    assert (await svc.http.get("/admin/features", headers=as_agent)).json()["features"] == {
        "ai_compose": False
    }
    _problem(
        await svc.http.put("/admin/features/ai_compose", json={"enabled": True}, headers=as_agent),
        403,
        "role-not-allowed",
    )
    _problem(
        await svc.http.put("/admin/features/teleport", json={"enabled": True}, headers=ADMIN),
        404,
        "unknown-feature",
    )
    assert (
        await svc.http.put("/admin/features/ai_compose", json={"enabled": True}, headers=ADMIN)
    ).status_code == 200
    # Per tenant: another tenant still has it off.
    _problem(
        await svc.http.post(
            "/compose/formal", json={"text": SEED_DRAFT}, headers={**as_agent, "X-Tenant-Id": "acme"}
        ),
        403,
        "feature-disabled",
    )
    friendlier = (
        await svc.http.post("/compose/friendlier", json={"text": SEED_DRAFT}, headers=as_agent)
    ).json()
    assert friendlier["suggestion"].startswith("Great news!") and friendlier["source"] == "local"
    formal = (await svc.http.post("/compose/formal", json={"text": SEED_DRAFT}, headers=as_agent)).json()
    assert formal["suggestion"].startswith("We would like to inform you that")
    expanded = (await svc.http.post("/compose/expand", json={"text": SEED_DRAFT}, headers=as_agent)).json()
    assert "June 24, 2023" in expanded["suggestion"]
    _problem(
        await svc.http.post("/compose/shout", json={"text": SEED_DRAFT}, headers=as_agent),
        422,
        "validation-error",
    )
    _problem(
        await svc.http.post("/compose/formal", json={"text": "  "}, headers=as_agent), 422, "message-empty"
    )
    _problem(
        await svc.http.post(
            "/compose/formal", json={"text": SEED_DRAFT}, headers=actor("customer", customer)
        ),
        403,
        "role-not-allowed",
    )
    assert (await svc.http.get(f"/conversations/{conversation}/messages", headers=as_agent)).json()[
        "messages"
    ] == []


@dataclass
class FakeProvider:
    """An OpenAI-compatible endpoint: answers per ``mode`` and records what it was sent."""

    mode: str = "ok"
    seen: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        request = json.loads(await reader.readexactly(length))
        self.seen.append({"path": head.split(b" ")[1].decode(), "auth": b"Bearer sk-test" in head, **request})
        if self.mode == "slow":
            # Answers only after the client's timeout has fired: the provider stalls until it is closed.
            await asyncio.Event().wait()
        status, body = {
            "ok": (
                200,
                {"choices": [{"message": {"role": "assistant", "content": "Lovely news: it is booked!"}}]},
            ),
            "error": (500, {"error": {"message": "overloaded"}}),
            "garbage": (200, {"choices": []}),
            "slow": (200, {"choices": [{"message": {"content": "too late"}}]}),
        }[self.mode]
        payload = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + payload
        )
        try:
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()


async def test_openai_compatible_provider_and_its_failures(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path, provider: FakeProvider
) -> None:
    async with running(
        kafka_bootstrap,
        database_url,
        topic_prefix,
        tmp_path,
        ai_base_url=f"http://127.0.0.1:{provider.port}/v1",
        ai_api_key="sk-test",
        ai_model="tiny-model",
        ai_timeout_seconds=0.5,
        ai_compose_default=True,
    ) as svc:
        as_agent = actor("agent", new_id())
        draft = "I have noted your card 4111 1111 1111 1111 and booked it"
        ok = await svc.http.post("/compose/friendlier", json={"text": draft}, headers=as_agent)
        assert ok.json() == {
            "mode": "friendlier",
            "suggestion": "Lovely news: it is booked!",
            "source": "tiny-model",
        }
        sent = provider.seen[-1]
        assert (sent["path"], sent["auth"], sent["model"]) == ("/v1/chat/completions", True, "tiny-model")
        assert "4111 1111 1111 1111" not in json.dumps(sent, ensure_ascii=False)  # masked before it left
        assert "•••• •••• •••• 1111" in sent["messages"][1]["content"]
        provider.mode = "error"
        _problem(
            await svc.http.post("/compose/formal", json={"text": draft}, headers=as_agent),
            502,
            "ai-provider-failed",
        )
        provider.mode = "garbage"
        _problem(
            await svc.http.post("/compose/expand", json={"text": draft}, headers=as_agent),
            502,
            "ai-provider-failed",
        )
        provider.mode = "slow"
        _problem(
            await svc.http.post("/compose/expand", json={"text": draft}, headers=as_agent),
            504,
            "ai-provider-timeout",
        )
    async with running(
        kafka_bootstrap,
        database_url,
        topic_prefix,
        tmp_path,
        ai_base_url="http://127.0.0.1:9/v1",  # nothing listens on the discard port
        ai_compose_default=True,
    ) as svc:
        _problem(
            await svc.http.post("/compose/formal", json={"text": "hello"}, headers=actor("agent", new_id())),
            502,
            "ai-provider-failed",
        )
