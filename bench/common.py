"""What every benchmark needs: a real broker, percentiles, and a raw-Kafka baseline to compare with."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from switchboard.runtime.launcher import load_kafka_launcher

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def kafka_broker() -> Iterator[str]:
    """``KAFKA_BOOTSTRAP_SERVERS`` when set, otherwise a throwaway broker from deploy/kafka/."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    server: Any = load_kafka_launcher(ROOT).KafkaServer()
    server.start()
    try:
        yield server.bootstrap_servers
    finally:
        server.stop()


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"n": len(ordered), "p50": cuts[49], "p99": cuts[98], "max": ordered[-1]}


def fmt(stats: dict[str, float]) -> str:
    return (
        f"n={int(stats['n'])} p50={stats['p50']:.2f} ms p99={stats['p99']:.2f} ms max={stats['max']:.2f} ms"
    )


async def create_topic(bootstrap: str, name: str, partitions: int = 6) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        for _ in range(100):
            described = await admin.describe_topics([name])
            if all(p.get("leader", -1) >= 0 for t in described for p in t.get("partitions", [])):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def raw_kafka_round_trip(bootstrap: str, *, count: int, rate: float, keys: int) -> dict[str, float]:
    """Produce→consume latency with bare aiokafka (acks=all, idempotent), at the same rate and key spread."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic)
    # Offsets committed in the background every 200 ms: what the runtime's batched commits do, so the
    # comparison is like with like.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=200,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    done = asyncio.Event()

    async def consume() -> None:
        async for record in consumer:
            assert record.value is not None
            sent = float(record.value.split(b"|", 1)[0])
            latencies.append((time.perf_counter() - sent) * 1000)
            if len(latencies) >= count:
                done.set()
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(1.0)  # partition assignment
    try:
        start = time.perf_counter()
        for n in range(count):
            target = start + n / rate
            if (delay := target - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            await producer.send(
                topic, f"{time.perf_counter()}|{'x' * 300}".encode(), key=f"k{n % keys}".encode()
            )
        await asyncio.wait_for(done.wait(), 120)
    finally:
        task.cancel()
        await producer.stop()
        await consumer.stop()
    return percentiles(latencies)
