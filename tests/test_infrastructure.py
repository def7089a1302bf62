"""The shared fixtures reach real infrastructure: a Kafka broker and both databases."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.kafka
async def test_broker_round_trips_a_record(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}infrastructure.check"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"ping", key=b"k1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=60)
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"k1", b"ping")


def test_topic_prefixes_differ_per_test(topic_prefix: str) -> None:
    assert topic_prefix.startswith("t")
    assert topic_prefix.endswith(".")
    assert len(topic_prefix) == 10


async def test_database_answers(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
