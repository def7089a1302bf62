"""Fixtures for the routing service tests: one running routing service per database per module.

Starting a service costs a consumer-group join per subscribed topic (seconds each on a real broker),
so the scenario tests share one service per database and isolate themselves by entity: every test
creates its own queues, agents and interactions (fresh UUIDs) and sets the tenant-wide agent
settings it needs before it starts. Tests that restart a service or run two replicas build their own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.engine import URL

from switchboard.contracts import REGISTRY, ROUTING_AGENTS, ROUTING_INTERACTIONS
from switchboard.contracts.envelope import Envelope, make_envelope
from switchboard.contracts.messaging import BotTurn, ChatMessageSent, ConversationStarted, SenderRole
from switchboard.routing.api import build_api
from switchboard.routing.app import create_runtime, routing_of
from switchboard.routing.store import Routing
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import eventually, read_topic, settings_for

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC

# Fast, quiet defaults; each test states what it changes.
BASE_SETTINGS: dict[str, Any] = {
    "login_prep_seconds": 0,
    "offer_timeout_seconds": 30,
    "reply_timeout_seconds": None,
    "inactivity_threshold_seconds": 120,
    "snooze_presets_seconds": [300, 900],
    "custom_snooze": True,
    "snooze_max_seconds": 86400,
    "transfer_destinations": "both",
    "enforce_skill_match": False,
    "skill_modification": "transfer",
    "external_transfer": False,
}


def new_id() -> str:
    return str(uuid.uuid4())


class Service:
    """A running routing service and the moves a test makes against it."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        http: httpx.AsyncClient,
        clock: ManualClock,
        bootstrap: str,
        prefix: str,
    ) -> None:
        self.runtime = runtime
        self.http = http
        self.clock = clock
        self.bootstrap = bootstrap
        self.prefix = prefix
        self._producer: AIOKafkaProducer | None = None

    @property
    def routing(self) -> Routing:
        return routing_of(self.runtime)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    # ---------------------------------------------------------------- configuration

    async def settings(self, **overrides: Any) -> None:
        response = await self.http.put("/admin/settings", json={**BASE_SETTINGS, **overrides})
        assert response.status_code == 200, response.text

    async def skill(self, name: str) -> None:
        response = await self.http.put(f"/admin/skills/{name}", json={})
        assert response.status_code == 200, response.text

    async def queue(self, name: str = "Sales", *, channels: list[str] | None = None, **spec: Any) -> str:
        queue_id = new_id()
        body = {"name": name, "channels": channels or ["chat", "voice", "email", "voicemail"], **spec}
        response = await self.http.put(f"/admin/queues/{queue_id}", json=body)
        assert response.status_code == 200, response.text
        return queue_id

    async def agent(self, queues: list[str], name: str = "Ana", **spec: Any) -> str:
        agent_id = new_id()
        response = await self.http.put(
            f"/admin/agents/{agent_id}", json={"name": name, "queues": queues, **spec}
        )
        assert response.status_code == 200, response.text
        return agent_id

    async def available(self, agent_id: str) -> dict[str, Any]:
        """Log in (login prep off: straight to the Away prompt) and answer Mark as Available."""
        response = await self.http.post(f"/agents/{agent_id}/login")
        assert response.status_code == 200, response.text
        body = await self.ok("post", f"/agents/{agent_id}/mark-available")
        assert body["status"] == "available"
        return body

    async def ok(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.http.request(method.upper(), url, **kwargs)
        assert response.status_code in (200, 204), f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.status_code == 200 else None

    # ---------------------------------------------------------------- events in

    async def publish(self, topic: str, payload: BaseModel, key: str) -> Envelope[Any]:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._producer.start()
        spec = REGISTRY.event_for(type(payload))
        envelope = make_envelope(
            payload,
            type=spec.type,
            version=spec.version,
            source="test",
            key=key,
            occurred_at=self.clock.now(),
        )
        await self._producer.send_and_wait(self.prefix + topic, envelope.to_bytes(), key=key.encode())
        return envelope

    async def start_chat(
        self,
        queue_id: str,
        *,
        interaction_id: str | None = None,
        intent: str | None = None,
        transcript: tuple[tuple[str, str], ...] = (),
    ) -> str:
        from switchboard.contracts import MESSAGING_CONVERSATIONS

        interaction_id = interaction_id or new_id()
        turns = tuple(BotTurn(role=role, text=text, at=self.clock.now()) for role, text in transcript)  # type: ignore[arg-type]
        await self.publish(
            MESSAGING_CONVERSATIONS,
            ConversationStarted(
                interaction_id=uuid.UUID(interaction_id),
                customer_id=uuid.uuid4(),
                customer_name="Casey",
                intent=intent,
                queue_hint=queue_id,
                bot_transcript=turns,
            ),
            interaction_id,
        )
        return interaction_id

    async def message(self, interaction_id: str, sender_id: str, *, agent: bool) -> None:
        from switchboard.contracts import MESSAGING_MESSAGES

        await self.publish(
            MESSAGING_MESSAGES,
            ChatMessageSent(
                message_id=uuid.uuid4(),
                client_id=new_id(),
                interaction_id=uuid.UUID(interaction_id),
                seq=1,
                sender_role=SenderRole.AGENT if agent else SenderRole.CUSTOMER,
                sender_id=uuid.UUID(sender_id),
                text="hello",
                sent_at=self.clock.now(),
            ),
            interaction_id,
        )

    # ---------------------------------------------------------------- state and events out

    async def interaction(self, interaction_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/interactions/{interaction_id}")
        return (
            response.json() if response.status_code == 200 else {"status": None, "code": response.status_code}
        )

    async def wait_interaction(
        self, interaction_id: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def holds() -> bool:
            seen.update(await self.interaction(interaction_id))
            return check(seen)

        await eventually(holds, timeout=timeout)
        return seen

    async def agent_state(self, agent_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/agents/{agent_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_agent(
        self, agent_id: str, check: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def holds() -> bool:
            seen.update(await self.agent_state(agent_id))
            return check(seen)

        await eventually(holds, timeout=timeout)
        return seen

    async def offered_to(self, interaction_id: str, timeout: float = 60.0) -> str:
        state = await self.wait_interaction(interaction_id, lambda s: s.get("status") == "offered", timeout)
        return str(state["offer"]["agent_id"])

    async def events(
        self,
        topic: str,
        until: Callable[[list[Envelope[Any]]], bool],
        *,
        about: str | None = None,
        timeout: float = 30.0,
    ) -> list[Envelope[Any]]:
        """Events on a routing topic (about one key, if given), read from the start until ``until``."""

        def parse(records: list[Any]) -> list[Envelope[Any]]:
            parsed = [REGISTRY.parse(r.value, topic=topic) for r in records]
            return [e for e in parsed if about is None or e.key == about]

        records = await read_topic(
            self.bootstrap, self.prefix + topic, until=lambda rs: until(parse(rs)), timeout=timeout
        )
        return parse(records)

    async def interaction_events(
        self, interaction_id: str, *types: str, timeout: float = 30.0
    ) -> list[Envelope[Any]]:
        """Events about one interaction, once every listed type has appeared."""
        wanted = set(types)
        return await self.events(
            ROUTING_INTERACTIONS,
            lambda es: wanted <= {e.type for e in es},
            about=interaction_id,
            timeout=timeout,
        )

    async def agent_events(
        self, agent_id: str, until: Callable[[list[Envelope[Any]]], bool]
    ) -> list[Envelope[Any]]:
        return await self.events(ROUTING_AGENTS, until, about=agent_id)

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@asynccontextmanager
async def running_service(
    bootstrap: str, database_url: str, prefix: str, clock: ManualClock | None = None, **extra: Any
) -> AsyncIterator[Service]:
    clock = clock or ManualClock(T0)
    runtime = create_runtime(settings_for("routing", bootstrap, database_url, prefix, **extra), clock=clock)
    app = runtime.http_app(build_api(routing_of(runtime)))
    async with (
        runtime.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as http,
    ):
        service = Service(runtime, http, clock, bootstrap, prefix)
        try:
            yield service
        finally:
            await service.close()


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
async def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, _postgres_admin: URL | str
) -> AsyncIterator[str]:
    """Like the root ``database_url``, but one database for a whole module."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("routing")
        yield f"sqlite+aiosqlite:///{folder / 'routing.db'}"
        return
    if isinstance(_postgres_admin, str):
        pytest.skip(_postgres_admin)
    name = f"sb_routing_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_dsn(_postgres_admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield _postgres_admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        connection = await asyncpg.connect(_dsn(_postgres_admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture(scope="module")
async def svc(kafka_bootstrap: str, module_database_url: str) -> AsyncIterator[Service]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    async with running_service(kafka_bootstrap, module_database_url, prefix) as service:
        yield service


@pytest.fixture
def svc_factory() -> Callable[..., Any]:
    """``running_service`` for tests that start their own services (restarts, replicas); test modules
    cannot import conftest under --import-mode=importlib."""
    return running_service
