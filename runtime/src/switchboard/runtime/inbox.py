"""Inbox: a consumed event changes state at most once.

The envelope id is recorded in the same transaction as the handler's writes; a redelivered event (after
a crash between the database commit and the offset commit, or a producer retry) finds its id there and
changes nothing. Recording and checking are one statement (insert, ignore on conflict), so the common
case costs one round trip and two concurrent deliveries cannot both pass.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.runtime.clock import Clock
from switchboard.runtime.tables import InboxRow

_INBOX = InboxRow.__table__  # type: ignore[attr-defined]


async def claim(session: AsyncSession, consumer: str, event_id: str, topic: str, clock: Clock) -> bool:
    """Record the event as processed by ``consumer``; False when it already was."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert: Any = postgresql.insert(_INBOX) if dialect == "postgresql" else sqlite.insert(_INBOX)
    statement = insert.values(
        consumer=consumer, event_id=event_id, topic=topic, processed_at=clock.now()
    ).on_conflict_do_nothing(index_elements=["consumer", "event_id"])
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
