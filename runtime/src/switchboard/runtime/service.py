"""The service app factory: one object wires database, outbox relay, consumers, timers and HTTP.

A service declares its tables, its event handlers and its timer handlers, and gets::

    runtime = ServiceRuntime(load_settings("routing"), tables=[...])

    @runtime.handles(MESSAGING_CONVERSATIONS)
    async def on_conversation(session, envelope): ...

    @runtime.on_timer("offer_timeout")
    async def on_offer_timeout(session, timer): ...

    app = runtime.http_app(router)  # FastAPI: /healthz, /readyz, problem+json, tracing; starts all
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts.envelope import Envelope
from switchboard.contracts.registry import Registry, TopicSpec
from switchboard.runtime import timers
from switchboard.runtime.clock import Clock, SystemClock
from switchboard.runtime.consumer import EventConsumer, Handler, Record
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.errors import BodySizeLimit, install_problem_handlers, problem_response
from switchboard.runtime.http import CorrelationMiddleware, InternalOnly
from switchboard.runtime.kafka import (
    create_broker,
    ensure_topics,
    publish_dead_letter,
    publish_rows,
    raw_body,
)
from switchboard.runtime.logs import get_logger, setup_logging
from switchboard.runtime.offsets import OffsetCommitter
from switchboard.runtime.outbox import Outbox, Relay, after_commit
from switchboard.runtime.settings import ServiceSettings
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.telemetry import setup_tracing
from switchboard.runtime.timers import TimerHandler, TimerPoller

log = get_logger(__name__)


def _default_registry() -> Registry:
    from switchboard.contracts import REGISTRY

    return REGISTRY


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: Iterable[sa.Table] = (),
        registry: Registry | None = None,
        clock: Clock | None = None,
        configure_logging: bool = True,
    ) -> None:
        self.settings = settings
        self.name = settings.service
        self.registry = registry or _default_registry()
        self.clock: Clock = clock or SystemClock()
        self.tables = [*RUNTIME_TABLES, *tables]
        if configure_logging:
            setup_logging(self.name, fmt=settings.log_format, level=settings.log_level)
        setup_tracing(self.name)
        self.database = Database(settings.effective_database_url)
        self.outbox = Outbox(
            source=self.name, registry=self.registry, clock=self.clock, topic_prefix=settings.topic_prefix
        )
        self.broker = create_broker(
            settings.kafka_bootstrap_servers,
            client_id=f"switchboard-{self.name}",
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )
        self.relay = Relay(
            self.database,
            lambda rows: publish_rows(self.broker, rows),
            wake=self.outbox.wake,
            clock=self.clock,
            poll_seconds=settings.outbox_poll_seconds,
            batch_size=settings.outbox_batch_size,
        )
        self.consumers: list[EventConsumer] = []
        self.timer_handlers: dict[str, TimerHandler] = {}
        self.poller = TimerPoller(
            self.database, self.clock, self.timer_handlers, poll_seconds=settings.timer_poll_seconds
        )
        self.offsets = OffsetCommitter()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    # -- declaration -------------------------------------------------------------------------------

    def handles(self, topic: str) -> Callable[[Handler], Handler]:
        """Register ``handler(session, envelope)`` for every event on ``topic`` (unprefixed name)."""
        self.registry.topic(topic)  # fail at import time on a typo, not at the first event

        def register(handler: Handler) -> Handler:
            self.subscribe(topic, handler)
            return handler

        return register

    def subscribe(
        self, topic: str, handler: Handler, *, name: str | None = None, ephemeral: bool = False
    ) -> EventConsumer:
        """Consume ``topic``. With ``ephemeral`` (typing and similar) the handler gets no session and
        nothing is written: no inbox row, no transaction."""
        consumer = EventConsumer(
            name=name or f"{self.name}:{topic}",
            topic=topic,
            handler=handler,
            database=self.database,
            registry=self.registry,
            clock=self.clock,
            dead_letter=lambda t, k, v, h: publish_dead_letter(self.broker, t, k, v, h),
            topic_prefix=self.settings.topic_prefix,
            attempts=self.settings.handler_attempts,
            backoff_seconds=self.settings.retry_backoff_seconds,
            ephemeral=ephemeral or self.registry.topic(topic).ephemeral,
        )
        self.consumers.append(consumer)

        async def on_record(message: KafkaMessage) -> None:
            raw = cast(ConsumerRecord[bytes, bytes], message.raw_message)
            kafka_consumer = message.consumer  # type: ignore[attr-defined]
            try:
                outcome = await consumer.consume(
                    Record(
                        topic=raw.topic,
                        partition=raw.partition,
                        offset=raw.offset,
                        key=raw.key,
                        value=raw.value or b"",
                        headers={k: v.decode("utf-8", "replace") for k, v in (raw.headers or ())},
                    )
                )
            except Exception:
                # Not even the dead-letter topic took it: read the record again rather than skip it.
                kafka_consumer.seek(TopicPartition(raw.topic, raw.partition), raw.offset)
                await asyncio.sleep(self.settings.retry_backoff_seconds or 0.1)
                raise
            await self.offsets.processed(
                kafka_consumer, raw.topic, raw.partition, raw.offset, urgent=outcome.status == "dead-lettered"
            )

        subscriber = self.broker.subscriber(
            self.settings.topic(topic),
            # One group per topic: consumers sharing a group rebalance each other on every join, which
            # makes a service with several subscriptions take many seconds to start.
            group_id=f"{self.settings.effective_group}.{topic}",
            auto_offset_reset="earliest",
            # Offsets are committed by OffsetCommitter, only for records whose handling finished.
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_body,
        )
        subscriber(on_record)
        return consumer

    def on_timer(self, kind: str) -> Callable[[TimerHandler], TimerHandler]:
        def register(handler: TimerHandler) -> TimerHandler:
            if kind in self.timer_handlers:
                raise ValueError(f"timer kind {kind!r} has a handler already")
            self.timer_handlers[kind] = handler
            return handler

        return register

    # -- use ---------------------------------------------------------------------------------------

    def emit(
        self,
        session: AsyncSession,
        data: BaseModel,
        *,
        key: str,
        causation: Envelope[Any] | None = None,
    ) -> Envelope[Any]:
        return self.outbox.emit(session, data, key=key, causation=causation)

    def after_commit(self, session: AsyncSession, callback: Callable[[], object]) -> None:
        """Run ``callback`` after the transaction commits, e.g. to push what it recorded to sockets."""
        after_commit(session, callback)

    async def schedule(
        self,
        session: AsyncSession,
        kind: str,
        key: str,
        due_at: datetime,
        payload: dict[str, Any] | None = None,
    ) -> None:
        if kind not in self.timer_handlers:
            raise LookupError(f"no handler registered for timer kind {kind!r}")
        await timers.schedule(session, kind, key, due_at, now=self.clock.now(), payload=payload)

    async def cancel_timer(self, session: AsyncSession, kind: str, key: str) -> bool:
        return await timers.cancel(session, kind, key, now=self.clock.now())

    def transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.database.transaction()

    # -- lifecycle ---------------------------------------------------------------------------------

    def _topics_to_create(self) -> list[TopicSpec]:
        subscribed = {c.topic for c in self.consumers}
        return [t for t in self.registry.topics if t.owner == self.name or t.name in subscribed]

    async def start(self) -> None:
        if self.started:
            return
        self._stopping.clear()
        await create_schema(self.database.engine, self.tables)
        await self._connect_kafka()
        self._tasks = [
            asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"),
            asyncio.create_task(self.poller.run(), name=f"{self.name}-timer-poller"),
            asyncio.create_task(self.offsets.run(self._stopping), name=f"{self.name}-offset-committer"),
        ]
        self.started = True
        log.info("service started", consumers=len(self.consumers), timers=sorted(self.timer_handlers))

    async def _connect_kafka(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.settings.kafka_connect_timeout_seconds
        delay = 0.5
        while True:
            try:
                await ensure_topics(
                    self.settings.kafka_bootstrap_servers,
                    self._topics_to_create(),
                    self.settings.topic_prefix,
                    partitions=self.settings.topic_partitions,
                )
                await self.broker.start()
                return
            except Exception as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise RuntimeError(
                        f"Kafka at {self.settings.kafka_bootstrap_servers} not reachable: {exc}"
                    ) from exc
                log.warning("waiting for Kafka", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        self.relay.stop()
        self.poller.stop()
        self._stopping.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception as exc:
                log.warning("background task ended with an error", task=task.get_name(), error=str(exc))
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.offsets.flush()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.relay.close()
        await self.database.dispose()
        self.started = False

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await self.database.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"failing: {type(exc).__name__}"
        try:
            checks["kafka"] = "ok" if await self.broker.ping(timeout=2.0) else "failing"
        except Exception as exc:
            checks["kafka"] = f"failing: {type(exc).__name__}"
        return checks

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def http_app(
        self,
        *routers: APIRouter,
        title: str | None = None,
        version: str = "0.1.0",
        on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
        public: bool = False,
    ) -> FastAPI:
        """The service's FastAPI app. Unless ``public`` (the gateway), a configured internal token is
        required on every route but health and readiness."""
        runtime = self

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await runtime.start()
            for hook in on_startup:
                await hook()
            try:
                yield
            finally:
                for hook in on_shutdown:
                    await hook()
                await runtime.stop()

        app = FastAPI(
            title=title or f"Switchboard {self.name}",
            version=version,
            lifespan=lifespan,
            openapi_url="/openapi.json",
        )
        install_problem_handlers(app, type_base=self.settings.problem_type_base)

        @app.get("/healthz", tags=["operations"], summary="The process is alive")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": runtime.name}

        @app.get("/readyz", tags=["operations"], summary="Database and Kafka answer")
        async def readyz() -> JSONResponse:
            checks = await runtime.ready()
            if all(v == "ok" for v in checks.values()):
                return JSONResponse({"status": "ready", "service": runtime.name, "checks": checks})
            return problem_response(
                503,
                "unavailable",
                detail="A dependency is not answering.",
                type_base=runtime.settings.problem_type_base,
                checks=checks,
            )

        for router in routers:
            app.include_router(router)
        app.add_middleware(
            BodySizeLimit, max_bytes=self.settings.max_body_bytes, type_base=self.settings.problem_type_base
        )
        if self.settings.internal_token is not None and not public:
            app.add_middleware(
                InternalOnly,
                token=self.settings.internal_token.get_secret_value(),
                type_base=self.settings.problem_type_base,
            )
        app.add_middleware(CorrelationMiddleware)
        app.state.runtime = self
        return app
