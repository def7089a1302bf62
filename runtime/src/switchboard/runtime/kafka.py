"""Kafka plumbing shared by every service: the FastStream broker, topic creation, raw decoding."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from switchboard.contracts.registry import TopicSpec, dlq_name
from switchboard.runtime.logs import get_logger
from switchboard.runtime.tables import OutboxRow

log = get_logger(__name__)


def create_broker(bootstrap_servers: str, client_id: str, *, request_timeout_ms: int = 40_000) -> KafkaBroker:
    # Idempotent producer with acks=all: a retried send never duplicates or reorders within a partition.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=request_timeout_ms,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        logger=None,
        graceful_timeout=10.0,
    )


async def raw_body(message: Any) -> bytes:
    """FastStream decoder that hands over the record's bytes: the runtime parses envelopes itself, so
    that bytes which are not JSON reach the dead-letter topic instead of failing inside the framework."""
    body: bytes = message.body
    return body


async def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], prefix: str = "", *, partitions: int | None = None
) -> None:
    """Create each topic (and its dead-letter topic) if missing; existing topics are left as they are."""
    wanted: dict[str, NewTopic] = {}
    for spec in specs:
        config = {"retention.ms": str(spec.retention_ms)}
        count = partitions or spec.partitions
        wanted[prefix + spec.name] = NewTopic(prefix + spec.name, count, 1, topic_configs=config)
        dlq = prefix + dlq_name(spec.name)
        # Dead letters are kept far longer than the events: an operator has to see them first.
        wanted[dlq] = NewTopic(dlq, 1, 1, topic_configs={"retention.ms": str(30 * 24 * 3600 * 1000)})
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for name, topic in wanted.items() if name not in existing]
        if missing:
            # Another replica may have created them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        await _wait_for_leaders(admin, [t.name for t in missing])
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], attempts: int = 50) -> None:
    # A consumer that subscribes before the new partitions have leaders waits a whole metadata refresh
    # (minutes) before it sees them; waiting here keeps start-up quick and deterministic.
    if not names:
        return
    for _ in range(attempts):
        described = await admin.describe_topics(names)
        if all(t.get("error_code", 0) == 0 and t.get("partitions") for t in described) and all(
            p.get("leader", -1) >= 0 for t in described for p in t["partitions"]
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("topics created but leaders not yet known", topics=names)


async def publish_rows(broker: KafkaBroker, rows: list[OutboxRow]) -> None:
    """Send a batch in order and wait for every acknowledgement."""
    futures = []
    for row in rows:
        headers = json.loads(row.headers)
        headers["content-type"] = "application/json"
        futures.append(
            await broker.publish(
                row.body.encode(),
                row.topic,
                key=row.key.encode(),
                headers=headers,
                correlation_id=headers.get("correlation-id"),
                no_confirm=True,
            )
        )
    await asyncio.gather(*futures)


async def publish_dead_letter(
    broker: KafkaBroker, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
) -> None:
    await broker.publish(value, topic, key=key, headers=headers)
