"""Consuming events: parse, dedupe, handle in one transaction, retry, dead-letter.

For every record on a subscribed topic:

1. bytes that are not a valid envelope, or a payload that breaks its contract, go straight to
   ``<topic>.dlq`` with the reason;
2. otherwise the handler runs inside a transaction that also records the event id (inbox), so a
   redelivery has no second effect;
3. a handler that raises is retried with backoff; after the last attempt the record goes to the DLQ
   with the error and the attempt count, and the partition moves on;
4. the offset is committed only after one of the above succeeded; if even the DLQ cannot be written,
   the record is redelivered later rather than dropped.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts.envelope import ContractError, Envelope
from switchboard.contracts.registry import Registry, dlq_name
from switchboard.runtime import inbox
from switchboard.runtime.clock import Clock
from switchboard.runtime.context import correlation_id
from switchboard.runtime.db import Database
from switchboard.runtime.logs import get_logger
from switchboard.runtime.telemetry import extract_context, tracer

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]

MAX_ERROR_CHARS = 4000


class DeadLetterSink(Protocol):
    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> None: ...


@dataclass
class Record:
    """What the consumer needs of one Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    status: str  # "handled" | "duplicate" | "dead-lettered"
    attempts: int = 0
    error: str | None = None


class EventConsumer:
    """Runs one handler for one (unprefixed) topic of one service."""

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        handler: Handler,
        database: Database,
        registry: Registry,
        clock: Clock,
        dead_letter: DeadLetterSink,
        topic_prefix: str = "",
        attempts: int = 3,
        backoff_seconds: float = 0.2,
        ephemeral: bool = False,
    ) -> None:
        self.ephemeral = ephemeral
        self.name = name
        self.topic = topic
        self.handler = handler
        self.database = database
        self.registry = registry
        self.clock = clock
        self.dead_letter = dead_letter
        self.topic_prefix = topic_prefix
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.handled = 0
        self.duplicates = 0
        self.dead_lettered = 0

    async def consume(self, record: Record) -> Outcome:
        try:
            envelope = self.registry.parse(record.value, topic=self.topic)
        except ContractError as exc:
            await self._dead_letter(record, f"malformed event: {exc}", attempts=0)
            return Outcome("dead-lettered", 0, str(exc))

        structlog.contextvars.bind_contextvars(
            event_id=str(envelope.id), event_type=envelope.type, correlation_id=envelope.correlation_id
        )
        token = correlation_id.set(envelope.correlation_id)
        try:
            parent = extract_context(record.headers)
            error = ""
            last_trace = ""
            for attempt in range(1, self.attempts + 1):
                with tracer().start_as_current_span(
                    f"consume {envelope.type}",
                    context=parent,
                    kind=trace.SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.destination.name": record.topic,
                        "messaging.message.id": str(envelope.id),
                        "messaging.consumer.group.name": self.name,
                        "switchboard.attempt": attempt,
                    },
                ) as span:
                    try:
                        outcome = await self._handle_once(envelope)
                    except Exception as exc:
                        span.record_exception(exc)
                        span.set_status(trace.StatusCode.ERROR, str(exc))
                        error = f"{type(exc).__name__}: {exc}"
                        log.warning(
                            "handler failed",
                            consumer=self.name,
                            attempt=attempt,
                            of=self.attempts,
                            error=error,
                        )
                        if attempt < self.attempts:
                            await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                        last_trace = traceback.format_exc(limit=5)
                        continue
                    return outcome
            await self._dead_letter(record, f"{error}\n{last_trace}", attempts=self.attempts)
            return Outcome("dead-lettered", self.attempts, error)
        finally:
            correlation_id.reset(token)
            structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")

    async def _handle_once(self, envelope: Envelope[Any]) -> Outcome:
        event_id = str(envelope.id)
        if self.ephemeral:
            # Ephemeral signals (typing) are never stored, not even their ids: a repeat is harmless.
            await self.handler(None, envelope)  # type: ignore[arg-type]
            self.handled += 1
            return Outcome("handled", 1)
        async with self.database.transaction() as session:
            if not await inbox.claim(session, self.name, event_id, self.topic, self.clock):
                self.duplicates += 1
                return Outcome("duplicate")
            await self.handler(session, envelope)
        self.handled += 1
        return Outcome("handled", 1)

    async def _dead_letter(self, record: Record, error: str, *, attempts: int) -> None:
        self.dead_lettered += 1
        log.error(
            "event dead-lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
            error=error[:500],
        )
        headers = {
            "x-dlq-error": error[:MAX_ERROR_CHARS],
            "x-dlq-attempts": str(attempts),
            "x-dlq-topic": record.topic,
            "x-dlq-partition": str(record.partition),
            "x-dlq-offset": str(record.offset),
            "x-dlq-consumer": self.name,
            "x-dlq-at": self.clock.now().isoformat(),
        }
        for name, value in record.headers.items():
            headers.setdefault(f"x-original-{name}", value)
        await self.dead_letter(dlq_name(record.topic), record.key, record.value, headers)
