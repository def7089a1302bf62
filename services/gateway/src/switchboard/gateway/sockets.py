"""The WebSocket: one per console or widget, opened with a ticket, resumable by cursor.

Client → server frames: ``{"op": "watch", "queue_id": ...}`` / ``{"op": "unwatch", ...}`` (supervisors),
``{"op": "heartbeat"}`` (consoles: routing detects a sudden logout when these stop), ``{"op": "ping"}``.
Server → client frames carry the event ``id``; after a drop the client reconnects with
``after=<last id>`` and first receives everything it missed that it may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlmodel import col, select

from switchboard.contracts.gateway import DisconnectReason, PresenceDisconnected, PresenceHeartbeat
from switchboard.gateway.auth import Principal, Role
from switchboard.gateway.models import PushedEvent
from switchboard.gateway.projection import audience_of, console_session, stored_frame
from switchboard.gateway.push import Connection, Hub
from switchboard.gateway.sessions import redeem
from switchboard.gateway.visibility import may_see
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime

log = get_logger(__name__)
router = APIRouter()

POLICY_VIOLATION = 1008
REPLAY_LIMIT = 5000
HEARTBEAT_EVERY_SECONDS = 10.0


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    origin = websocket.headers.get("origin")
    # Browsers always send Origin on a WebSocket handshake; a missing one is a native client, which
    # a ticket alone authenticates. A browser page from elsewhere cannot open a console socket.
    return origin is None or origin in allowed


@router.websocket("/ws")
async def socket(websocket: WebSocket, ticket: str = "", after: str | None = None) -> None:
    app = websocket.app
    runtime: ServiceRuntime = app.state.runtime
    hub: Hub = app.state.hub
    if not _origin_allowed(websocket, app.state.gateway_settings.allowed_origins):
        await websocket.close(POLICY_VIOLATION, "origin not allowed")
        return
    principal = await redeem(runtime, ticket) if ticket else None
    if principal is None:
        await websocket.close(POLICY_VIOLATION, "missing, used or expired ticket")
        return
    await websocket.accept()
    connection = hub.connect(principal, websocket)
    try:
        if after is not None:
            await _replay(runtime, connection, after)
        if principal.agent_id:
            await _heartbeat(runtime, principal)
        await _serve(runtime, hub, connection)
    finally:
        hub.disconnect(connection)
        if principal.agent_id and hub.agent_connections(principal.agent_id) == 0:
            await _presence_lost(runtime, principal)


async def _serve(runtime: ServiceRuntime, hub: Hub, connection: Connection) -> None:
    pump = asyncio.create_task(hub.pump(connection))
    receive = asyncio.create_task(_receive(runtime, hub, connection))
    gone = asyncio.create_task(connection.gone.wait())
    try:
        done, _ = await asyncio.wait({pump, receive, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone in done:
            await Hub.close_slow(connection)
    finally:
        for task in (pump, receive, gone):
            task.cancel()
        for task in (pump, receive, gone):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task


async def _receive(runtime: ServiceRuntime, hub: Hub, connection: Connection) -> None:
    principal = connection.principal
    last_beat = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            message: Any = await connection.websocket.receive_json()
        except (WebSocketDisconnect, RuntimeError):
            return
        except ValueError:
            await connection.websocket.send_json({"error": "frames are JSON objects"})
            continue
        op = message.get("op") if isinstance(message, dict) else None
        if op == "ping":
            await connection.websocket.send_json({"op": "pong"})
        elif op == "heartbeat" and principal.agent_id:
            # Routing needs to know the console lives, not every beat: one event per interval at most.
            if loop.time() - last_beat >= HEARTBEAT_EVERY_SECONDS:
                await _heartbeat(runtime, principal)
                last_beat = loop.time()
        elif op in ("watch", "unwatch") and principal.has(Role.SUPERVISOR):
            queue_id = str(message.get("queue_id", ""))
            if queue_id not in principal.queues:
                await connection.websocket.send_json(
                    {"error": "not a queue you supervise", "queue_id": queue_id}
                )
                continue
            if op == "watch":
                hub.watch(connection, queue_id)
            else:
                hub.unwatch(connection, queue_id)
            await connection.websocket.send_json({"op": op, "queue_id": queue_id, "ok": True})
        else:
            await connection.websocket.send_json({"error": "unknown or forbidden op"})


async def _replay(runtime: ServiceRuntime, connection: Connection, after: str) -> None:
    async with runtime.database.sessions() as session:
        anchor = await session.scalar(select(PushedEvent.seq).where(col(PushedEvent.event_id) == after))
        if anchor is None:
            await connection.websocket.send_json({"op": "resync", "reason": "unknown cursor; reload state"})
            return
        rows = (
            await session.scalars(
                select(PushedEvent)
                .where(col(PushedEvent.seq) > anchor)
                .order_by(col(PushedEvent.seq))
                .limit(REPLAY_LIMIT)
            )
        ).all()
    for row in rows:
        body = json.loads(row.body)
        data = body.get("data", {})
        audience = audience_of(row, data.get("role") or data.get("sender_role"))
        if may_see(connection.principal, audience) and connection.wants(audience):
            await connection.websocket.send_json({**stored_frame(row, body), "replayed": True})


async def _heartbeat(runtime: ServiceRuntime, principal: Principal) -> None:
    assert principal.agent_id is not None
    async with runtime.transaction() as session:
        # Presence speaks of the session routing opened at login; before a login there is none to keep.
        console = await console_session(session, principal.agent_id)
        if console is None:
            return
        runtime.emit(
            session,
            PresenceHeartbeat(
                agent_id=UUID(principal.agent_id), session_id=UUID(console), at=runtime.clock.now()
            ),
            key=principal.agent_id,
        )


async def _presence_lost(runtime: ServiceRuntime, principal: Principal) -> None:
    assert principal.agent_id is not None
    try:
        async with runtime.transaction() as session:
            console = await console_session(session, principal.agent_id)
            if console is None:
                return
            runtime.emit(
                session,
                PresenceDisconnected(
                    agent_id=UUID(principal.agent_id),
                    session_id=UUID(console),
                    last_seen_at=runtime.clock.now(),
                    reason=DisconnectReason.SOCKET_CLOSED,
                ),
                key=principal.agent_id,
            )
    except Exception as exc:  # the socket is gone either way; routing's inactivity timer still runs
        log.warning("could not record the disconnect", error=str(exc))
