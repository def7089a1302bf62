"""Routing under steady load: offer latency and capacity, on the real broker and a real database.

For each tenant size (agents x queues) a routing service is configured through its admin API, every
agent logs in and marks themselves available, then chats arrive at a steady rate as
``conversation.started`` events on Kafka. A simulated console accepts every offer over HTTP and
ends the conversation with immediate-release ACW events, so slots keep turning over.

Measured: offer latency, from publishing ``conversation.started`` to reading ``interaction.offered``
back from routing's topic (p50/p99), next to the raw aiokafka round trip at the same rate. Capacity
violations are counted from the events alone: per agent, offers that reserve a slot minus withdrawn
offers and released slots must never exceed the agent's chat capacity (events in one command share a
timestamp, and the domain always frees before it offers, so releases sort first on ties).

    uv run python -m bench routing                       # full size: 100 / 1,000 / 7,500 agents, 200/s for 60 s
    uv run python -m bench.routing --agents 100 1000 --queues 500 --rate 50 --seconds 10   # quick
PostgreSQL is used when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (a fresh database per size).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from bench.common import fmt, kafka_broker, percentiles, raw_kafka_round_trip
from switchboard.contracts import ACW_INTERACTIONS, MESSAGING_CONVERSATIONS, REGISTRY, ROUTING_INTERACTIONS
from switchboard.contracts.acw import AcwMode, AcwStarted, InteractionEnded
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.envelope import make_envelope
from switchboard.contracts.messaging import ConversationStarted
from switchboard.routing.api import build_api
from switchboard.routing.app import create_runtime, routing_of
from switchboard.runtime.testing import settings_for

CHAT_CAPACITY = 4
QUEUES_PER_AGENT = 3
IMPORT_CHUNK = 1000
LOGIN_CONCURRENCY = 40
# Releases before offers when timestamps tie (see the module docstring).
ORDER = {"slot.released": 0, "interaction.offer_withdrawn": 0, "interaction.offer_timed_out": 0}


@dataclass
class Run:
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    events: list[tuple[str, int, str, dict[str, Any]]] = field(default_factory=list)
    offered: int = 0
    accepted: Counter[int] = field(default_factory=Counter)
    fell_behind: bool = False


@contextlib.asynccontextmanager
async def database(label: str, folder: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database when one is configured, else a SQLite file."""
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not raw:
        yield f"sqlite+aiosqlite:///{folder / f'routing-{label}.db'}"
        return
    admin = make_url(raw)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bench_routing_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(dsn)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(dsn)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def envelope_bytes(payload: BaseModel, key: str) -> bytes:
    spec = REGISTRY.event_for(type(payload))
    return make_envelope(
        payload, type=spec.type, version=spec.version, source="bench", key=key, occurred_at=datetime.now(UTC)
    ).to_bytes()


async def configure(http: httpx.AsyncClient, agents: int, queues: int) -> list[str]:
    settings = {"login_prep_seconds": 0, "offer_timeout_seconds": 120, "reply_timeout_seconds": None}
    (await http.put("/admin/settings", json=settings)).raise_for_status()
    queue_ids = [str(uuid.uuid4()) for _ in range(queues)]
    body = {
        q: {"name": f"Queue {n}", "channels": ["chat"], "max_wait_seconds": 3600}
        for n, q in enumerate(queue_ids)
    }
    (await http.post("/admin/import", json={"queues": body}, timeout=600)).raise_for_status()
    agent_ids = [str(uuid.uuid4()) for _ in range(agents)]
    for start in range(0, agents, IMPORT_CHUNK):
        chunk = {
            a: {
                "name": f"Agent {start + n}",
                "capacity": {"chat": CHAT_CAPACITY},
                # Every queue gets members: agent n serves queues n, n+agents, … plus random ones.
                "queues": sorted(
                    {queue_ids[(start + n) % queues]}
                    | {random.choice(queue_ids) for _ in range(QUEUES_PER_AGENT - 1)}
                ),
            }
            for n, a in enumerate(agent_ids[start : start + IMPORT_CHUNK])
        }
        (await http.post("/admin/import", json={"agents": chunk}, timeout=600)).raise_for_status()
    gate = asyncio.Semaphore(LOGIN_CONCURRENCY)

    async def available(agent_id: str) -> None:
        async with gate:
            (await http.post(f"/agents/{agent_id}/login", timeout=120)).raise_for_status()
            (await http.post(f"/agents/{agent_id}/mark-available", timeout=120)).raise_for_status()

    await asyncio.gather(*(available(a) for a in agent_ids))
    # Only queues with a member get traffic, so every chat can be offered.
    return sorted({queue_ids[n % queues] for n in range(agents)})


async def drive(
    bootstrap: str, prefix: str, http: httpx.AsyncClient, queues: list[str], *, rate: float, seconds: float
) -> Run:
    run = Run()
    count = int(rate * seconds)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    topic = prefix + ROUTING_INTERACTIONS
    partitions = consumer.partitions_for_topic(topic)
    while partitions is None:
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
        partitions = consumer.partitions_for_topic(topic)
    assigned = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(assigned)
    await consumer.seek_to_end(*assigned)
    consoles: set[asyncio.Task[None]] = set()
    done = asyncio.Event()

    async def console(interaction_id: str, agent_id: str) -> None:
        """What an agent's console does: accept, then end with immediate-release ACW."""
        response = await http.post(f"/agents/{agent_id}/interactions/{interaction_id}/accept", timeout=120)
        run.accepted[response.status_code] += 1
        if response.status_code != 200:
            return
        iid, aid = uuid.UUID(interaction_id), uuid.UUID(agent_id)
        for payload in (
            InteractionEnded(interaction_id=iid, channel=Channel.CHAT, ended_by=Party.AGENT, agent_id=aid),
            AcwStarted(interaction_id=iid, agent_id=aid, mode=AcwMode.IMMEDIATE),
        ):
            await producer.send(
                prefix + ACW_INTERACTIONS,
                envelope_bytes(payload, interaction_id),
                key=interaction_id.encode(),
            )

    async def read() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    assert record.value is not None
                    envelope = REGISTRY.parse(record.value, topic=ROUTING_INTERACTIONS)
                    data = envelope.data.model_dump(mode="json")
                    run.events.append(
                        (envelope.occurred_at.isoformat(), ORDER.get(envelope.type, 1), envelope.type, data)
                    )
                    if envelope.type != "interaction.offered":
                        continue
                    run.offered += 1
                    sent = run.sent_at.get(data["interaction_id"])
                    if sent is not None:
                        run.latencies.append((now - sent) * 1000)
                    task = asyncio.create_task(console(data["interaction_id"], data["agent_id"]))
                    consoles.add(task)
                    task.add_done_callback(consoles.discard)
            if run.offered >= count:
                done.set()

    reader = asyncio.create_task(read())
    try:
        start = time.perf_counter()
        for n in range(count):
            target = start + n / rate
            if (delay := target - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            interaction_id = str(uuid.uuid4())
            payload = ConversationStarted(
                interaction_id=uuid.UUID(interaction_id),
                customer_id=uuid.uuid4(),
                intent="bench",
                queue_hint=random.choice(queues),
            )
            run.sent_at[interaction_id] = time.perf_counter()
            await producer.send(
                prefix + MESSAGING_CONVERSATIONS,
                envelope_bytes(payload, interaction_id),
                key=interaction_id.encode(),
            )
        try:
            await asyncio.wait_for(done.wait(), timeout=max(120.0, seconds * 4))
        except TimeoutError:
            # Fell behind: report what was decided within the window instead of nothing.
            run.fell_behind = True
        while consoles:
            await asyncio.gather(*list(consoles), return_exceptions=True)
        await asyncio.sleep(2.0)  # the last releases reach the topic
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    return run


def capacity_violations(run: Run) -> tuple[int, int]:
    """(violations, peak slots held by one agent), replayed from the events in time order."""
    held: Counter[str] = Counter()
    violations = peak = 0
    for _, _, type_, data in sorted(run.events, key=lambda e: (e[0], e[1])):
        if type_ == "interaction.offered" and data["consumes_slot"]:
            held[data["agent_id"]] += 1
            peak = max(peak, held[data["agent_id"]])
            if held[data["agent_id"]] > CHAT_CAPACITY:
                violations += 1
        elif type_ in ("slot.released", "interaction.offer_withdrawn", "interaction.offer_timed_out"):
            held[data["agent_id"]] -= 1
    return violations, peak


async def one_size(
    bootstrap: str, folder: Path, *, agents: int, queues: int, rate: float, seconds: float
) -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    async with database(f"{agents}", folder) as url:
        runtime = create_runtime(settings_for("routing", bootstrap, url, prefix, max_body_bytes=100_000_000))
        app = runtime.http_app(build_api(routing_of(runtime)))
        async with (
            runtime.running(),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as http,
        ):
            started = time.perf_counter()
            served = await configure(http, agents, queues)
            setup = time.perf_counter() - started
            run = await drive(bootstrap, prefix, http, served, rate=rate, seconds=seconds)
        raw = await raw_kafka_round_trip(
            bootstrap, count=int(rate * seconds), rate=rate, keys=min(agents, 1000)
        )
    ours = percentiles(run.latencies)
    violations, peak = capacity_violations(run)
    database_kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"  {agents:>5} agents, {queues} queues ({len(served)} staffed), {database_kind}, setup {setup:.0f} s"
    )
    print(f"    {rate:>5.0f}/s for {seconds:.0f} s  raw aiokafka produce→consume : {fmt(raw)}")
    print(f"    {rate:>5.0f}/s for {seconds:.0f} s  conversation.started→offered : {fmt(ours)}")
    print(f"    ratio p50 {ours['p50'] / raw['p50']:.1f}x  p99 {ours['p99'] / raw['p99']:.1f}x")
    print(
        f"    offers {run.offered}, accepts {dict(run.accepted)}, capacity violations {violations} "
        f"(peak {peak} of {CHAT_CAPACITY} slots), router reloads {routing_of(runtime).reloads}"
    )
    if run.fell_behind:
        print(
            f"    FELL BEHIND: {run.offered} of {len(run.sent_at)} chats offered within the window; "
            "latencies above are for those only"
        )


async def run(agent_counts: list[int], queues: int, rate: float, seconds: float) -> None:
    with kafka_broker() as bootstrap, tempfile.TemporaryDirectory() as folder:
        print(f"routing: {rate:.0f} chats/s for {seconds:.0f} s per size, broker {bootstrap}")
        for agents in agent_counts:
            await one_size(bootstrap, Path(folder), agents=agents, queues=queues, rate=rate, seconds=seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.routing")
    parser.add_argument("--agents", type=int, nargs="+", default=[100, 1000, 7500])
    parser.add_argument("--queues", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0, help="new chats per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv or [])
    asyncio.run(run(args.agents, args.queues, args.rate, args.seconds))


if __name__ == "__main__":
    main(sys.argv[1:])
