"""Chat delivery: an agent's send (HTTP, in-process) until the customer side consumes ``chat.message.sent``.

Latency runs from the moment the agent's request starts to the moment a plain Kafka consumer (standing in
for the gateway that pushes to the customer's widget) reads the event: validation, masking, the
transaction with its outbox row, the relay, the broker. Measured at several rates across many
conversations, next to bare aiokafka produce→consume at the same rate and key spread in the same run.

    uv run python -m bench chat                                    # defaults
    uv run python -m bench.chat --count 300 --conversations 100   # a short run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import fmt, kafka_broker, percentiles, raw_kafka_round_trip
from switchboard.contracts import MESSAGING_MESSAGES, ROUTING_INTERACTIONS
from switchboard.contracts.common import Channel
from switchboard.contracts.routing import ArrivalSummary, InteractionAssigned
from switchboard.messaging.testing import Harness, actor, running
from switchboard.runtime.clock import SystemClock
from switchboard.runtime.settings import ServiceSettings
from switchboard.runtime.testing import eventually


async def _conversations(h: Harness, count: int) -> list[tuple[str, str]]:
    """``count`` live chats, each assigned to one of 50 agents through routing's real event."""
    agents = [str(uuid.uuid4()) for _ in range(50)]
    chats: list[tuple[str, str]] = []
    for n in range(count):
        conversation = await h.start(str(uuid.uuid4()), customer_name=f"Customer {n}")
        agent = agents[n % len(agents)]
        await h.publish(
            ROUTING_INTERACTIONS,
            InteractionAssigned(
                interaction_id=UUID(conversation),
                agent_id=UUID(agent),
                channel=Channel.CHAT,
                queue_id=UUID(h.queue_id),
                auto_answer=False,
                arrival=ArrivalSummary(agent_name="Agent", queue_name="Bench", wait_time_seconds=1),
            ),
            key=conversation,
        )
        chats.append((conversation, agent))

    async def all_assigned() -> bool:
        async def work(session: AsyncSession) -> int:
            found = await session.scalar(
                text("SELECT count(*) FROM msg_conversations WHERE agent_id IS NOT NULL")
            )
            return int(found or 0)

        return await h.messaging.read(work) >= count

    await eventually(all_assigned, timeout=120)
    return chats


async def _round(
    h: Harness, chats: list[tuple[str, str]], *, count: int, rate: float
) -> tuple[dict[str, float], dict[str, float]]:
    tag = uuid.uuid4().hex[:6]
    started: dict[str, float] = {}
    delivered: list[float] = []
    accepted: list[float] = []
    done = asyncio.Event()
    consumer = AIOKafkaConsumer(bootstrap_servers=h.bootstrap, enable_auto_commit=False)
    await consumer.start()
    topic = h.prefix + MESSAGING_MESSAGES
    while not consumer.partitions_for_topic(topic):
        await consumer._client.force_metadata_update()
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)

    async def receive() -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    envelope: dict[str, Any] = json.loads(record.value)
                    sent_at = started.get(envelope["data"].get("client_id", ""))
                    if envelope["type"] == "chat.message.sent" and sent_at is not None:
                        delivered.append((now - sent_at) * 1000)
            if len(delivered) >= count:
                done.set()

    async def send(n: int) -> None:
        conversation, agent = chats[n % len(chats)]
        client_id = f"{tag}-{n}"
        started[client_id] = time.perf_counter()
        response = await h.http.post(
            f"/conversations/{conversation}/messages",
            json={"client_id": client_id, "text": f"Message {n}: your appointment is confirmed for 1 pm."},
            headers=actor("agent", agent),
        )
        if response.status_code != 201:
            raise RuntimeError(f"send failed: {response.status_code} {response.text}")
        accepted.append((time.perf_counter() - started[client_id]) * 1000)

    receiver = asyncio.create_task(receive())
    senders: list[asyncio.Task[None]] = []
    try:
        begin = time.perf_counter()
        for n in range(count):
            if (delay := begin + n / rate - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            senders.append(asyncio.create_task(send(n)))
        await asyncio.gather(*senders)
        await asyncio.wait_for(done.wait(), 120)
    finally:
        done.set()
        await receiver
        await consumer.stop()
    return percentiles(accepted), percentiles(delivered)


async def run(count: int, rates: list[float], conversations: int) -> None:
    with kafka_broker() as bootstrap, tempfile.TemporaryDirectory() as folder:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        url = f"sqlite+aiosqlite:///{Path(folder) / 'messaging.db'}"
        # The kit's production poll intervals (tests use faster ones); commits wake the relay anyway.
        kit = ServiceSettings()
        async with running(
            bootstrap,
            url,
            prefix,
            Path(folder),
            clock=SystemClock(),
            outbox_poll_seconds=kit.outbox_poll_seconds,
            timer_poll_seconds=kit.timer_poll_seconds,
        ) as h:
            chats = await _conversations(h, conversations)
            print(
                f"chat delivery: {count} agent messages per rate over {conversations} conversations, SQLite"
            )
            for rate in rates:
                raw = await raw_kafka_round_trip(bootstrap, count=count, rate=rate, keys=conversations)
                accepted, delivered = await _round(h, chats, count=count, rate=rate)
                print(f"  {rate:>5.0f}/s raw aiokafka produce→consume     : {fmt(raw)}")
                print(f"  {rate:>5.0f}/s agent send → 201 (HTTP accepted) : {fmt(accepted)}")
                print(f"  {rate:>5.0f}/s agent send → customer consumes   : {fmt(delivered)}")
                print(
                    f"  {rate:>5.0f}/s ratio to raw Kafka p50 {delivered['p50'] / raw['p50']:.1f}x  "
                    f"p99 {delivered['p99'] / raw['p99']:.1f}x"
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500, help="messages per rate")
    parser.add_argument("--rates", default="50,150,300", help="messages per second, comma-separated")
    parser.add_argument("--conversations", type=int, default=500)
    args = parser.parse_args(argv or [])
    asyncio.run(run(args.count, [float(r) for r in args.rates.split(",")], args.conversations))


if __name__ == "__main__":
    main(sys.argv[1:])
