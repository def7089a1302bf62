"""The outbox rides out a broker outage: events wait in the table and all arrive once Kafka is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchboard.contracts.envelope import parse_raw_envelope
from switchboard.runtime.launcher import load_kafka_launcher
from switchboard.runtime.outbox import pending_count
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import (
    TEST_REGISTRY,
    TEST_TOPIC,
    OrderPlaced,
    eventually,
    read_topic,
    settings_for,
)

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


async def test_events_emitted_during_a_broker_outage_are_published_when_it_returns(
    database_url: str, tmp_path: Path
) -> None:
    launcher = load_kafka_launcher(ROOT)
    port, controller = launcher.free_port(), launcher.free_port()
    broker: Any = launcher.KafkaServer(port=port, controller_port=controller, data_dir=tmp_path / "kafka")
    broker.start()
    bootstrap = broker.bootstrap_servers
    runtime = ServiceRuntime(
        settings_for("tester", bootstrap, database_url, "outage.", kafka_request_timeout_ms=2000),
        registry=TEST_REGISTRY,
    )
    try:
        async with runtime.running():
            emitted = []
            async with runtime.transaction() as session:
                emitted.append(runtime.emit(session, OrderPlaced(order_id="o", seq=0), key="o").id)

            async def drained() -> bool:
                return await pending_count(runtime.database) == 0

            await eventually(drained)
            broker.stop()  # the data dir stays: the same broker comes back below
            for seq in range(1, 21):
                async with runtime.transaction() as session:
                    emitted.append(runtime.emit(session, OrderPlaced(order_id="o", seq=seq), key="o").id)
            assert await pending_count(runtime.database) > 0  # nothing can be published now
            broker.start()
            await eventually(drained, timeout=90)
        records = await read_topic(
            bootstrap,
            "outage." + TEST_TOPIC,
            until=lambda rs: {parse_raw_envelope(r.value).id for r in rs if r.value} >= set(emitted),
            timeout=60,
        )
        first_seen: list[Any] = []
        for record in records:
            assert record.value is not None
            event_id = parse_raw_envelope(record.value).id
            if event_id not in first_seen:
                first_seen.append(event_id)
        assert first_seen == emitted  # all of them, in order
    finally:
        broker.stop()
