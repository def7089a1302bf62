"""Offset commits after processing, batched.

The inbox already makes a redelivered event harmless, so committing every record (a broker round trip
each) buys nothing but latency. Offsets of processed records are committed at most every
``interval`` seconds, at once after a dead letter (a dead-lettered record has no inbox row to absorb
its redelivery), and on shutdown. Only offsets of records whose handling finished are ever committed:
a crash can repeat work, never skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka import TopicPartition

from switchboard.runtime.logs import get_logger

log = get_logger(__name__)


class OffsetCommitter:
    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._pending: dict[int, tuple[Any, dict[TopicPartition, int]]] = {}
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def processed(
        self, consumer: Any, topic: str, partition: int, offset: int, *, urgent: bool
    ) -> None:
        _, offsets = self._pending.setdefault(id(consumer), (consumer, {}))
        offsets[TopicPartition(topic, partition)] = offset + 1
        if urgent or time.monotonic() - self._last >= self.interval:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, {}
            self._last = time.monotonic()
            for consumer, offsets in pending.values():
                try:
                    await consumer.commit(offsets)
                except Exception as exc:
                    # A partition moved to another member meanwhile: its new owner starts from the last
                    # commit and the inbox absorbs what is delivered twice.
                    log.warning("offset commit failed", error=str(exc), partitions=len(offsets))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)
            if self._pending:
                await self.flush()
