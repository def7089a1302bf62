"""Test support shipped with the kit: a small test contract, topic readers, and child processes that
tests kill at chosen moments (relay, consumer, timer poller) to prove that nothing is lost or doubled.

Run a child with ``python -m switchboard.runtime.testing <role> ...``; tests do that, people need not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import Field
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel, col, select

from switchboard.contracts.envelope import Envelope, Payload
from switchboard.contracts.registry import EventSpec, Registry, TopicSpec
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import ServiceSettings
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.timers import Timer, TimerPoller

TEST_TOPIC = "switchboard.test.orders.v1"


class OrderPlaced(Payload):
    order_id: str = Field(description="order id; the partition key")
    seq: int = Field(ge=0, description="position in the sender's sequence for this key")
    note: str = Field(default="", max_length=200, description="free text; 'poison' makes handlers fail")


TEST_REGISTRY = Registry(
    (
        TopicSpec(
            name=TEST_TOPIC,
            owner="tester",
            description="orders for the runtime's own tests",
            key="order id",
            partitions=3,
            events=(EventSpec("order.placed", 1, OrderPlaced, "an order was placed"),),
        ),
    )
)


class Effect(SQLModel, table=True):
    """One row per applied event: a second row for the same event would be a double effect."""

    __tablename__ = "test_effects"

    id: int | None = SQLField(default=None, primary_key=True)
    event_id: str = SQLField(max_length=36, index=True)
    order_id: str = SQLField(max_length=100)
    seq: int
    applied_by: str = SQLField(max_length=50)


EFFECT_TABLES = (Effect.__table__,)  # type: ignore[attr-defined]


async def effects(database: Database) -> list[Effect]:
    async with database.sessions() as session:
        return list((await session.scalars(select(Effect).order_by(col(Effect.id)))).all())


def settings_for(
    service: str, bootstrap: str, database_url: str, prefix: str, **extra: Any
) -> ServiceSettings:
    values: dict[str, Any] = {
        "service": service,
        "kafka_bootstrap_servers": bootstrap,
        "database_url": database_url,
        "topic_prefix": prefix,
        "log_format": "console",
        "log_level": "WARNING",
        "outbox_poll_seconds": 0.05,
        "timer_poll_seconds": 0.05,
        "retry_backoff_seconds": 0.01,
        # Two partitions still exercise per-key ordering across partitions, at a third of the cost.
        "topic_partitions": 2,
    }
    return ServiceSettings.model_validate({**values, **extra})


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning (no consumer group) until ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        partitions: set[int] | None = None
        while partitions is None:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                if loop.time() > deadline:
                    raise TimeoutError(f"topic {topic} never appeared")
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.05)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while not until(records):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{topic}: condition not met; {len(records)} records read")
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, step: float = 0.05
) -> None:
    """Wait until an asynchronous condition holds (polling a real system; never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(step)


# -- child processes -------------------------------------------------------------------------------


def _exit_after_first_commit(marker: str) -> None:
    """Kill the process right after the first database commit (the marker file makes it happen once)."""

    @event.listens_for(Session, "after_commit")
    def _die(session: Session) -> None:
        if not os.path.exists(marker):
            with open(marker, "w") as handle:
                handle.write("killed after commit\n")
            os._exit(17)


async def _relay_child(args: argparse.Namespace) -> None:
    settings = settings_for("tester", args.bootstrap, args.database_url, args.prefix)
    runtime = ServiceRuntime(settings, registry=TEST_REGISTRY, tables=EFFECT_TABLES)
    async with runtime.running():
        print("ready", flush=True)
        await asyncio.Event().wait()  # until killed


async def _consumer_child(args: argparse.Namespace) -> None:
    settings = settings_for("tester", args.bootstrap, args.database_url, args.prefix)
    runtime = ServiceRuntime(settings, registry=TEST_REGISTRY, tables=EFFECT_TABLES)

    async def apply(session: Any, envelope: Envelope[Any]) -> None:
        session.add(
            Effect(
                event_id=str(envelope.id),
                order_id=envelope.data.order_id,
                seq=envelope.data.seq,
                applied_by="child",
            )
        )

    consumer = runtime.subscribe(TEST_TOPIC, apply)
    original = consumer.consume

    async def consume_and_report(record: Any) -> Any:
        outcome = await original(record)
        print("outcome", outcome.status, record.offset, flush=True)
        return outcome

    consumer.consume = consume_and_report  # type: ignore[method-assign]
    if args.kill_marker:
        _exit_after_first_commit(args.kill_marker)
    async with runtime.running():
        print("ready", flush=True)
        await asyncio.Event().wait()


async def _timer_child(args: argparse.Namespace) -> None:
    database = Database(args.database_url)
    await create_schema(database.engine, [*RUNTIME_TABLES, *EFFECT_TABLES])
    clock = ManualClock(datetime.fromisoformat(args.now))

    async def on_due(session: Any, timer: Timer) -> None:
        session.add(Effect(event_id=timer.key, order_id=timer.kind, seq=0, applied_by="timer"))
        if args.kill_in_handler:
            await session.flush()
            os._exit(17)  # dies mid-transaction: neither the effect nor the fired mark is committed

    poller = TimerPoller(database, clock, {"test": on_due})
    fired = await poller.fire_due()
    print("fired", fired, flush=True)
    await database.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="switchboard.runtime.testing")
    parser.add_argument("role", choices=["relay", "consumer", "timers"])
    parser.add_argument("--bootstrap", default="")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--kill-marker", default="")
    parser.add_argument("--now", default="")
    parser.add_argument("--kill-in-handler", action="store_true")
    args = parser.parse_args(argv)
    role: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, None]]] = {
        "relay": _relay_child,
        "consumer": _consumer_child,
        "timers": _timer_child,
    }
    asyncio.run(role[args.role](args))


if __name__ == "__main__":
    main(sys.argv[1:])

__all__ = ["TEST_REGISTRY", "TEST_TOPIC", "Effect", "OrderPlaced", "eventually", "read_topic", "sa"]
