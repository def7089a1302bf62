"""The ACW countdown is durable: a process killed (SIGKILL) while it runs neither loses nor doubles it."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlmodel import col, select

from switchboard.acw.models import InteractionRow
from switchboard.acw.testing import AcwHarness, of
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.messaging import ConversationEnded
from switchboard.contracts.routing import ArrivalSummary, InteractionAssigned
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.db import Database
from switchboard.runtime.tables import OutboxRow, TimerRow

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TIMEOUT = 30


class Child:
    """One ACW process, its clock stopped at ``now``."""

    def __init__(self, process: asyncio.subprocess.Process, ready: str) -> None:
        self.process = process
        self.ready = ready

    @classmethod
    async def start(cls, harness: AcwHarness, now: datetime, log: Path) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.acw.testing",
            "serve",
            "--bootstrap",
            harness.bootstrap,
            "--database-url",
            harness.database_url,
            "--prefix",
            harness.prefix,
            "--now",
            now.isoformat(),
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("ab"),
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
        assert line.startswith(b"ready"), (line, f"see {log}")
        return cls(process, line.decode().strip())

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.process.wait(), timeout=30) == -signal.SIGKILL


async def _count(database: Database, event_type: str, key: UUID) -> int:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(OutboxRow).where(col(OutboxRow.type) == event_type, col(OutboxRow.key) == str(key))
        )
        return len(rows.all())


async def test_countdown_killed_mid_way_expires_exactly_once_after_the_restart(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    harness = AcwHarness(kafka_bootstrap, database_url, topic_prefix, ManualClock(T0))
    await harness.start()
    database = Database(database_url)
    try:
        queue_id, agent, iid = uuid4(), uuid4(), uuid4()
        answer = await harness.call(
            "PUT", f"/admin/queues/{queue_id}/acw", body={"mode": "timed", "timeout_seconds": TIMEOUT}
        )
        assert answer.status_code == 200, answer.text
        await harness.stop(producer=False)  # from here on, only child processes run ACW
        log = tmp_path / "children.log"

        first = await Child.start(harness, T0, log)
        await harness.send(
            InteractionAssigned(
                interaction_id=iid,
                agent_id=agent,
                channel=Channel.CHAT,
                queue_id=queue_id,
                auto_answer=False,
                arrival=ArrivalSummary(agent_name="Ann", queue_name="Sales", wait_time_seconds=1),
            ),
            key=iid,
        )
        await harness.send(ConversationEnded(interaction_id=iid, ended_by=Party.CUSTOMER), key=iid)
        events = await harness.published(lambda es: len(of(es, "acw.started", iid)) == 1)
        deadline = T0 + timedelta(seconds=TIMEOUT)
        assert datetime.fromisoformat(of(events, "acw.started", iid)[0].data["deadline"]) == deadline
        await first.kill()  # SIGKILL while the countdown runs

        async with database.sessions() as session:
            timer = (await session.scalars(select(TimerRow).where(col(TimerRow.key) == str(iid)))).one()
        assert (timer.kind, timer.due_at, timer.fired_at) == ("acw_expiry", deadline, None)

        # A process started before the deadline keeps counting down; it fires nothing.
        early = await Child.start(harness, deadline - timedelta(seconds=1), log)
        assert early.ready == "ready fired=0"
        await early.kill()
        assert await _count(database, "acw.expired", iid) == 0

        # After the deadline a new process fires it; the one after that finds nothing left to fire.
        late = await Child.start(harness, deadline + timedelta(seconds=5), log)
        events = await harness.published(lambda es: len(of(es, "interaction.closed", iid)) == 1)
        await late.kill()
        again = await Child.start(harness, deadline + timedelta(minutes=10), log)
        assert again.ready == "ready fired=0"
        await again.kill()

        assert await _count(database, "acw.expired", iid) == 1
        assert await _count(database, "interaction.closed", iid) == 1
        events = await harness.published(lambda es: len(of(es, "interaction.closed", iid)) == 1)
        assert len(of(events, "acw.expired", iid)) == 1
        closed = of(events, "interaction.closed", iid)
        assert len(closed) == 1
        assert closed[0].data["closed_by"] == "system"
        assert closed[0].data["codes"] == [
            {
                "field": "status",
                "code": "system-generated",
                "system_generated": True,
                "label": "System generated",
            }
        ]
        async with database.sessions() as session:
            row = await session.get(InteractionRow, str(iid))
            timer = (await session.scalars(select(TimerRow).where(col(TimerRow.key) == str(iid)))).one()
        assert row is not None and (row.status, row.closed_by) == ("closed", "system")
        assert timer.fired_at is not None
    finally:
        await harness.stop()
        await database.dispose()
