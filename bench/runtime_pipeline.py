"""The kit's own cost: state + event committed through the outbox, relayed, consumed with inbox dedupe.

Latency is measured from the start of the emitting transaction to the moment the consuming
handler's transaction commits — what every Switchboard event pays on its way between services.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import fmt, kafka_broker, percentiles, raw_kafka_round_trip
from switchboard.contracts.envelope import Envelope, parse_raw_envelope
from switchboard.runtime.consumer import Outcome, Record
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import (
    EFFECT_TABLES,
    TEST_REGISTRY,
    TEST_TOPIC,
    Effect,
    OrderPlaced,
    settings_for,
)


async def pipeline(
    bootstrap: str, database_url: str, *, count: int, rate: float, keys: int
) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    emitted_at: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    producer = ServiceRuntime(
        settings_for("producer", bootstrap, database_url + "-producer.db", prefix, outbox_poll_seconds=0.5),
        registry=TEST_REGISTRY,
    )
    consumer = ServiceRuntime(
        settings_for("consumer", bootstrap, database_url + "-consumer.db", prefix),
        registry=TEST_REGISTRY,
        tables=EFFECT_TABLES,
    )

    async def apply(session: Any, envelope: Envelope[Any]) -> None:
        session.add(
            Effect(event_id=str(envelope.id), order_id=envelope.key, seq=envelope.data.seq, applied_by="b")
        )

    events = consumer.subscribe(TEST_TOPIC, apply)
    consume = events.consume

    async def consume_and_time(record: Record) -> Outcome:
        outcome = await consume(record)  # returns after the handler's transaction committed
        seq = int(parse_raw_envelope(record.value).data["seq"])
        latencies.append((time.perf_counter() - emitted_at[seq]) * 1000)
        if len(latencies) >= count:
            done.set()
        return outcome

    events.consume = consume_and_time  # type: ignore[method-assign]
    async with producer.running(), consumer.running():
        await asyncio.sleep(1.0)  # partition assignment
        start = time.perf_counter()
        for n in range(count):
            target = start + n / rate
            if (delay := target - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            # Timed from the start of the emitting transaction: the commit is part of the price.
            emitted_at[n] = time.perf_counter()
            async with producer.transaction() as session:
                producer.emit(session, OrderPlaced(order_id=f"k{n % keys}", seq=n), key=f"k{n % keys}")
        await asyncio.wait_for(done.wait(), 300)
    return percentiles(latencies)


async def run(count: int = 3000, rates: tuple[float, ...] = (100.0, 300.0), keys: int = 200) -> None:
    with kafka_broker() as bootstrap, tempfile.TemporaryDirectory() as folder:
        print(f"runtime pipeline: {count} events per rate over {keys} keys, SQLite, broker {bootstrap}")
        for rate in rates:
            raw = await raw_kafka_round_trip(bootstrap, count=count, rate=rate, keys=keys)
            url = f"sqlite+aiosqlite:///{Path(folder) / f'r{int(rate)}'}"
            ours = await pipeline(bootstrap, url, count=count, rate=rate, keys=keys)
            print(f"  {rate:>5.0f}/s raw aiokafka produce→consume : {fmt(raw)}")
            print(f"  {rate:>5.0f}/s outbox→Kafka→inbox handler  : {fmt(ours)}")
            print(
                f"  {rate:>5.0f}/s ratio p50 {ours['p50'] / raw['p50']:.1f}x  p99 {ours['p99'] / raw['p99']:.1f}x"
            )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
