"""Transactional outbox: an event is written with the state change that caused it, then relayed.

``Outbox.emit`` adds the event to the caller's session, so it commits or rolls back with the state.
``Relay`` publishes unsent rows in id order (hence in order per key) with an idempotent producer, and
marks them sent only after Kafka acknowledged them: a crash in between publishes them again, which the
consumers' inbox absorbs. A broker outage only delays publishing; rows wait in the table meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from switchboard.contracts.envelope import Envelope, make_envelope
from switchboard.contracts.registry import Registry
from switchboard.runtime.clock import Clock
from switchboard.runtime.context import current_correlation_id
from switchboard.runtime.db import Database
from switchboard.runtime.logs import get_logger
from switchboard.runtime.tables import OutboxRow
from switchboard.runtime.telemetry import inject_headers

log = get_logger(__name__)

Publish = Callable[[list[OutboxRow]], Awaitable[None]]

_PG_RELAY_LOCK = 0x5B_0B_0C_00


class Outbox:
    def __init__(self, *, source: str, registry: Registry, clock: Clock, topic_prefix: str = "") -> None:
        self.source = source
        self.registry = registry
        self.clock = clock
        self.topic_prefix = topic_prefix
        self.wake = asyncio.Event()

    def emit(
        self,
        session: AsyncSession,
        data: BaseModel,
        *,
        key: str,
        causation: Envelope[Any] | None = None,
        correlation_id: str | None = None,
    ) -> Envelope[Any]:
        """Add an event to the caller's transaction; it is published only if that transaction commits.

        The event's type and version follow from the payload's class (each event has its own).
        """
        spec = self.registry.event_for(type(data))
        topic = self.registry.topic_of(spec.type, spec.version)
        now = self.clock.now()
        envelope = make_envelope(
            data,
            type=spec.type,
            version=spec.version,
            source=self.source,
            key=key,
            occurred_at=now,
            correlation_id=correlation_id
            or (causation.correlation_id if causation else None)
            or current_correlation_id(),
            causation_id=causation.id if causation else None,
        )
        headers = inject_headers()
        headers["event-type"] = spec.name
        if envelope.correlation_id:
            headers["correlation-id"] = envelope.correlation_id
        session.add(
            OutboxRow(
                event_id=str(envelope.id),
                topic=self.topic_prefix + topic.name,
                key=key,
                type=spec.type,
                body=envelope.model_dump_json(),
                headers=json.dumps(headers, sort_keys=True),
                created_at=now,
            )
        )
        # Wake the relay once the caller's transaction is over; waking early only costs one empty poll.
        after_commit(session, self.wake.set)
        return envelope


def after_commit(session: AsyncSession, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the session's transaction has committed (never if it rolls back)."""
    session.sync_session.info.setdefault("sb_after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop("sb_after_commit", []):
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("sb_after_commit", None)


class Relay:
    def __init__(
        self,
        database: Database,
        publish: Publish,
        *,
        wake: asyncio.Event,
        clock: Clock,
        poll_seconds: float = 0.2,
        batch_size: int = 500,
        keep_sent: timedelta = timedelta(hours=24),
    ) -> None:
        self.database = database
        self.publish = publish
        self.wake = wake
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.keep_sent = keep_sent
        self.published = 0
        self._stopping = asyncio.Event()
        self._cycles = 0
        self._leader: AsyncConnection | None = None

    async def run(self) -> None:
        backoff = self.poll_seconds
        while not self._stopping.is_set():
            try:
                sent = await self.relay_once()
                backoff = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker or database outage: wait and try the same rows again
                log.warning("outbox relay failed; will retry", error=str(exc), retry_in=backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self.batch_size:
                await self._pause(self.poll_seconds)

    async def _pause(self, seconds: float) -> None:
        waiter = asyncio.ensure_future(self.wake.wait())
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()
            self.wake.clear()

    def stop(self) -> None:
        self._stopping.set()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published.

        Publishing happens outside any transaction so that emitters never wait on Kafka; rows are marked
        sent afterwards, and a crash in between only publishes them again.
        """
        if not await self._is_leader():
            return 0
        async with self.database.sessions() as session:
            rows = list(
                (
                    await session.scalars(
                        select(OutboxRow)
                        .where(col(OutboxRow.sent_at).is_(None))
                        .order_by(col(OutboxRow.id))
                        .limit(self.batch_size)
                    )
                ).all()
            )
        if not rows:
            await self._purge()
            return 0
        await self.publish(rows)
        async with self.database.transaction() as session:
            await session.execute(
                sa.update(OutboxRow)
                .where(col(OutboxRow.id).in_([r.id for r in rows]))
                .values(sent_at=self.clock.now())
            )
        self.published += len(rows)
        return len(rows)

    async def _is_leader(self) -> bool:
        # Two replicas of one service on PostgreSQL must not publish interleaved batches, or per-key
        # order could break: the holder of a session-level advisory lock is the only relay at work.
        if self.database.dialect != "postgresql":
            return True
        if self._leader is not None:
            return True
        connection = await self.database.engine.connect()
        try:
            got = await connection.scalar(select(sa.func.pg_try_advisory_lock(_PG_RELAY_LOCK)))
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._leader = connection
        return True

    async def close(self) -> None:
        if self._leader is not None:
            leader, self._leader = self._leader, None
            await leader.close()

    async def _purge(self) -> None:
        self._cycles += 1
        if self._cycles % 100:
            return
        cutoff = self.clock.now() - self.keep_sent
        async with self.database.transaction() as session:
            await session.execute(
                sa.delete(OutboxRow).where(
                    col(OutboxRow.sent_at).is_not(None),
                    col(OutboxRow.sent_at) < cutoff,
                )
            )


async def pending_count(database: Database) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(sa.func.count()).select_from(OutboxRow).where(col(OutboxRow.sent_at).is_(None))
        )
    return int(count or 0)
