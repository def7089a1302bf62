"""The one injectable clock: services never call ``datetime.now`` themselves.

Durable timers, offer countdowns and ACW deadlines compare against ``clock.now()``; tests use
:class:`ManualClock` and advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def changed(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, or less if the clock was moved by hand."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def changed(self, timeout: float) -> None:
        await asyncio.sleep(timeout)


class ManualClock:
    """A clock that only moves when told to; pollers wake as soon as it does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)).astimezone(UTC)
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("time never runs backwards")
        self._now += step
        self._moved.set()
        return self._now

    def set(self, when: datetime) -> None:
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("time never runs backwards")
        self._now = when
        self._moved.set()

    async def changed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._moved.wait(), timeout)
        except TimeoutError:
            return
        finally:
            self._moved.clear()
