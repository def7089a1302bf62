"""Events in, frames out: the gateway keeps its access projection and push log, then fans out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import (
    ACW_INTERACTIONS,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    MESSAGING_TYPING,
    ROUTING_AGENTS,
    ROUTING_INTERACTIONS,
)
from switchboard.contracts.envelope import Envelope
from switchboard.gateway import projection
from switchboard.gateway.models import Access
from switchboard.gateway.push import Hub
from switchboard.gateway.visibility import Audience
from switchboard.runtime.service import ServiceRuntime

PUSH_LOG_LOCK = 0x5B_0B_0C_01
PUSHED_TOPICS = (
    ROUTING_AGENTS,
    ROUTING_INTERACTIONS,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    ACW_INTERACTIONS,
)


def register(runtime: ServiceRuntime, hub: Hub, replica: str) -> None:
    for topic in PUSHED_TOPICS:
        runtime.subscribe(topic, _recorder(runtime, hub, topic), name=f"gateway-{replica}:{topic}")
    runtime.subscribe(
        MESSAGING_TYPING, _typing(runtime, hub), name=f"gateway-{replica}:{MESSAGING_TYPING}", ephemeral=True
    )


def _recorder(runtime: ServiceRuntime, hub: Hub, topic: str) -> Any:
    async def handle(session: AsyncSession, envelope: Envelope[Any]) -> None:
        if runtime.database.dialect == "postgresql":
            # Push-log numbers must commit in order, or a client resuming after number n could miss a
            # lower number committed later; SQLite's single writer already guarantees that.
            await session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUSH_LOG_LOCK})
        audience = await projection.apply(session, envelope, runtime.clock.now())
        orphans = await projection.claim_orphans(session, audience)
        await projection.record(session, envelope, topic, audience)
        frames = [*orphans, (projection.frame(envelope, audience), audience)]

        def push() -> None:
            for frame, to in frames:
                hub.publish(frame, to)

        # Sockets see an event only once it is recorded, so a replay never shows less than a push did.
        runtime.after_commit(session, push)

    return handle


def _typing(runtime: ServiceRuntime, hub: Hub) -> Any:
    async def handle(_: None, envelope: Envelope[Any]) -> None:
        data = envelope.data
        interaction_id = str(data.interaction_id)
        # Typing is never stored, but the agent's console must still see the customer typing: the
        # holder comes from the access projection (read only; messaging rate-limits these signals).
        # The agent's own typing is addressed to nobody's console, so it is not echoed back.
        async with runtime.database.sessions() as session:
            access = await session.get(Access, interaction_id)
        holder = access.agent_id if access is not None and str(data.role) != "agent" else None
        audience = Audience(
            type=envelope.type,
            interaction_id=interaction_id,
            agent_id=holder,
            queue_id=access.queue_id if access is not None else None,
            sender_role=str(data.role),
        )
        hub.publish(projection.frame(envelope, audience), audience)

    return handle
