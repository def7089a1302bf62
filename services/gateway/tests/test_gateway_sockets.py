"""The WebSocket: tickets, origins, who sees what, replay by cursor, presence — on real Kafka."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlmodel import col, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from switchboard.contracts import GATEWAY_PRESENCE
from switchboard.contracts.acw import NoteAdded
from switchboard.contracts.common import Channel
from switchboard.contracts.envelope import parse_raw_envelope
from switchboard.contracts.messaging import ChatMessageSent, SenderRole
from switchboard.contracts.routing import (
    AgentLoggedIn,
    AgentStatus,
    AgentStatusChanged,
    ArrivalSummary,
    InteractionAssigned,
    StatusChangeReason,
)
from switchboard.gateway.models import PushedEvent
from switchboard.gateway.testing import Gateway
from switchboard.runtime.testing import eventually, read_topic

pytestmark = pytest.mark.kafka

ORIGIN = "http://console.test"


async def _ticket(gateway: Gateway, token: str) -> str:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/ws/tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def _open(gateway: Gateway, token: str, *, after: str | None = None) -> ClientConnection:
    url = f"{gateway.ws_url}/ws?ticket={await _ticket(gateway, token)}"
    if after:
        url += f"&after={after}"
    return await connect(url, origin=ORIGIN)  # type: ignore[arg-type]


async def _next(socket: ClientConnection, timeout: float = 20.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    return frame


def _assigned(interaction: str, agent: str, queue: str) -> InteractionAssigned:
    return InteractionAssigned(
        interaction_id=UUID(interaction),
        agent_id=UUID(agent),
        channel=Channel.CHAT,
        queue_id=UUID(queue),
        auto_answer=False,
        arrival=ArrivalSummary(
            agent_name="Ada", queue_name="Mortgages", wait_time_seconds=12, intent="mortgage"
        ),
    )


def _message(interaction: str, sender: str, role: SenderRole, seq: int, text: str) -> ChatMessageSent:
    return ChatMessageSent(
        message_id=uuid4(),
        client_id=f"c-{seq}",
        interaction_id=UUID(interaction),
        seq=seq,
        sender_role=role,
        sender_id=UUID(sender),
        text=text,
        sent_at=datetime.now(UTC),
    )


async def _recorded(gateway: Gateway, event_id: str) -> None:
    async def seen() -> bool:
        async with gateway.runtime.database.sessions() as session:
            seq = await session.scalar(select(PushedEvent.seq).where(col(PushedEvent.event_id) == event_id))
            return seq is not None

    await eventually(seen)


def _status(agent: str) -> AgentStatusChanged:
    return AgentStatusChanged(
        agent_id=UUID(agent), status=AgentStatus.AVAILABLE, reason=StatusChangeReason.AGENT_CHOICE
    )


async def test_a_ticket_opens_one_socket_once_from_an_allowed_origin(gateway: Gateway) -> None:
    token = await gateway.token("ada")
    ticket = await _ticket(gateway, token)
    with pytest.raises(InvalidStatus):
        await connect(f"{gateway.ws_url}/ws?ticket={ticket}", origin="http://evil.test")  # type: ignore[arg-type]
    # A refused origin does not use the ticket up...
    socket = await connect(f"{gateway.ws_url}/ws?ticket={ticket}", origin=ORIGIN)  # type: ignore[arg-type]
    await socket.close()
    # ...but a socket does: the same ticket never opens a second one.
    with pytest.raises(InvalidStatus):
        await connect(f"{gateway.ws_url}/ws?ticket={ticket}", origin=ORIGIN)  # type: ignore[arg-type]
    with pytest.raises(InvalidStatus):
        await connect(f"{gateway.ws_url}/ws", origin=ORIGIN)  # type: ignore[arg-type]
    late = await _ticket(gateway, token)
    gateway.clock.advance(gateway.settings.ws_ticket_seconds + 1)
    with pytest.raises(InvalidStatus):
        await connect(f"{gateway.ws_url}/ws?ticket={late}", origin=ORIGIN)  # type: ignore[arg-type]


async def test_tickets_need_a_valid_token(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/ws/tickets", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


async def test_each_socket_sees_only_what_its_owner_may_see(gateway: Gateway) -> None:
    interaction, customer = str(uuid4()), str(uuid4())
    ada = await _open(gateway, await gateway.token("ada"))
    bob = await _open(gateway, await gateway.token("bob"))
    sue = await _open(gateway, await gateway.token("sue"))
    widget = await _open(gateway, gateway.customer_token(interaction))
    await sue.send(json.dumps({"op": "watch", "queue_id": gateway.queue}))
    assert (await _next(sue))["ok"] is True
    await sue.send(json.dumps({"op": "watch", "queue_id": str(uuid4())}))
    assert (await _next(sue))["error"] == "not a queue you supervise"

    assigned = await gateway.publish(_assigned(interaction, gateway.agent_a, gateway.queue), key=interaction)
    hello = await gateway.publish(
        _message(interaction, customer, SenderRole.CUSTOMER, 1, "Hello, about my mortgage"), key=interaction
    )
    note = await gateway.publish(
        NoteAdded(
            note_id=uuid4(), interaction_id=UUID(interaction), author_id=UUID(gateway.agent_a), text="VIP"
        ),
        key=interaction,
    )
    marker = await gateway.publish(_status(gateway.agent_b), key=gateway.agent_b)

    # Topics are not ordered among themselves; what counts is who sees what.
    assert {(await _next(ada))["id"] for _ in range(3)} == {assigned, hello, note}
    assert {(await _next(sue))["id"] for _ in range(2)} == {assigned, hello}  # notes are private
    widget_frame = await _next(widget)
    assert widget_frame["id"] == hello  # the conversation, not routing internals or notes
    assert widget_frame["data"]["text"] == "Hello, about my mortgage"
    assert (await _next(bob))["id"] == marker  # Bob saw nothing of Ada's conversation before this
    for socket in (ada, bob, sue, widget):
        await socket.close()


async def test_a_reconnecting_console_gets_what_it_missed_by_cursor(gateway: Gateway) -> None:
    interaction = str(uuid4())
    token = await gateway.token("ada")
    ada = await _open(gateway, token)
    first = await gateway.publish(_assigned(interaction, gateway.agent_a, gateway.queue), key=interaction)
    assert (await _next(ada))["id"] == first
    await ada.close()  # the network drops
    missed = [
        await gateway.publish(
            _message(interaction, gateway.agent_a, SenderRole.AGENT, n, f"reply {n}"), key=interaction
        )
        for n in range(1, 4)
    ]
    others = await gateway.publish(_status(gateway.agent_b), key=gateway.agent_b)
    mine = await gateway.publish(_status(gateway.agent_a), key=gateway.agent_a)

    for event_id in [*missed, others, mine]:
        await _recorded(gateway, event_id)
    back = await _open(gateway, token, after=first)
    frames = [await _next(back) for _ in range(4)]
    ids = [f["id"] for f in frames]
    # Everything missed, nothing of Bob's; the conversation in its own order (topics interleave freely).
    assert set(ids) == {*missed, mine}
    assert [i for i in ids if i in missed] == missed
    assert all(f["replayed"] for f in frames)
    await back.close()
    unknown = await _open(gateway, token, after=str(uuid4()))
    assert (await _next(unknown))["op"] == "resync"
    await unknown.close()


async def test_console_presence_reaches_routing_with_routings_session_id(gateway: Gateway) -> None:
    # Bob never logged in: his console's presence means nothing to routing and is not sent.
    bob = await _open(gateway, await gateway.token("bob"))
    await bob.close()
    session = uuid4()
    login = await gateway.publish(
        AgentLoggedIn(agent_id=UUID(gateway.agent_a), session_id=session, agent_name="Ada"),
        key=gateway.agent_a,
    )
    await _recorded(gateway, login)
    socket = await _open(gateway, await gateway.token("ada"))
    await socket.send(json.dumps({"op": "ping"}))
    assert (await _next(socket)) == {"op": "pong"}
    await socket.close()
    records = await read_topic(
        gateway.bootstrap,
        gateway.prefix + GATEWAY_PRESENCE,
        until=lambda rs: any(r.value and b"presence.disconnected" in r.value for r in rs),
    )
    events = [parse_raw_envelope(r.value) for r in records if r.value]
    assert [e.type for e in events] == ["presence.heartbeat", "presence.disconnected"]
    assert {e.data["agent_id"] for e in events} == {gateway.agent_a}
    assert {e.data["session_id"] for e in events} == {str(session)}  # the session routing opened
    assert all(r.key == gateway.agent_a.encode() for r in records)


async def test_events_that_arrive_before_the_assignment_reach_the_agent_once_it_is_known(
    gateway: Gateway,
) -> None:
    interaction, customer = str(uuid4()), str(uuid4())
    token = await gateway.token("ada")
    ada = await _open(gateway, token)
    marker = await gateway.publish(_status(gateway.agent_a), key=gateway.agent_a)
    assert (await _next(ada))["id"] == marker
    early = await gateway.publish(
        _message(interaction, customer, SenderRole.CUSTOMER, 1, "Are you there?"), key=interaction
    )
    await _recorded(gateway, early)  # recorded while nobody was known to hold the interaction
    assigned = await gateway.publish(_assigned(interaction, gateway.agent_a, gateway.queue), key=interaction)
    assert [(await _next(ada))["id"] for _ in range(2)] == [early, assigned]
    await ada.close()
    # ...and it stays hers: a replay from before it shows it too.
    again = await _open(gateway, token, after=marker)
    assert [(await _next(again))["id"] for _ in range(2)] == [early, assigned]
    await again.close()
