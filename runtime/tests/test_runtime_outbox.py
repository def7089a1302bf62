"""Outbox against the real broker and both databases."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import defaultdict

import pytest

from switchboard.contracts.envelope import ContractError, Payload, parse_raw_envelope
from switchboard.runtime.clock import SystemClock
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.outbox import Outbox, pending_count
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.testing import TEST_REGISTRY, TEST_TOPIC, OrderPlaced, read_topic, settings_for

pytestmark = pytest.mark.kafka

KEYS = [f"order-{n}" for n in range(10)]


async def _sent(database: Database) -> int:
    return 1000 - await pending_count(database)


def _start_relay(bootstrap: str, database_url: str, prefix: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchboard.runtime.testing",
            "relay",
            "--bootstrap",
            bootstrap,
            "--database-url",
            database_url,
            "--prefix",
            prefix,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    return child


async def _wait_until(database: Database, at_least: int, child: subprocess.Popen[str]) -> None:
    while await _sent(database) < at_least:
        assert child.poll() is None, "relay child died on its own"
        await asyncio.sleep(0.02)


async def test_thousand_events_survive_two_relay_kills_in_order_per_key(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    database = Database(database_url)
    await create_schema(database.engine, RUNTIME_TABLES)
    outbox = Outbox(source="tester", registry=TEST_REGISTRY, clock=SystemClock(), topic_prefix=topic_prefix)
    relay = _start_relay(kafka_bootstrap, database_url, topic_prefix)
    kills = 0
    emitted: dict[str, list[str]] = defaultdict(list)
    try:
        seq = 0
        # 1,000 events in transactions of varying size, while the relay publishes concurrently.
        while seq < 1000:
            size = min(1 + seq % 7, 1000 - seq)
            async with database.transaction() as session:
                for _ in range(size):
                    key = KEYS[seq % len(KEYS)]
                    envelope = outbox.emit(session, OrderPlaced(order_id=key, seq=seq), key=key)
                    emitted[key].append(str(envelope.id))
                    seq += 1
            if kills < 2 and seq >= 300 * (kills + 1):
                await _wait_until(database, 150 * (kills + 1), relay)
                relay.kill()
                relay.wait()
                kills += 1
                relay = _start_relay(kafka_bootstrap, database_url, topic_prefix)
        assert kills == 2
        while await pending_count(database) > 0:
            assert relay.poll() is None
            await asyncio.sleep(0.05)
    finally:
        relay.kill()
        relay.wait()

    want = {event_id for ids in emitted.values() for event_id in ids}
    records = await read_topic(
        kafka_bootstrap,
        topic_prefix + TEST_TOPIC,
        until=lambda rs: want <= {str(parse_raw_envelope(r.value).id) for r in rs if r.value},
    )
    seen_order: dict[str, list[str]] = defaultdict(list)
    for record in records:
        assert record.value is not None
        envelope = parse_raw_envelope(record.value)
        assert record.key == envelope.key.encode()
        if str(envelope.id) not in seen_order[envelope.key]:
            seen_order[envelope.key].append(str(envelope.id))
    # Every event arrived, and per key in the order it was emitted (a re-publish after a kill may repeat
    # a suffix, which the consumers' inbox absorbs, but never reorders first appearances).
    assert {k: v for k, v in seen_order.items()} == dict(emitted)
    await database.dispose()


async def test_rolled_back_transaction_emits_nothing(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    runtime = ServiceRuntime(
        settings_for("tester", kafka_bootstrap, database_url, topic_prefix), registry=TEST_REGISTRY
    )
    async with runtime.running():
        with pytest.raises(RuntimeError, match="changed my mind"):
            async with runtime.transaction() as session:
                runtime.emit(session, OrderPlaced(order_id="a", seq=1, note="ghost"), key="a")
                raise RuntimeError("changed my mind")
        async with runtime.transaction() as session:
            marker = runtime.emit(session, OrderPlaced(order_id="a", seq=2, note="marker"), key="a")
        records = await read_topic(
            kafka_bootstrap,
            topic_prefix + TEST_TOPIC,
            until=lambda rs: any(r.value and parse_raw_envelope(r.value).id == marker.id for r in rs),
        )
    notes = [parse_raw_envelope(r.value).data["note"] for r in records if r.value]
    assert notes == ["marker"]


async def test_emit_refuses_a_payload_no_event_carries(database_url: str) -> None:
    database = Database(database_url)
    await create_schema(database.engine, RUNTIME_TABLES)
    outbox = Outbox(source="tester", registry=TEST_REGISTRY, clock=SystemClock())
    async with database.transaction() as session:
        with pytest.raises(ContractError, match="Payload is not the payload of any registered event"):
            outbox.emit(session, Payload(), key="k")
    assert await pending_count(database) == 0
    await database.dispose()
