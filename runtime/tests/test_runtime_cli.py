"""The operator's CLI reads what the kit keeps: durable timers and the outbox backlog."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from switchboard.runtime import timers
from switchboard.runtime.cli import app
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.db import Database, create_schema
from switchboard.runtime.tables import RUNTIME_TABLES
from switchboard.runtime.timers import Timer, TimerPoller

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_timers_and_outbox_commands(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    database = Database(database_url)
    await create_schema(database.engine, RUNTIME_TABLES)
    async with database.transaction() as session:
        await timers.schedule(session, "acw_expiry", "interaction-1", T0 + timedelta(days=1), now=T0)
        await timers.schedule(session, "broken", "interaction-2", T0, now=T0)

    async def refuse(session: object, timer: Timer) -> None:
        raise RuntimeError("downstream refused")

    clock = ManualClock(T0)
    poller = TimerPoller(database, clock, {"broken": refuse})
    for _ in range(timers.MAX_TIMER_ATTEMPTS):
        await poller.fire_due()
        clock.advance(timedelta(minutes=5))
    await database.dispose()

    monkeypatch.setenv("ACW_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    # The commands run their own event loop, as they do from a shell.
    pending = await asyncio.to_thread(run, "timers", "acw")
    assert pending.exit_code == 0, pending.output
    assert "interaction-1" in pending.output
    assert "interaction-2" not in pending.output
    broken = await asyncio.to_thread(run, "timers", "acw", "--failed")
    assert "interaction-2" in broken.output
    assert "downstream refused" in broken.output
    outbox = await asyncio.to_thread(run, "outbox", "acw")
    assert json.loads(outbox.output) == {"service": "acw", "pending": 0}


def test_timers_of_a_service_that_never_ran_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(app, ["timers", "acw"])
    assert result.exit_code == 1
    assert "cannot read acw's timers" in result.output
