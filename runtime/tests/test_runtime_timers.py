"""Durable timers: due during a restart → fires once after it; cancelled → never fires."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.runtime import timers
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.testing import EFFECT_TABLES, Effect, effects
from switchboard.runtime.timers import Timer, TimerPoller

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _database(url: str) -> Database:
    database = Database(url)
    await create_schema(database.engine, [*RUNTIME_TABLES, *EFFECT_TABLES])
    return database


def _poll_in_child(database_url: str, now: datetime, *, kill_in_handler: bool = False) -> tuple[int, str]:
    """One process lifetime: start, fire what is due at ``now``, exit (or die inside the handler)."""
    command = [
        sys.executable,
        "-m",
        "switchboard.runtime.testing",
        "timers",
        "--database-url",
        database_url,
        "--now",
        now.isoformat(),
    ]
    if kill_in_handler:
        command.append("--kill-in-handler")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout.strip()


async def test_timer_due_during_a_restart_fires_exactly_once_after_it(database_url: str) -> None:
    database = await _database(database_url)
    async with database.transaction() as session:
        await timers.schedule(session, "test", "offer-1", T0 + timedelta(seconds=10), now=T0)

    # Before the deadline a process fires nothing.
    assert await asyncio.to_thread(_poll_in_child, database_url, T0 + timedelta(seconds=5)) == (0, "fired 0")
    # The deadline passes while the service is down; the next process dies in the middle of firing.
    code, _ = await asyncio.to_thread(
        _poll_in_child, database_url, T0 + timedelta(seconds=20), kill_in_handler=True
    )
    assert code == 17
    assert await effects(database) == []  # the half-done firing was rolled back with the process
    # After the restart it fires once, and never again.
    assert await asyncio.to_thread(_poll_in_child, database_url, T0 + timedelta(seconds=21)) == (0, "fired 1")
    assert await asyncio.to_thread(_poll_in_child, database_url, T0 + timedelta(seconds=60)) == (0, "fired 0")
    assert [e.event_id for e in await effects(database)] == ["offer-1"]
    await database.dispose()


async def test_cancelled_timer_never_fires(database_url: str) -> None:
    database = await _database(database_url)
    async with database.transaction() as session:
        await timers.schedule(session, "test", "offer-2", T0 + timedelta(seconds=10), now=T0)
    async with database.transaction() as session:
        assert await timers.cancel(session, "test", "offer-2", now=T0 + timedelta(seconds=1))
    assert await asyncio.to_thread(_poll_in_child, database_url, T0 + timedelta(hours=1)) == (0, "fired 0")
    async with database.transaction() as session:
        assert await timers.pending(session, "test", "offer-2") is None
        assert not await timers.cancel(session, "test", "offer-2", now=T0 + timedelta(hours=1))
    assert await effects(database) == []
    await database.dispose()


async def test_poller_fires_when_the_injected_clock_moves_and_reschedule_moves_the_deadline(
    database_url: str,
) -> None:
    database = await _database(database_url)
    clock = ManualClock(T0)
    fired: list[tuple[str, datetime]] = []

    async def on_due(session: Any, timer: Timer) -> None:
        fired.append((timer.key, clock.now()))
        session.add(Effect(event_id=timer.key, order_id="t", seq=0, applied_by="timer"))

    poller = TimerPoller(database, clock, {"test": on_due}, poll_seconds=0.05)
    task = asyncio.create_task(poller.run())
    try:
        async with database.transaction() as session:
            await timers.schedule(session, "test", "acw-1", T0 + timedelta(seconds=30), now=T0)
            await timers.schedule(session, "test", "acw-2", T0 + timedelta(seconds=30), now=T0)
        async with database.transaction() as session:
            # Scheduling the same kind and key again moves the one timer; it does not add a second.
            await timers.schedule(session, "test", "acw-2", T0 + timedelta(seconds=90), now=T0)
        clock.advance(timedelta(seconds=31))
        while len(fired) < 1:
            await asyncio.sleep(0.01)
        assert [k for k, _ in fired] == ["acw-1"]
        clock.advance(timedelta(seconds=60))
        while len(fired) < 2:
            await asyncio.sleep(0.01)
        assert [k for k, _ in fired] == ["acw-1", "acw-2"]
    finally:
        poller.stop()
        await asyncio.wait_for(task, 5)
    await database.dispose()


async def test_failing_timer_handler_is_retried_then_kept_as_failed(database_url: str) -> None:
    database = await _database(database_url)
    clock = ManualClock(T0)
    calls = 0

    async def broken(session: Any, timer: Timer) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("downstream refused")

    poller = TimerPoller(database, clock, {"test": broken}, retry_backoff=timedelta(seconds=1))
    async with database.transaction() as session:
        await timers.schedule(session, "test", "x", T0, now=T0)
    for _ in range(timers.MAX_TIMER_ATTEMPTS):
        await poller.fire_due()
        clock.advance(timedelta(seconds=60))
    assert calls == timers.MAX_TIMER_ATTEMPTS
    await poller.fire_due()
    assert calls == timers.MAX_TIMER_ATTEMPTS  # given up, not dropped: the row says why
    from sqlmodel import select

    from switchboard.runtime.tables import TimerRow

    async with database.sessions() as session:
        row = (await session.scalars(select(TimerRow))).one()
    assert row.failed_at is not None
    assert row.last_error == "RuntimeError: downstream refused"
    assert row.fired_at is None
    await database.dispose()
