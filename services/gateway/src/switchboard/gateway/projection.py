"""The gateway's view of the world, built from events: who holds which interaction, and the push log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.contracts.envelope import Envelope
from switchboard.gateway.models import Access, AgentSession, PushedEvent
from switchboard.gateway.visibility import Audience

_EVENTS = PushedEvent.__table__  # type: ignore[attr-defined]

# Events that change who holds or is offered an interaction.
_OFFERED = {"interaction.offered"}
_HELD = {"interaction.assigned", "interaction.unsnoozed"}
HOLDER_CHANGES = frozenset({"interaction.offered", "interaction.assigned", "interaction.transferred"})
_LET_GO = {"interaction.offer_timed_out", "interaction.requeued", "interaction.no_agents_available"}


def _text(data: Any, name: str) -> str | None:
    value = getattr(data, name, None)
    return None if value is None else str(value)


async def apply(session: AsyncSession, envelope: Envelope[Any], now: datetime) -> Audience:
    """Update the access projection with one event and work out who may see that event."""
    data = envelope.data
    if envelope.type in ("agent.logged_in", "agent.logged_out"):
        await _track_session(session, envelope, now)
    interaction_id = _text(data, "interaction_id")
    event_agent = _text(data, "agent_id")
    queue_id = _text(data, "queue_id") or _text(data, "to_queue_id")
    access: Access | None = None
    if interaction_id is not None:
        access = await session.get(Access, interaction_id)
        if access is None:
            access = Access(interaction_id=interaction_id, updated_at=now)
            session.add(access)
        if queue_id is not None:
            access.queue_id = queue_id
        customer = _text(data, "customer_id")
        if customer is not None:
            access.customer_id = customer
        if envelope.type in _OFFERED:
            access.offered_agent_id = event_agent
        elif envelope.type in _HELD and event_agent is not None:
            access.agent_id, access.offered_agent_id = event_agent, None
        elif envelope.type in _LET_GO:
            access.offered_agent_id = None
            if envelope.type != "interaction.offer_timed_out":
                access.agent_id = None
        elif envelope.type == "interaction.transferred":
            access.agent_id = _text(data, "to_agent_id")
        access.updated_at = now
    holder = event_agent or (access.agent_id or access.offered_agent_id if access is not None else None)
    return Audience(
        type=envelope.type,
        interaction_id=interaction_id,
        agent_id=holder,
        queue_id=access.queue_id if access is not None else queue_id,
        sender_role=_text(data, "role") or _text(data, "sender_role"),
    )


async def _track_session(session: AsyncSession, envelope: Envelope[Any], now: datetime) -> None:
    agent_id = str(envelope.data.agent_id)
    row = await session.get(AgentSession, agent_id)
    if row is None:
        row = AgentSession(agent_id=agent_id, updated_at=now)
        session.add(row)
    row.session_id = str(envelope.data.session_id) if envelope.type == "agent.logged_in" else None
    row.updated_at = now


async def console_session(session: AsyncSession, agent_id: str) -> str | None:
    """The session routing opened for the agent's current login, if they are logged in."""
    row = await session.get(AgentSession, agent_id)
    return None if row is None else row.session_id


async def record(session: AsyncSession, envelope: Envelope[Any], topic: str, audience: Audience) -> bool:
    """Append the event to the push log once; False when it was there already (another replica)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert: Any = postgresql.insert(_EVENTS) if dialect == "postgresql" else sqlite.insert(_EVENTS)
    result = await session.execute(
        insert.values(
            event_id=str(envelope.id),
            topic=topic,
            type=envelope.type,
            interaction_id=audience.interaction_id,
            agent_id=audience.agent_id,
            queue_id=audience.queue_id,
            occurred_at=envelope.occurred_at,
            body=envelope.model_dump_json(),
        ).on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(getattr(result, "rowcount", 0))


async def claim_orphans(session: AsyncSession, audience: Audience) -> list[tuple[dict[str, Any], Audience]]:
    """Give the new holder of an interaction the events recorded before the gateway knew who held it.

    Topics are not ordered among themselves: a customer's message can reach the gateway before the
    assignment that makes it the agent's. Such events are recorded without an agent and, once the
    holder is known, handed to them (and kept for their replays).
    """
    if audience.type not in HOLDER_CHANGES or audience.interaction_id is None or audience.agent_id is None:
        return []
    rows = (
        await session.scalars(
            select(PushedEvent)
            .where(
                col(PushedEvent.interaction_id) == audience.interaction_id,
                col(PushedEvent.agent_id).is_(None),
            )
            .order_by(col(PushedEvent.seq))
        )
    ).all()
    claimed = []
    for row in rows:
        row.agent_id = audience.agent_id
        row.queue_id = row.queue_id or audience.queue_id
        body = json.loads(row.body)
        data = body.get("data", {})
        claimed.append(
            (stored_frame(row, body), audience_of(row, data.get("role") or data.get("sender_role")))
        )
    return claimed


def stored_frame(row: PushedEvent, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row.event_id,
        "type": row.type,
        "interaction_id": row.interaction_id,
        "occurred_at": body["occurred_at"],
        "data": body.get("data", {}),
    }


def frame(envelope: Envelope[Any], audience: Audience) -> dict[str, Any]:
    return {
        "id": str(envelope.id),
        "type": envelope.type,
        "interaction_id": audience.interaction_id,
        "occurred_at": envelope.occurred_at.isoformat(),
        "data": json.loads(envelope.model_dump_json(include={"data"}))["data"],
    }


def audience_of(row: PushedEvent, sender_role: str | None = None) -> Audience:
    return Audience(
        type=row.type,
        interaction_id=row.interaction_id,
        agent_id=row.agent_id,
        queue_id=row.queue_id,
        sender_role=sender_role,
    )
