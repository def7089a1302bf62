"""The messaging service wired for real: HTTP in-process, the real broker, SQLite and PostgreSQL.

Routing and acw are played by producing their events on their real topics; what messaging publishes is
read back from the broker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import (
    ACW_INTERACTIONS,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    MESSAGING_TYPING,
    ROUTING_INTERACTIONS,
)
from switchboard.contracts.acw import InteractionEnded
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.registry import dlq_name
from switchboard.contracts.routing import InteractionTransferred, TransferTarget
from switchboard.messaging.domain import luhn_valid
from switchboard.messaging.testing import Harness, actor, new_id, running
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.testing import eventually

pytestmark = pytest.mark.kafka

START = datetime(2024, 5, 1, 11, 29, 0, tzinfo=UTC)


@pytest.fixture
async def svc(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with running(kafka_bootstrap, database_url, topic_prefix, tmp_path, now=START) as harness:
        yield harness


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://switchboard.dev/errors/{slug}", body
    return body


def _events(records: list[Any], event_type: str) -> list[dict[str, Any]]:
    found = []
    for record in records:
        envelope = json.loads(record.value)
        if envelope["type"] == event_type:
            found.append(envelope)
    return found


async def _outbox(h: Harness, event_type: str) -> list[dict[str, Any]]:
    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.execute(
            text("SELECT body FROM sb_outbox WHERE type = :t ORDER BY id"), {"t": event_type}
        )
        return [json.loads(body) for (body,) in rows]

    return await h.messaging.read(work)


async def _send(
    h: Harness, conversation: str, who: dict[str, str], body: str, client_id: str | None = None
) -> httpx.Response:
    return await h.http.post(
        f"/conversations/{conversation}/messages",
        json={"client_id": client_id or new_id(), "text": body},
        headers=who,
    )


async def _transcript(h: Harness, conversation: str, who: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await h.http.get(f"/conversations/{conversation}/messages", params=params, headers=who)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_five_concurrent_sends_of_one_client_id_make_one_message(svc: Harness) -> None:
    conversation, _, agent = await svc.live_chat()
    who = actor("agent", agent)
    responses = await asyncio.gather(
        *(_send(svc, conversation, who, "Your appointment is booked", client_id="c-1") for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.json()["seq"] for r in responses} == {1}
    transcript = await _transcript(svc, conversation, who)
    assert [m["client_id"] for m in transcript["messages"]] == ["c-1"]
    sent = await _outbox(svc, "chat.message.sent")
    assert [e["data"]["client_id"] for e in sent] == ["c-1"]
    # The same client id with other content is a client bug, refused without a second message.
    _problem(
        await _send(svc, conversation, who, "Something else", client_id="c-1"), 409, "client-id-conflict"
    )
    # The next message continues the gap-free sequence.
    assert (await _send(svc, conversation, who, "Anything else?")).json()["seq"] == 2


async def test_not_delivered_then_resend_then_delivered_and_read_never_backwards(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_agent, as_customer = actor("agent", agent), actor("customer", customer)
    message = (await _send(svc, conversation, as_agent, "Your mortgage appointment is booked")).json()
    assert message["state"] == "sent"
    base = f"/conversations/{conversation}/messages/{message['id']}"

    failed = await svc.http.post(f"{base}/not-delivered", json={"attempt": 1}, headers=as_customer)
    assert failed.json()["state"] == "not_delivered"
    # The seed: after a reload, the undelivered message is not in the transcript.
    assert (await _transcript(svc, conversation, as_agent))["messages"] == []

    resent = (await svc.http.post(f"{base}/resend", headers=as_agent)).json()
    assert (resent["state"], resent["attempt"], resent["seq"]) == ("sent", 2, 1)
    # A late failure report about the first attempt is stale.
    stale = await svc.http.post(f"{base}/not-delivered", json={"attempt": 1}, headers=as_customer)
    assert (stale.json()["state"], stale.json()["changed"]) == ("sent", False)
    # Only the recipient acknowledges delivery.
    _problem(await svc.http.post(f"{base}/delivered", headers=as_agent), 403, "not-recipient")
    delivered = await svc.http.post(f"{base}/delivered", json={"attempt": 2}, headers=as_customer)
    assert (delivered.json()["state"], delivered.json()["changed"]) == ("delivered", True)
    again = await svc.http.post(f"{base}/delivered", headers=as_customer)
    assert again.json()["changed"] is False
    # Never backwards: a failure report after delivery changes nothing, and nothing is resendable.
    late = await svc.http.post(f"{base}/not-delivered", json={"attempt": 2}, headers=as_customer)
    assert (late.json()["state"], late.json()["changed"]) == ("delivered", False)
    _problem(await svc.http.post(f"{base}/resend", headers=as_agent), 409, "invalid-state-transition")
    read = await svc.http.post(f"{base}/read", headers=as_customer)
    assert read.json() == {"message_id": message["id"], "up_to_seq": 1, "newly_read": 1}
    shown = (await _transcript(svc, conversation, as_agent))["messages"]
    assert [(m["state"], m["display"]["show_read_status"]) for m in shown] == [("read", True)]

    # Customer messages: Sent when accepted, then Delivered and Read by the agent's console.
    reply = (await _send(svc, conversation, as_customer, "Thank you so much!")).json()
    assert reply["state"] == "sent"
    reply_base = f"/conversations/{conversation}/messages/{reply['id']}"
    assert (await svc.http.post(f"{reply_base}/delivered", headers=as_agent)).json()["state"] == "delivered"
    assert (await svc.http.post(f"{reply_base}/read", headers=as_agent)).json()["newly_read"] == 1
    _problem(
        await svc.http.post(f"{reply_base}/not-delivered", headers=as_agent), 409, "invalid-state-transition"
    )

    records = await svc.read(MESSAGING_MESSAGES, until=lambda rs: len(_events(rs, "chat.message.read")) >= 2)
    mine = [
        json.loads(r.value) for r in records if json.loads(r.value)["data"].get("message_id") == message["id"]
    ]
    assert [(e["type"], e["data"].get("attempt")) for e in mine] == [
        ("chat.message.sent", 1),
        ("chat.message.not_delivered", None),
        ("chat.message.sent", 2),
        ("chat.message.delivered", None),
        ("chat.message.read", None),
    ]
    assert mine[1]["data"]["resend_allowed"] is True


async def test_resend_is_refused_once_the_agent_ended_the_conversation(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_agent = actor("agent", agent)
    message = (await _send(svc, conversation, as_agent, "Are you still there?")).json()
    base = f"/conversations/{conversation}/messages/{message['id']}"
    await svc.http.post(f"{base}/not-delivered", headers=actor("customer", customer))
    await svc.end_by_agent(conversation, agent)
    _problem(await svc.http.post(f"{base}/resend", headers=as_agent), 409, "conversation-terminated")
    _problem(await _send(svc, conversation, as_agent, "Hello?"), 409, "conversation-terminated")
    state = (await svc.http.get(f"/conversations/{conversation}", headers=as_agent)).json()
    assert (state["live"], state["ended_by"]) == (False, "agent")
    # The agent still reads the transcript in after-call work; there is no Resend icon any more.
    messages = (await _transcript(svc, conversation, as_agent))["messages"]
    assert messages == []


async def test_customer_ends_the_chat_once(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_customer = actor("customer", customer)
    _problem(
        await svc.http.post(f"/conversations/{conversation}/end", headers=actor("agent", agent)),
        403,
        "role-not-allowed",
    )
    first = await svc.http.post(f"/conversations/{conversation}/end", headers=as_customer)
    second = await svc.http.post(f"/conversations/{conversation}/end", headers=as_customer)
    assert first.json()["live"] is False and second.json()["ended_at"] == first.json()["ended_at"]
    assert len(await _outbox(svc, "conversation.ended")) == 1
    records = await svc.read(
        MESSAGING_CONVERSATIONS, until=lambda rs: bool(_events(rs, "conversation.ended"))
    )
    started, ended = _events(records, "conversation.started"), _events(records, "conversation.ended")
    assert started[0]["data"]["customer_name"] == "Dana" and started[0]["key"] == conversation
    assert ended[0]["data"] == {"interaction_id": conversation, "ended_by": "customer"}
    _problem(await _send(svc, conversation, as_customer, "one more thing"), 409, "conversation-terminated")


async def test_seed_stacking_example_through_the_api(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_agent = actor("agent", agent)
    assert isinstance(svc.clock, ManualClock)
    for moment in ("11:30:24", "11:30:36", "11:30:45", "11:31:08"):
        hour, minute, second = (int(p) for p in moment.split(":"))
        svc.clock.set(datetime(2024, 5, 1, hour, minute, second, tzinfo=UTC))
        assert (await _send(svc, conversation, as_agent, f"sent at {moment}")).status_code == 201
    messages = (await _transcript(svc, conversation, as_agent))["messages"]
    display = [m["display"] for m in messages]
    assert [d["stack_id"] for d in display] == [0, 0, 0, 1]
    assert [d["show_timestamp"] for d in display] == [True, False, False, True]
    assert [d["show_read_status"] for d in display] == [False, False, True, True]

    # Cursor paging keeps the layout: the third message alone is still mid-stack and last of it.
    page = await _transcript(svc, conversation, as_agent, after=2, limit=1)
    assert [m["seq"] for m in page["messages"]] == [3]
    # (stack_id numbers the stacks within one answer; show_timestamp says where a stack starts.)
    assert page["messages"][0]["display"] | {"local_time": None, "stack_id": None} == {
        "stack_id": None,
        "show_timestamp": False,
        "show_read_status": True,
        "show_resend": False,
        "local_time": None,
    }
    assert (page["next_after"], page["has_more"]) == (3, True)
    rest = await _transcript(svc, conversation, as_agent, after=page["next_after"])
    assert ([m["seq"] for m in rest["messages"]], rest["has_more"]) == ([4], False)

    # A customer reply in the same minute shows its own timestamp; the customer sees read status on theirs.
    svc.clock.set(datetime(2024, 5, 1, 11, 31, 20, tzinfo=UTC))
    await _send(svc, conversation, actor("customer", customer), "Thanks")
    customer_view = (await _transcript(svc, conversation, actor("customer", customer)))["messages"]
    assert [m["display"]["show_timestamp"] for m in customer_view] == [True, False, False, True, True]
    assert [m["display"]["show_read_status"] for m in customer_view] == [False, False, False, False, True]
    kolkata = await _transcript(svc, conversation, as_agent, tz="Asia/Kolkata")
    assert kolkata["messages"][0]["display"]["local_time"].startswith("2024-05-01T17:00:24")
    _problem(
        await svc.http.get(
            f"/conversations/{conversation}/messages", params={"tz": "Mars/Olympus"}, headers=as_agent
        ),
        422,
        "invalid-time-zone",
    )


def _card() -> tuple[str, str]:
    prefix = "453914880343641"
    digits = next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))
    return digits, " ".join(digits[i : i + 4] for i in range(0, 16, 4))


async def test_card_numbers_never_reach_the_database_logs_or_topics(
    kafka_bootstrap: str,
    database_url: str,
    topic_prefix: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    digits, spaced = _card()
    dashed = spaced.replace(" ", "-")
    needles = [digits, spaced, dashed, digits[:12], spaced[:14], dashed[:14]]
    async with running(
        kafka_bootstrap, database_url, topic_prefix, tmp_path, now=START, log_level="DEBUG"
    ) as svc:
        customer, agent = new_id(), new_id()
        start = await svc.http.post(
            "/conversations",
            json={
                "customer_name": "Dana",
                "bot_transcript": [
                    {"role": "customer", "text": f"pay with {dashed}", "at": START.isoformat()},
                ],
            },
            headers=actor("customer", customer),
        )
        conversation = start.json()["id"]
        await svc.assign(conversation, agent)
        typed = await _send(svc, conversation, actor("customer", customer), f"my card is {spaced}, exp 12/29")
        assert typed.json()["text"] == "my card is •••• •••• •••• " + digits[-4:] + ", exp 12/29"
        echoed = await _send(svc, conversation, actor("agent", agent), f"Got {digits}, thanks")
        assert echoed.json()["text"] == "Got ••••••••••••" + digits[-4:] + ", thanks"
        ids = {typed.json()["id"], echoed.json()["id"]}

        def published(records: list[Any]) -> bool:
            return ids <= {e["data"]["message_id"] for e in _events(records, "chat.message.sent")}

        topic_bytes = b"".join(
            r.value for r in await svc.read(MESSAGING_MESSAGES, until=published)
        ) + b"".join(
            r.value
            for r in await svc.read(
                MESSAGING_CONVERSATIONS, until=lambda rs: bool(_events(rs, "conversation.started"))
            )
        )

        async def stored_text(session: AsyncSession) -> str:
            rows = await session.execute(
                text("SELECT text FROM msg_messages UNION ALL SELECT body FROM sb_outbox")
            )
            return "\n".join(value for (value,) in rows)

        database_text = await svc.messaging.read(stored_text)
    logs = capfd.readouterr()
    log_text = logs.out + logs.err
    assert "chat message accepted" in log_text  # the logs were captured, and they say something
    assert topic_bytes and database_text
    files = b""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        files = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert files
    for needle in needles:
        assert needle.encode() not in files, f"{needle} in the SQLite file"
        assert needle not in database_text, f"{needle} in the database"
        assert needle not in log_text, f"{needle} in the logs"
        assert needle.encode() not in topic_bytes, f"{needle} on a topic"


async def test_typing_is_published_rate_limited_and_never_stored(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    path = f"/conversations/{conversation}/typing"
    first = await svc.http.post(path, json={"state": "typing"}, headers=actor("customer", customer))
    assert first.json() == {
        "published": True,
        "expires_at": (svc.clock.now() + timedelta(seconds=6)).isoformat(),
    }
    assert (await svc.http.post(path, json={"state": "typing"}, headers=actor("customer", customer))).json()[
        "published"
    ] is False
    assert isinstance(svc.clock, ManualClock)
    svc.clock.advance(2)
    assert (await svc.http.post(path, json={}, headers=actor("customer", customer))).json()[
        "published"
    ] is True
    assert (await svc.http.post(path, json={"state": "stopped"}, headers=actor("customer", customer))).json()[
        "published"
    ] is True
    assert (await svc.http.post(path, json={"state": "typing"}, headers=actor("agent", agent))).json()[
        "published"
    ]
    _problem(
        await svc.http.post(path, json={"state": "dancing"}, headers=actor("agent", agent)),
        422,
        "validation-error",
    )
    records = await svc.read(MESSAGING_TYPING, until=lambda rs: len(rs) >= 4)
    assert [json.loads(r.value)["data"]["role"] for r in records if r.key == conversation.encode()] == [
        "customer",
        "customer",
        "customer",
        "agent",
    ]

    async def stored(session: AsyncSession) -> int:
        outbox = await session.scalar(text("SELECT count(*) FROM sb_outbox WHERE type = 'chat.typing'"))
        messages = await session.scalar(text("SELECT count(*) FROM msg_messages"))
        return int(outbox or 0) + int(messages or 0)

    assert await svc.messaging.read(stored) == 0


async def test_redelivered_events_change_nothing_and_transfers_move_the_right_to_send(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    assigned = await svc.assign(conversation, agent)  # the same agent again, a new event
    for _ in range(2):  # ... and that event redelivered twice
        await svc.publish_raw(ROUTING_INTERACTIONS, assigned.to_bytes(), key=conversation)
    other = new_id()
    transfer_id = uuid4()
    await svc.publish(
        ROUTING_INTERACTIONS,
        InteractionTransferred(
            interaction_id=UUID(conversation),
            transfer_id=transfer_id,
            from_agent_id=UUID(agent),
            target=TransferTarget.AGENT,
            to_agent_id=UUID(other),
        ),
        key=conversation,
    )

    async def moved() -> bool:
        row = await svc.conversation(conversation)
        return row is not None and row.agent_id == other

    await eventually(moved)
    routing = next(c for c in svc.runtime.consumers if c.topic == ROUTING_INTERACTIONS)
    assert routing.duplicates == 2
    _problem(await _send(svc, conversation, actor("agent", agent), "still me?"), 403, "not-assigned-agent")
    assert (await _send(svc, conversation, actor("agent", other), "Hi, I am taking over")).status_code == 201

    # An acw end delivered twice ends the conversation once; garbage goes to the dead-letter topic.
    ended = await svc.publish(
        ACW_INTERACTIONS,
        InteractionEnded(interaction_id=UUID(conversation), channel=Channel.CHAT, ended_by=Party.AGENT),
        key=conversation,
    )
    await svc.publish_raw(ACW_INTERACTIONS, ended.to_bytes(), key=conversation)
    await svc.publish_raw(ACW_INTERACTIONS, b"\xff not an event", key=conversation)
    dead = await svc.read(dlq_name(ACW_INTERACTIONS), until=lambda rs: len(rs) >= 1)
    assert dead[0].value == b"\xff not an event"
    acw = next(c for c in svc.runtime.consumers if c.topic == ACW_INTERACTIONS)
    await eventually(lambda: _true(acw.duplicates == 1))
    row = await svc.conversation(conversation)
    assert row is not None and row.ended_by == "agent"
    assert (await svc.http.get(f"/conversations/{conversation}", headers=actor("customer", customer))).json()[
        "live"
    ] is False


async def _true(value: bool) -> bool:
    return value


async def test_only_the_customer_and_the_assigned_agent_act(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    stranger, other_agent = new_id(), new_id()
    path = f"/conversations/{conversation}"
    _problem(await svc.http.get(path, headers=actor("customer", stranger)), 404, "conversation-not-found")
    _problem(await _send(svc, conversation, actor("customer", stranger), "hi"), 404, "conversation-not-found")
    _problem(
        await svc.http.get(f"{path}/messages", headers=actor("agent", other_agent)), 403, "not-assigned-agent"
    )
    _problem(await _send(svc, conversation, actor("admin", new_id()), "hi"), 403, "role-not-allowed")
    _problem(await svc.http.get(path), 401, "unauthenticated")
    _problem(
        await svc.http.get(path, headers={"X-Actor-Role": "ceo", "X-Actor-Id": customer}),
        401,
        "unauthenticated",
    )
    _problem(
        await svc.http.get(path, headers={"X-Actor-Role": "agent", "X-Actor-Id": "7"}), 401, "unauthenticated"
    )
    _problem(
        await svc.http.get(f"/conversations/{new_id()}", headers=actor("agent", agent)),
        404,
        "conversation-not-found",
    )
    _problem(
        await svc.http.post("/conversations", json={}, headers=actor("agent", agent)), 403, "role-not-allowed"
    )
    # Retrying a start with the same interaction id is idempotent, for that customer only.
    fixed = new_id()
    body = {"interaction_id": fixed, "customer_name": "Kim"}
    assert (
        await svc.http.post("/conversations", json=body, headers=actor("customer", customer))
    ).status_code == 201
    assert (
        await svc.http.post("/conversations", json=body, headers=actor("customer", customer))
    ).status_code == 200
    _problem(
        await svc.http.post("/conversations", json=body, headers=actor("customer", stranger)),
        404,
        "conversation-not-found",
    )


async def test_bad_messages_get_a_clear_4xx_and_store_nothing(svc: Harness) -> None:
    conversation, customer, _ = await svc.live_chat()
    who = actor("customer", customer)
    url = f"/conversations/{conversation}/messages"
    cases: list[tuple[Any, int, str]] = [
        ({"client_id": "a", "text": "   \n "}, 422, "message-empty"),
        ({"client_id": "b", "text": "x" * 4001}, 422, "message-too-long"),
        ({"client_id": "c", "text": "ring \u0007 bell"}, 422, "control-characters"),
        ({"client_id": "d", "text": "sneaky \u202e txt.exe"}, 422, "control-characters"),
        ({"client_id": "has space ", "text": "hello"}, 422, "invalid-client-id"),
        ({"text": "no client id"}, 422, "validation-error"),
        ({"client_id": "e", "text": "hi", "surprise": 1}, 422, "validation-error"),
        ({"client_id": "f", "text": 42}, 422, "validation-error"),
        (
            {"client_id": "g", "text": "hi", "attachment_ids": [new_id() for _ in range(11)]},
            422,
            "too-many-attachments",
        ),
        ({"client_id": "h", "text": "", "attachment_ids": [new_id()]}, 422, "attachment-not-usable"),
    ]
    for body, status, slug in cases:
        _problem(await svc.http.post(url, json=body, headers=who), status, slug)
    # A lone surrogate is refused by the request model already (it cannot be stored as UTF-8).
    surrogate = b'{"client_id": "i", "text": "broken \\ud800 pair"}'
    body = _problem(
        await svc.http.post(url, content=surrogate, headers={**who, "content-type": "application/json"}),
        422,
        "validation-error",
    )
    assert body["errors"][0]["field"] == "text"
    invalid_utf8 = b'{"client_id": "j", "text": "caf\xe9"}'
    response = await svc.http.post(
        url, content=invalid_utf8, headers={**who, "content-type": "application/json"}
    )
    assert (
        400 <= response.status_code < 500 and response.headers["content-type"] == "application/problem+json"
    )
    not_json = await svc.http.post(url, content=b"{nope", headers={**who, "content-type": "application/json"})
    assert not_json.status_code == 422
    huge = b'{"client_id": "k", "text": "' + b"x" * (svc.messaging.settings.max_body_bytes + 10) + b'"}'
    _problem(
        await svc.http.post(url, content=huge, headers={**who, "content-type": "application/json"}),
        413,
        "payload-too-large",
    )
    assert (await _transcript(svc, conversation, who))["messages"] == []
    assert await _outbox(svc, "chat.message.sent") == []


async def test_customer_messages_are_scored_for_sentiment(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    angry = (
        await _send(svc, conversation, actor("customer", customer), "This is terrible, I am very angry!")
    ).json()
    await _send(svc, conversation, actor("agent", agent), "I am so sorry to hear that")
    happy = (
        await _send(svc, conversation, actor("customer", customer), "Great, thank you, that is wonderful")
    ).json()
    records = await svc.read(
        MESSAGING_MESSAGES, until=lambda rs: len(_events(rs, "chat.message.sentiment_scored")) >= 2
    )
    scores = {e["data"]["message_id"]: e["data"] for e in _events(records, "chat.message.sentiment_scored")}
    assert set(scores) == {angry["id"], happy["id"]}  # agent messages are not scored
    assert scores[angry["id"]]["score"] < -0.5 < 0.5 < scores[happy["id"]]["score"]
    assert scores[happy["id"]]["model"] == "vader-compound"


async def test_reactions_are_idempotent_per_participant(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    message = (await _send(svc, conversation, actor("agent", agent), "Done!")).json()
    url = f"/conversations/{conversation}/messages/{message['id']}/reactions"
    first = await svc.http.post(url, json={"emoji": "👍"}, headers=actor("customer", customer))
    assert (first.json()["reactions"], first.json()["changed"]) == ([{"emoji": "👍", "count": 1}], True)
    assert (await svc.http.post(url, json={"emoji": "👍"}, headers=actor("customer", customer))).json()[
        "changed"
    ] is False
    both = await svc.http.post(url, json={"emoji": "👍"}, headers=actor("agent", agent))
    assert both.json()["reactions"] == [{"emoji": "👍", "count": 2}]
    removed = await svc.http.post(
        url, json={"emoji": "👍", "added": False}, headers=actor("customer", customer)
    )
    assert (removed.json()["reactions"], removed.json()["changed"]) == ([{"emoji": "👍", "count": 1}], True)
    _problem(
        await svc.http.post(url, json={"emoji": "a"}, headers=actor("agent", agent)), 422, "invalid-reaction"
    )
    shown = (await _transcript(svc, conversation, actor("customer", customer)))["messages"]
    assert shown[0]["reactions"] == [{"emoji": "👍", "count": 1}]
    records = await svc.read(
        MESSAGING_MESSAGES, until=lambda rs: len(_events(rs, "chat.reaction.changed")) >= 3
    )
    assert [e["data"]["added"] for e in _events(records, "chat.reaction.changed")] == [True, True, False]
