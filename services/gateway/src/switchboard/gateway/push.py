"""WebSocket fan-out: one socket per console or widget, frames numbered, slow sockets dropped.

Each socket has a bounded buffer. A socket that falls behind by more than the buffer is closed with
code 4008; its client reconnects with ``after=<last event id>`` and the gateway replays what it missed
from the push log, so a slow socket never slows the others and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from switchboard.gateway.auth import Principal
from switchboard.gateway.visibility import Audience, may_see
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)

SLOW_CONSUMER = 4008


@dataclass(eq=False)
class Connection:
    principal: Principal
    websocket: WebSocket
    buffer: asyncio.Queue[dict[str, Any]]
    watching_queues: set[str] = field(default_factory=set)
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def dropped(self) -> bool:
        return self.gone.is_set()

    def wants(self, audience: Audience) -> bool:
        if not may_see(self.principal, audience):
            return False
        # Supervisors are shown a queue's traffic only while they watch it.
        if self.principal.agent_id and audience.agent_id == self.principal.agent_id:
            return True
        if audience.queue_id is not None and audience.queue_id in self.watching_queues:
            return True
        return self.principal.conversation_id is not None


class Hub:
    """Sockets indexed by who they belong to, so an event costs its audience, not every socket."""

    def __init__(self, buffer_frames: int) -> None:
        self.buffer_frames = buffer_frames
        self.connections: set[Connection] = set()
        self.by_agent: dict[str, set[Connection]] = defaultdict(set)
        self.by_conversation: dict[str, set[Connection]] = defaultdict(set)
        self.by_queue: dict[str, set[Connection]] = defaultdict(set)
        self.dropped = 0

    def connect(self, principal: Principal, websocket: WebSocket) -> Connection:
        connection = Connection(principal, websocket, asyncio.Queue(self.buffer_frames))
        self.connections.add(connection)
        if principal.agent_id:
            self.by_agent[principal.agent_id].add(connection)
        if principal.conversation_id:
            self.by_conversation[principal.conversation_id].add(connection)
        return connection

    def disconnect(self, connection: Connection) -> None:
        self.connections.discard(connection)
        for index, key in (
            (self.by_agent, connection.principal.agent_id),
            (self.by_conversation, connection.principal.conversation_id),
            *((self.by_queue, q) for q in connection.watching_queues),
        ):
            if key is not None and key in index:
                index[key].discard(connection)
                if not index[key]:
                    del index[key]

    def watch(self, connection: Connection, queue_id: str) -> None:
        connection.watching_queues.add(queue_id)
        self.by_queue[queue_id].add(connection)

    def unwatch(self, connection: Connection, queue_id: str) -> None:
        connection.watching_queues.discard(queue_id)
        self.by_queue.get(queue_id, set()).discard(connection)

    def agent_connections(self, agent_id: str) -> int:
        return len(self.by_agent.get(agent_id, ()))

    def _candidates(self, audience: Audience) -> set[Connection]:
        found: set[Connection] = set()
        if audience.agent_id is not None:
            found |= self.by_agent.get(audience.agent_id, set())
        if audience.interaction_id is not None:
            found |= self.by_conversation.get(audience.interaction_id, set())
        if audience.queue_id is not None:
            found |= self.by_queue.get(audience.queue_id, set())
        return found

    def publish(self, frame: dict[str, Any], audience: Audience) -> int:
        """Queue the frame for every socket that may and wants to see it; never waits."""
        delivered = 0
        for connection in self._candidates(audience):
            if connection.dropped or not connection.wants(audience):
                continue
            try:
                connection.buffer.put_nowait(frame)
                delivered += 1
            except asyncio.QueueFull:
                connection.gone.set()
                self.dropped += 1
                log.warning("slow socket dropped", subject=connection.principal.subject)
        return delivered

    async def pump(self, connection: Connection) -> None:
        """Send queued frames to one socket; the endpoint cancels this when the socket is dropped."""
        while True:
            frame = await connection.buffer.get()
            await connection.websocket.send_json(frame)

    @staticmethod
    async def close_slow(connection: Connection) -> None:
        if connection.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await connection.websocket.close(SLOW_CONSUMER, "too slow: reconnect with after=<last id>")
