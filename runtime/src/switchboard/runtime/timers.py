"""Durable timers: every deadline is a database row, fired once by a poller.

``schedule`` and ``cancel`` run in the caller's transaction, so a timer exists exactly when the state
that needs it does. The poller fires a due timer inside a transaction that both marks it fired and runs
its handler; a crash mid-way rolls both back and the timer fires after the restart, and a fired timer
is never fired again. Two pollers (replicas on PostgreSQL) skip each other's locked rows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.runtime.clock import Clock
from switchboard.runtime.db import Database
from switchboard.runtime.logs import get_logger
from switchboard.runtime.tables import TimerRow

log = get_logger(__name__)


@dataclass(frozen=True)
class Timer:
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]


TimerHandler = Callable[[AsyncSession, Timer], Awaitable[None]]

MAX_TIMER_ATTEMPTS = 5


async def schedule(
    session: AsyncSession,
    kind: str,
    key: str,
    due_at: datetime,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Schedule (or move) the one timer of this kind for this key."""
    if due_at.tzinfo is None:
        raise ValueError("timers need aware datetimes")
    body = json.dumps(payload or {}, sort_keys=True, default=str)
    existing = await session.scalar(
        select(TimerRow).where(col(TimerRow.kind) == kind, col(TimerRow.key) == key)
    )
    if existing is None:
        session.add(TimerRow(kind=kind, key=key, due_at=due_at, payload=body, created_at=now))
    else:
        existing.due_at = due_at
        existing.payload = body
        existing.created_at = now
        existing.fired_at = None
        existing.cancelled_at = None
        existing.failed_at = None
        existing.attempts = 0
        existing.last_error = None
    await session.flush()


async def cancel(session: AsyncSession, kind: str, key: str, *, now: datetime) -> bool:
    """Cancel a pending timer; returns whether there was one to cancel."""
    result = await session.execute(
        sa.update(TimerRow)
        .where(
            col(TimerRow.kind) == kind,
            col(TimerRow.key) == key,
            col(TimerRow.fired_at).is_(None),
            col(TimerRow.cancelled_at).is_(None),
        )
        .values(cancelled_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def pending(session: AsyncSession, kind: str, key: str) -> Timer | None:
    row = await session.scalar(
        select(TimerRow).where(
            col(TimerRow.kind) == kind,
            col(TimerRow.key) == key,
            col(TimerRow.fired_at).is_(None),
            col(TimerRow.cancelled_at).is_(None),
        )
    )
    return None if row is None else _timer(row)


def _timer(row: TimerRow) -> Timer:
    return Timer(kind=row.kind, key=row.key, due_at=row.due_at, payload=json.loads(row.payload))


class TimerPoller:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        handlers: dict[str, TimerHandler],
        *,
        poll_seconds: float = 0.25,
        batch_size: int = 100,
        retry_backoff: timedelta = timedelta(seconds=1),
    ) -> None:
        self.database = database
        self.clock = clock
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.retry_backoff = retry_backoff
        self.fired = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("timer poll failed; will retry", error=str(exc))
                fired = 0
            if fired < self.batch_size:
                await self.clock.changed(self.poll_seconds)

    async def fire_due(self) -> int:
        """Fire every timer due now; returns how many fired."""
        now = self.clock.now()
        async with self.database.sessions() as session:
            ids = list(
                (
                    await session.scalars(
                        select(col(TimerRow.id))
                        .where(
                            col(TimerRow.fired_at).is_(None),
                            col(TimerRow.cancelled_at).is_(None),
                            col(TimerRow.failed_at).is_(None),
                            col(TimerRow.due_at) <= now,
                        )
                        .order_by(col(TimerRow.due_at), col(TimerRow.id))
                        .limit(self.batch_size)
                    )
                ).all()
            )
        fired = 0
        for timer_id in ids:
            if await self._fire_one(timer_id, now):
                fired += 1
        return fired

    async def _fire_one(self, timer_id: int | None, now: datetime) -> bool:
        try:
            async with self.database.transaction() as session:
                query = select(TimerRow).where(
                    col(TimerRow.id) == timer_id,
                    col(TimerRow.fired_at).is_(None),
                    col(TimerRow.cancelled_at).is_(None),
                    col(TimerRow.failed_at).is_(None),
                    col(TimerRow.due_at) <= now,
                )
                if self.database.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = await session.scalar(query)
                if row is None:  # fired, moved or cancelled meanwhile, or another poller holds it
                    return False
                timer = _timer(row)
                handler = self.handlers.get(row.kind)
                if handler is None:
                    raise LookupError(f"no handler for timer kind {row.kind!r}")
                # Marked first: a handler that reschedules its own kind/key resets this row again.
                row.fired_at = now
                await session.flush()
                await handler(session, timer)
        except Exception as exc:
            await self._record_failure(timer_id, now, exc)
            return False
        self.fired += 1
        return True

    async def _record_failure(self, timer_id: int | None, now: datetime, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        async with self.database.transaction() as session:
            row = await session.get(TimerRow, timer_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:4000]
            if row.attempts >= MAX_TIMER_ATTEMPTS:
                # Kept, never dropped: `switchboard timers --failed` lists these for an operator.
                row.failed_at = now
                log.error("timer failed for good", kind=row.kind, key=row.key, error=error)
            else:
                row.due_at = now + self.retry_backoff * 2 ** (row.attempts - 1)
                log.warning("timer handler failed; will retry", kind=row.kind, key=row.key, error=error)
