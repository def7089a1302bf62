"""Inbox dedupe, retries and dead letters against the real broker and both databases."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from switchboard.contracts.envelope import Envelope, make_envelope
from switchboard.contracts.registry import dlq_name
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.testing import (
    EFFECT_TABLES,
    TEST_REGISTRY,
    TEST_TOPIC,
    Effect,
    OrderPlaced,
    effects,
    eventually,
    read_topic,
    settings_for,
)

pytestmark = pytest.mark.kafka


def _order(order_id: str, seq: int, note: str = "") -> Envelope[Any]:
    return make_envelope(
        OrderPlaced(order_id=order_id, seq=seq, note=note),
        type="order.placed",
        version=1,
        source="tester",
        key=order_id,
        occurred_at=datetime.now(UTC),
    )


async def _produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _runtime(kafka_bootstrap: str, database_url: str, topic_prefix: str) -> tuple[ServiceRuntime, list[str]]:
    runtime = ServiceRuntime(
        settings_for("tester", kafka_bootstrap, database_url, topic_prefix),
        registry=TEST_REGISTRY,
        tables=EFFECT_TABLES,
    )
    attempts: list[str] = []

    async def apply(session: Any, envelope: Envelope[Any]) -> None:
        attempts.append(envelope.data.note)
        if envelope.data.note == "poison":
            raise ValueError(f"cannot apply order {envelope.data.order_id}")
        session.add(
            Effect(
                event_id=str(envelope.id),
                order_id=envelope.data.order_id,
                seq=envelope.data.seq,
                applied_by="t",
            )
        )

    runtime.subscribe(TEST_TOPIC, apply)
    return runtime, attempts


async def test_same_envelope_three_times_has_one_effect(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    runtime, _ = _runtime(kafka_bootstrap, database_url, topic_prefix)
    event = _order("o-1", 1)
    marker = _order("o-1", 2, "marker")
    async with runtime.running():
        await _produce(
            kafka_bootstrap,
            topic_prefix + TEST_TOPIC,
            [(b"o-1", event.to_bytes())] * 3 + [(b"o-1", marker.to_bytes())],
        )

        async def marker_applied() -> bool:
            return any(e.event_id == str(marker.id) for e in await effects(runtime.database))

        await eventually(marker_applied)
        applied = [e.event_id for e in await effects(runtime.database)]
        assert applied == [str(event.id), str(marker.id)]
        assert runtime.consumers[0].duplicates == 2


async def test_failing_handler_dead_letters_after_three_attempts_and_partition_moves_on(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    runtime, attempts = _runtime(kafka_bootstrap, database_url, topic_prefix)
    poison = _order("o-2", 1, "poison")
    after = _order("o-2", 2, "after")
    async with runtime.running():
        await _produce(
            kafka_bootstrap,
            topic_prefix + TEST_TOPIC,
            [(b"o-2", poison.to_bytes()), (b"o-2", after.to_bytes())],
        )

        async def after_applied() -> bool:
            return any(e.event_id == str(after.id) for e in await effects(runtime.database))

        await eventually(after_applied)
        dead = await read_topic(
            kafka_bootstrap, dlq_name(topic_prefix + TEST_TOPIC), until=lambda rs: len(rs) >= 1
        )
    assert attempts.count("poison") == 3
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["x-dlq-attempts"] == "3"
    assert "ValueError: cannot apply order o-2" in headers["x-dlq-error"]
    assert headers["x-dlq-topic"] == topic_prefix + TEST_TOPIC
    assert dead[0].value == poison.to_bytes()  # the original bytes, untouched
    assert dead[0].key == b"o-2"
    # The poison event left no partial effect behind.
    assert [e.event_id for e in await effects(runtime.database)] == [str(after.id)]


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"\xff\xfe\x00 not json at all", "not JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'{"id": "nope"}', "invalid envelope"),
        (
            b'{"id": "8d3f0f5e-6a43-4bb9-9a32-0f8b4b4d5a10", "type": "order.placed", "version": 1, '
            b'"occurred_at": "2026-01-01T00:00:00Z", "source": "x", "key": "k", "data": {"order_id": 5}}',
            "invalid order.placed.v1 payload",
        ),
        (
            b'{"id": "8d3f0f5e-6a43-4bb9-9a32-0f8b4b4d5a11", "type": "order.unknown", "version": 1, '
            b'"occurred_at": "2026-01-01T00:00:00Z", "source": "x", "key": "k", "data": {}}',
            "unknown event type",
        ),
    ],
    ids=["bytes", "array", "envelope", "payload", "unknown-type"],
)
async def test_malformed_records_go_to_dlq_and_the_consumer_stays_alive(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, garbage: bytes, reason: str
) -> None:
    runtime, attempts = _runtime(kafka_bootstrap, database_url, topic_prefix)
    good = _order("o-3", 1, "good")
    async with runtime.running():
        await _produce(
            kafka_bootstrap, topic_prefix + TEST_TOPIC, [(b"o-3", garbage), (b"o-3", good.to_bytes())]
        )

        async def good_applied() -> bool:
            return any(e.event_id == str(good.id) for e in await effects(runtime.database))

        await eventually(good_applied)
        dead = await read_topic(
            kafka_bootstrap, dlq_name(topic_prefix + TEST_TOPIC), until=lambda rs: len(rs) >= 1
        )
    assert attempts == ["good"]  # malformed input never reaches the handler
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert reason in headers["x-dlq-error"]
    assert headers["x-dlq-attempts"] == "0"
    assert dead[0].value == garbage


def _consumer_child(
    bootstrap: str, database_url: str, prefix: str, marker: Path | None
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "switchboard.runtime.testing",
        "consumer",
        "--bootstrap",
        bootstrap,
        "--database-url",
        database_url,
        "--prefix",
        prefix,
    ]
    if marker is not None:
        command += ["--kill-marker", str(marker)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


async def _read_line(child: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert child.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), timeout)
    return line.strip()


async def test_consumer_killed_between_db_commit_and_offset_commit_applies_once(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    await create_schema(database.engine, [*RUNTIME_TABLES, *EFFECT_TABLES])
    marker = tmp_path / "killed"
    event = _order("o-4", 1)
    first = _consumer_child(kafka_bootstrap, database_url, topic_prefix, marker)
    try:
        assert await _read_line(first) == "ready"
        await _produce(kafka_bootstrap, topic_prefix + TEST_TOPIC, [(b"o-4", event.to_bytes())])
        # The child commits the effect and the inbox row, then dies before committing its offset.
        assert await asyncio.to_thread(first.wait, 60) == 17
    finally:
        first.kill()
    assert marker.exists()
    assert [e.event_id for e in await effects(database)] == [str(event.id)]

    second = _consumer_child(kafka_bootstrap, database_url, topic_prefix, None)
    try:
        assert await _read_line(second) == "ready"
        # Kafka delivers the uncommitted record again; the inbox recognises it.
        assert (await _read_line(second)).startswith("outcome duplicate")
    finally:
        second.kill()
        second.wait()
    assert [e.event_id for e in await effects(database)] == [str(event.id)]
    await database.dispose()


async def test_unique_event_ids_each_apply(
    kafka_bootstrap: str, database_url: str, topic_prefix: str
) -> None:
    runtime, _ = _runtime(kafka_bootstrap, database_url, topic_prefix)
    events = [_order(f"k-{n % 3}", n) for n in range(30)]
    async with runtime.running():
        await _produce(
            kafka_bootstrap, topic_prefix + TEST_TOPIC, [(e.key.encode(), e.to_bytes()) for e in events]
        )

        async def all_applied() -> bool:
            return len(await effects(runtime.database)) == len(events)

        await eventually(all_applied)
        per_key: dict[str, list[int]] = {}
        for effect in await effects(runtime.database):
            per_key.setdefault(effect.order_id, []).append(effect.seq)
    # Per key, handlers saw the events in the order they were produced.
    assert all(seqs == sorted(seqs) for seqs in per_key.values())
    assert uuid4()  # ids are random: the two runs above never collide
