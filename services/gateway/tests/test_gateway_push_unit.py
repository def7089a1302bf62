"""The hub's back-pressure rule, with sockets that stall: a slow socket is dropped, others never wait."""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.gateway.auth import Principal, Role
from switchboard.gateway.push import Hub
from switchboard.gateway.visibility import Audience


class StallingSocket:
    """Stands in for a browser that stopped reading: every send waits forever."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, frame: dict[str, Any]) -> None:
        await asyncio.Event().wait()


class ReadingSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)


def _agent(agent_id: str) -> Principal:
    return Principal(subject=agent_id, roles=frozenset({Role.AGENT}), agent_id=agent_id)


async def test_a_stalled_socket_is_dropped_after_its_buffer_and_others_keep_receiving() -> None:
    hub = Hub(buffer_frames=8)
    slow = hub.connect(_agent("a"), StallingSocket())  # type: ignore[arg-type]
    fast_socket = ReadingSocket()
    fast = hub.connect(_agent("a"), fast_socket)  # type: ignore[arg-type]
    pumps = [asyncio.create_task(hub.pump(slow)), asyncio.create_task(hub.pump(fast))]
    audience = Audience(type="chat.message.sent", interaction_id="i", agent_id="a", queue_id=None)
    for n in range(40):
        hub.publish({"id": str(n)}, audience)
        await asyncio.sleep(0)  # let the pumps run, as the event loop would between events
    assert slow.dropped
    assert not fast.dropped
    assert [f["id"] for f in fast_socket.sent] == [str(n) for n in range(40)]
    assert hub.dropped == 1
    for pump in pumps:
        pump.cancel()


def test_frames_for_someone_else_are_never_queued() -> None:
    hub = Hub(buffer_frames=8)
    other = hub.connect(_agent("b"), ReadingSocket())  # type: ignore[arg-type]
    delivered = hub.publish(
        {"id": "1"}, Audience(type="chat.message.sent", interaction_id="i", agent_id="a", queue_id=None)
    )
    assert delivered == 0
    assert other.buffer.empty()
