"""Test and benchmark support: a running messaging service on a real broker and database, driven over
HTTP in-process, with helpers to play routing and acw (their events, produced on their real topics)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import ACW_INTERACTIONS, REGISTRY, ROUTING_INTERACTIONS
from switchboard.contracts.acw import InteractionEnded
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.envelope import Envelope, make_envelope
from switchboard.contracts.routing import ArrivalSummary, InteractionAssigned
from switchboard.messaging.app import MessagingRuntime, create_app, create_runtime
from switchboard.messaging.crypto import generate_key
from switchboard.messaging.models import ConversationRow
from switchboard.messaging.service import Messaging
from switchboard.messaging.settings import messaging_settings
from switchboard.runtime.clock import Clock
from switchboard.runtime.settings import ServiceSettings
from switchboard.runtime.testing import eventually, read_topic, settings_for


def actor(role: str, actor_id: str) -> dict[str, str]:
    return {"X-Actor-Role": role, "X-Actor-Id": actor_id}


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Harness:
    runtime: MessagingRuntime
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    bootstrap: str
    prefix: str
    clock: Clock
    queue_id: str = field(default_factory=new_id)

    @property
    def messaging(self) -> Messaging:
        return self.runtime.messaging

    async def publish(
        self, topic: str, data: BaseModel, *, key: str, event_id: UUID | None = None
    ) -> Envelope[Any]:
        """Produce an event as its owning service would (same envelope, same key rule)."""
        spec = REGISTRY.event_for(type(data))
        envelope = make_envelope(
            data,
            type=spec.type,
            version=spec.version,
            source=REGISTRY.topic(topic).owner,
            key=key,
            occurred_at=self.clock.now(),
            id=event_id,
        )
        await self.publish_raw(topic, envelope.to_bytes(), key=key)
        return envelope

    async def publish_raw(self, topic: str, value: bytes, *, key: str) -> None:
        await self.producer.send_and_wait(self.prefix + topic, value, key=key.encode())

    async def start(self, customer_id: str, **body: Any) -> str:
        response = await self.http.post("/conversations", json=body, headers=actor("customer", customer_id))
        assert response.status_code == 201, response.text
        conversation_id: str = response.json()["id"]
        return conversation_id

    async def conversation(self, conversation_id: str) -> ConversationRow | None:
        async def work(session: AsyncSession) -> ConversationRow | None:
            return await session.get(ConversationRow, conversation_id)

        return await self.messaging.read(work)

    async def assign(
        self, conversation_id: str, agent_id: str, *, agent_name: str = "Alex", queue_name: str = "Mortgages"
    ) -> Envelope[Any]:
        """Play routing: the agent accepted the chat. Returns once messaging knows it."""
        envelope = await self.publish(
            ROUTING_INTERACTIONS,
            InteractionAssigned(
                interaction_id=UUID(conversation_id),
                agent_id=UUID(agent_id),
                channel=Channel.CHAT,
                queue_id=UUID(self.queue_id),
                auto_answer=False,
                arrival=ArrivalSummary(agent_name=agent_name, queue_name=queue_name, wait_time_seconds=5),
            ),
            key=conversation_id,
        )

        async def known() -> bool:
            row = await self.conversation(conversation_id)
            return row is not None and row.agent_id == agent_id

        await eventually(known)
        return envelope

    async def end_by_agent(self, conversation_id: str, agent_id: str) -> None:
        """Play acw: the agent confirmed End. Returns once messaging terminated the conversation."""
        await self.publish(
            ACW_INTERACTIONS,
            InteractionEnded(
                interaction_id=UUID(conversation_id),
                channel=Channel.CHAT,
                ended_by=Party.AGENT,
                agent_id=UUID(agent_id),
            ),
            key=conversation_id,
        )

        async def ended() -> bool:
            row = await self.conversation(conversation_id)
            return row is not None and row.ended_at is not None

        await eventually(ended)

    async def live_chat(self) -> tuple[str, str, str]:
        """A started and assigned conversation: (conversation id, customer id, agent id)."""
        customer, agent = new_id(), new_id()
        conversation_id = await self.start(customer, customer_name="Dana", intent="mortgage")
        await self.assign(conversation_id, agent)
        return conversation_id, customer, agent

    async def read(
        self, topic: str, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool], timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(self.bootstrap, self.prefix + topic, until=until, timeout=timeout)


@contextlib.asynccontextmanager
async def running(
    bootstrap: str,
    database_url: str,
    prefix: str,
    data_dir: Path,
    *,
    clock: Clock | None = None,
    now: datetime | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """Messaging on ``database_url`` and the broker, with an in-process HTTP client."""
    from switchboard.runtime.clock import ManualClock

    kit = set(ServiceSettings.model_fields)
    base = settings_for(
        "messaging",
        bootstrap,
        database_url,
        prefix,
        data_dir=data_dir,
        **{k: v for k, v in overrides.items() if k in kit},
    )
    own = {k: v for k, v in overrides.items() if k not in kit}
    settings = messaging_settings(
        base, **{"forms_key": generate_key(), "blob_dir": data_dir / "blobs", **own}
    )
    active_clock = clock or ManualClock(now)
    runtime = create_runtime(settings, clock=active_clock)
    app = create_app(runtime=runtime)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        async with runtime.running():
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://messaging") as http:
                yield Harness(runtime, http, producer, bootstrap, prefix, active_clock)
    finally:
        await producer.stop()
