"""The ACW service wired for real: events in on the broker, HTTP commands, events out, both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.acw.testing import AcwHarness, of
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.messaging import (
    ChatMessageSent,
    ConversationEnded,
    ConversationStarted,
    SenderRole,
)
from switchboard.contracts.routing import (
    ArrivalSummary,
    InteractionAssigned,
    InteractionSnoozed,
    InteractionTransferred,
    InteractionUnsnoozed,
    TransferTarget,
    UnsnoozeReason,
)
from switchboard.contracts.voice import CallDirection, CallEnded, CallEndReason, CallStarted
from switchboard.runtime.clock import ManualClock

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def acw(kafka_bootstrap: str, database_url: str, topic_prefix: str) -> AsyncIterator[AcwHarness]:
    harness = AcwHarness(kafka_bootstrap, database_url, topic_prefix, ManualClock(T0))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["type"] == f"https://switchboard.dev/errors/{slug}", body
    return body


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def sales_set(acw: AcwHarness, name: str = "Sales") -> str:
    body = {
        "name": name,
        "status_codes": [{"code": f"{name.lower()}-callback", "label": "Callback"}],
        "fields": [
            {
                "name": "reason",
                "label": "Reason",
                "required": True,
                "codes": [
                    {"code": f"{name.lower()}-billing", "label": "Billing"},
                    {"code": f"{name.lower()}-upgrade", "label": "Upgrade"},
                ],
            },
            {
                "name": "product",
                "label": "Product",
                "codes": [{"code": f"{name.lower()}-phone", "label": "Phone"}],
            },
        ],
    }
    return str(ok(await acw.call("POST", "/admin/disposition-sets", body=body), 201)["set_id"])


async def queue(acw: AcwHarness, mode: str, set_id: str | None = None, timeout: int = 60) -> UUID:
    queue_id = uuid4()
    body: dict[str, Any] = {"mode": mode, "timeout_seconds": timeout}
    if set_id is not None:
        body["disposition_set_id"] = set_id
    ok(await acw.call("PUT", f"/admin/queues/{queue_id}/acw", body=body))
    return queue_id


async def assign(
    acw: AcwHarness,
    agent: UUID,
    queue_id: UUID,
    *,
    interaction: UUID | None = None,
    channel: Channel = Channel.CHAT,
    auto_answer: bool = False,
    customer: UUID | None = None,
) -> UUID:
    iid = interaction or uuid4()
    if customer is not None and channel is Channel.CHAT:
        await acw.send(ConversationStarted(interaction_id=iid, customer_id=customer), key=iid)
    arrival = ArrivalSummary(agent_name="Ann", queue_name="Sales", wait_time_seconds=3)
    await acw.send(
        InteractionAssigned(
            interaction_id=iid,
            agent_id=agent,
            channel=channel,
            queue_id=queue_id,
            auto_answer=auto_answer,
            arrival=arrival,
        ),
        key=iid,
    )
    await acw.wait_for(iid, lambda v: v["agent_id"] == str(agent))
    return iid


async def customer_ends(acw: AcwHarness, iid: UUID) -> dict[str, Any]:
    await acw.send(ConversationEnded(interaction_id=iid, ended_by=Party.CUSTOMER), key=iid)
    return await acw.wait_for(iid, lambda v: v["status"] != "live")


async def agent_ends(acw: AcwHarness, iid: UUID, agent: UUID) -> dict[str, Any]:
    ok(await acw.call("POST", f"/interactions/{iid}/end", actor=agent))
    return dict(ok(await acw.call("POST", f"/interactions/{iid}/end/confirm", actor=agent)))


async def test_two_step_end_immediate_release_and_no_time_limit_across_a_restart(acw: AcwHarness) -> None:
    agent, other = uuid4(), uuid4()
    set_id = await sales_set(acw)
    other_set = await sales_set(acw, "Support")
    q = await queue(acw, "immediate", set_id)
    iid = await assign(acw, agent, q, customer=uuid4())
    # Snoozed for 30 s of the 100 s handled: handle time excludes it.
    acw.clock.advance(10)
    await acw.send(
        InteractionSnoozed(interaction_id=iid, agent_id=agent, until=T0 + timedelta(hours=1)), key=iid
    )
    acw.clock.advance(30)
    await acw.send(
        InteractionUnsnoozed(interaction_id=iid, agent_id=agent, reason=UnsnoozeReason.AGENT), key=iid
    )
    await acw.wait_for(iid, lambda v: True)

    problem(await acw.call("POST", f"/interactions/{iid}/end", actor=other), 403, "not-assigned-agent")
    problem(await acw.call("POST", f"/interactions/{iid}/end/confirm", actor=agent), 409, "end-not-requested")
    asked = ok(await acw.call("POST", f"/interactions/{iid}/end", actor=agent))
    assert (asked["status"], asked["end_requested"]) == ("live", True)
    kept = ok(await acw.call("POST", f"/interactions/{iid}/end/cancel", actor=agent))
    assert (kept["status"], kept["end_requested"]) == ("live", False)  # No: nothing changed
    problem(await acw.call("POST", f"/interactions/{iid}/end/confirm", actor=agent), 409, "end-not-requested")

    acw.clock.advance(60)
    ended = await agent_ends(acw, iid, agent)
    assert ended["status"] == "acw"
    assert ended["acw"]["mode"] == "immediate"
    assert ended["acw"]["deadline"] is None
    assert ended["acw"]["required_fields"] == ["status", "reason"]
    problem(await acw.call("POST", f"/interactions/{iid}/end", actor=agent), 409, "already-ended")

    missing = problem(
        await acw.call(
            "POST", f"/interactions/{iid}/dispositions", actor=agent, body={"choices": {"status": "resolved"}}
        ),
        422,
        "dispositions-incomplete",
    )
    assert missing["missing_fields"] == ["reason"]
    assert missing["field"] == "choices"
    draft = ok(
        await acw.call(
            "PUT",
            f"/interactions/{iid}/dispositions",
            actor=agent,
            body={"choices": {"reason": "sales-billing"}},
        )
    )
    assert draft["acw"]["draft"] == {"reason": "sales-billing"}

    # No time limit: an hour later, after a restart, it still waits for the agent with the draft.
    acw.clock.advance(3600)
    await acw.restart()
    listed = ok(await acw.client.get(f"/agents/{agent}/acw"))
    assert [v["interaction_id"] for v in listed] == [str(iid)]
    assert listed[0]["acw"]["seconds_left"] is None
    assert listed[0]["acw"]["draft"] == {"reason": "sales-billing"}

    url = f"/interactions/{iid}/dispositions"
    problem(
        await acw.call("POST", url, actor=other, body={"choices": {"status": "resolved"}}),
        403,
        "not-assigned-agent",
    )
    long = {"choices": {"status": "resolved"}, "description": "x" * 1001}
    assert problem(await acw.call("POST", url, actor=agent, body=long), 422, "description-too-long")[
        "field"
    ] == ("description")
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"status": "nope"}}),
        422,
        "unknown-disposition-code",
    )
    problem(
        await acw.call(
            "POST", url, actor=agent, body={"choices": {"status": "resolved", "reason": "support-billing"}}
        ),
        422,
        "code-not-in-set",
    )
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"status": "sales-billing"}}),
        422,
        "code-not-in-field",
    )
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"colour": "red"}}),
        422,
        "unknown-disposition-field",
    )
    closed = ok(
        await acw.call(
            "POST", url, actor=agent, body={"choices": {"status": "resolved"}, "description": " Paid. "}
        )
    )
    assert closed["status"] == "closed"
    assert closed["closed"]["closed_by"] == "agent"
    assert closed["closed"]["description"] == "Paid."
    assert {(d["field"], d["code"]) for d in closed["closed"]["dispositions"]} == {
        ("status", "resolved"),
        ("reason", "sales-billing"),
    }
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"status": "resolved"}}),
        409,
        "already-closed",
    )
    assert ok(await acw.client.get(f"/agents/{agent}/acw")) == []

    events = await acw.published(lambda es: len(of(es, "interaction.closed", iid)) == 1)
    assert [e.type for e in events if e.key == str(iid)] == [
        "interaction.end_requested",
        "interaction.ended",
        "acw.started",
        "interaction.closed",
    ]
    started = of(events, "acw.started", iid)[0].data
    assert (started["mode"], started["deadline"], started["disposition_set_id"]) == (
        "immediate",
        None,
        set_id,
    )
    record = of(events, "interaction.closed", iid)[0].data
    assert record["closed_by"] == "agent"
    assert record["handle_time_seconds"] == 70  # 100 s held, 30 s snoozed
    assert record["acw_seconds"] == 3600
    assert record["queue_id"] == str(q)
    assert other_set != set_id


async def test_auto_answer_needs_the_first_agent_reply_and_the_customer_ends_without_confirmation(
    acw: AcwHarness,
) -> None:
    agent, customer = uuid4(), uuid4()
    q = await queue(acw, "immediate")
    iid = await assign(acw, agent, q, auto_answer=True, customer=customer)
    view = await acw.wait_for(iid, lambda v: v["customer_id"] == str(customer))
    assert (view["auto_answer"], view["end_available"]) == (True, False)
    problem(await acw.call("POST", f"/interactions/{iid}/end", actor=agent), 409, "first-reply-required")

    def message(sender: UUID, role: SenderRole, seq: int) -> ChatMessageSent:
        return ChatMessageSent(
            message_id=uuid4(),
            client_id=f"c-{seq}",
            interaction_id=iid,
            seq=seq,
            sender_role=role,
            sender_id=sender,
            text="hello",
            sent_at=acw.clock.now(),
        )

    await acw.send(message(customer, SenderRole.CUSTOMER, 1), key=iid)
    await acw.send(message(agent, SenderRole.AGENT, 2), key=iid)
    view = await acw.wait_for(iid, lambda v: v["agent_replied"])
    assert view["end_available"]
    assert ok(await acw.call("POST", f"/interactions/{iid}/end", actor=agent))["end_requested"]

    # The customer leaves another chat: ACW starts at once, no confirmation, no first reply needed.
    other = await assign(acw, agent, q, auto_answer=True, customer=customer)
    ended = await customer_ends(acw, other)
    assert (ended["status"], ended["ended_by"], ended["end_cause"]) == ("acw", "customer", "customer")
    events = await acw.published(lambda es: len(of(es, "acw.started", other)) == 1)
    assert of(events, "interaction.ended", other)[0].data["ended_by"] == "customer"
    assert of(events, "interaction.end_requested", other) == []
    assert of(events, "interaction.ended", iid) == []  # the first one was only asked, not confirmed


async def test_timed_release_submit_before_the_deadline_and_expiry_fills_the_system_code(
    acw: AcwHarness,
) -> None:
    agent = uuid4()
    set_id = await sales_set(acw)
    q = await queue(acw, "timed", set_id, timeout=60)
    submitted = await assign(acw, agent, q)
    expiring = await assign(acw, agent, q)
    await customer_ends(acw, submitted)
    view = await customer_ends(acw, expiring)
    deadline = T0 + timedelta(seconds=60)
    assert view["acw"]["mode"] == "timed"
    assert datetime.fromisoformat(view["acw"]["deadline"]) == deadline
    assert view["acw"]["seconds_left"] == 60

    acw.clock.advance(20)
    listed = ok(await acw.client.get(f"/agents/{agent}/acw"))
    assert [v["acw"]["seconds_left"] for v in listed] == [40, 40]
    closed = ok(
        await acw.call(
            "POST",
            f"/interactions/{submitted}/dispositions",
            actor=agent,
            body={"choices": {"status": "pending", "reason": "sales-upgrade"}},
        )
    )
    assert closed["closed"]["closed_by"] == "agent"
    ok(
        await acw.call(
            "PUT",
            f"/interactions/{expiring}/dispositions",
            actor=agent,
            body={"choices": {"reason": "sales-billing"}},
        )
    )

    acw.clock.advance(41)  # past the deadline: the durable timer fires
    view = await acw.wait_for(expiring, lambda v: v["status"] == "closed")
    assert view["closed"]["closed_by"] == "system"
    chosen = {d["field"]: (d["code"], d["system_generated"]) for d in view["closed"]["dispositions"]}
    assert chosen == {"status": ("system-generated", True), "reason": ("sales-billing", False)}
    problem(
        await acw.call(
            "POST",
            f"/interactions/{expiring}/dispositions",
            actor=agent,
            body={"choices": {"status": "resolved"}},
        ),
        409,
        "already-closed",
    )

    events = await acw.published(lambda es: len(of(es, "interaction.closed", expiring)) == 1)
    expired = of(events, "acw.expired", expiring)
    assert len(expired) == 1
    assert expired[0].data["message"]
    assert expired[0].data["system_generated_fields"] == ["status"]
    assert datetime.fromisoformat(expired[0].data["deadline"]) == deadline
    record = of(events, "interaction.closed", expiring)[0].data
    assert (record["closed_by"], record["acw_seconds"]) == ("system", 61)
    started = of(events, "acw.started", expiring)[0].data
    assert (started["mode"], datetime.fromisoformat(started["deadline"])) == ("timed", deadline)
    assert of(events, "acw.expired", submitted) == []  # its countdown was cancelled on submit
    assert len(of(events, "interaction.closed", submitted)) == 1
    assert ok(await acw.client.get(f"/agents/{agent}/acw")) == []


async def test_disabled_acw_closes_at_once_without_dispositions(acw: AcwHarness) -> None:
    agent = uuid4()
    q = await queue(acw, "disabled", await sales_set(acw))
    call = uuid4()
    await assign(acw, agent, q, interaction=call, channel=Channel.VOICE)
    await acw.send(
        CallEnded(
            interaction_id=call,
            call_id=uuid4(),
            ended_by="customer",
            reason=CallEndReason.HANGUP,
            duration_seconds=40,
        ),
        key=call,
    )
    view = await acw.wait_for(call, lambda v: v["status"] != "live")
    assert view["status"] == "closed"
    assert view["acw"] is None
    assert (view["closed"]["closed_by"], view["closed"]["dispositions"]) == ("system", [])
    assert ok(await acw.client.get(f"/agents/{agent}/acw")) == []
    problem(
        await acw.call(
            "POST",
            f"/interactions/{call}/dispositions",
            actor=agent,
            body={"choices": {"status": "resolved"}},
        ),
        409,
        "already-closed",
    )
    events = await acw.published(lambda es: len(of(es, "interaction.closed", call)) == 1)
    started = of(events, "acw.started", call)[0].data
    assert (started["mode"], started["disposition_set_id"]) == ("disabled", None)
    assert of(events, "interaction.closed", call)[0].data["codes"] == []
    assert of(events, "interaction.ended", call)[0].data["end_cause"] == "hang_up"


async def test_after_a_transfer_the_final_queues_mode_and_set_apply(acw: AcwHarness) -> None:
    first, second = uuid4(), uuid4()
    first_set, final_set = await sales_set(acw), await sales_set(acw, "Retention")
    q1 = await queue(acw, "immediate", first_set)
    q2 = await queue(acw, "timed", final_set, timeout=120)
    iid = await assign(acw, first, q1)
    await acw.send(
        InteractionTransferred(
            interaction_id=iid,
            transfer_id=uuid4(),
            from_agent_id=first,
            target=TransferTarget.QUEUE,
            to_queue_id=q2,
        ),
        key=iid,
    )
    waiting = await acw.wait_for(iid, lambda v: v["queue_id"] == str(q2))
    assert waiting["agent_id"] is None
    problem(await acw.call("POST", f"/interactions/{iid}/end", actor=first), 403, "not-assigned-agent")
    await assign(acw, second, q2, interaction=iid)
    ended = await agent_ends(acw, iid, second)
    assert ended["acw"]["mode"] == "timed"
    assert ended["acw"]["disposition_set"]["set_id"] == final_set
    assert ended["acw"]["seconds_left"] == 120
    problem(
        await acw.call(
            "POST",
            f"/interactions/{iid}/dispositions",
            actor=second,
            body={"choices": {"status": "resolved", "reason": "sales-billing"}},
        ),
        422,
        "code-not-in-set",
    )
    events = await acw.published(lambda es: len(of(es, "acw.started", iid)) == 1)
    started = of(events, "acw.started", iid)[0].data
    assert (started["agent_id"], started["queue_id"], started["disposition_set_id"]) == (
        str(second),
        str(q2),
        final_set,
    )


async def test_a_call_from_a_chat_and_the_chat_are_closed_separately(acw: AcwHarness) -> None:
    agent, customer = uuid4(), uuid4()
    q = await queue(acw, "immediate")
    chat = await assign(acw, agent, q, customer=customer)
    call = uuid4()
    await acw.send(
        CallStarted(
            interaction_id=call,
            call_id=uuid4(),
            direction=CallDirection.OUTBOUND,
            media="video",
            linked_interaction_id=chat,
            agent_id=agent,
        ),
        key=call,
    )
    view = await acw.wait_for(call, lambda v: v["agent_id"] == str(agent))
    assert (view["linked_interaction_id"], view["queue_id"], view["channel"]) == (str(chat), str(q), "voice")
    assert view["customer_id"] == str(customer)
    await acw.send(
        CallEnded(
            interaction_id=call,
            call_id=uuid4(),
            ended_by="agent",
            reason=CallEndReason.HANGUP,
            duration_seconds=5,
        ),
        key=call,
    )
    await acw.wait_for(call, lambda v: v["status"] == "acw")
    assert (await acw.interaction(chat) or {})["status"] == "live"  # the chat goes on
    body = {"choices": {"status": "resolved"}}
    ok(await acw.call("POST", f"/interactions/{call}/dispositions", actor=agent, body=body))
    assert (await acw.interaction(chat) or {})["status"] == "live"
    await agent_ends(acw, chat, agent)
    ok(await acw.call("POST", f"/interactions/{chat}/dispositions", actor=agent, body=body))

    # A blind transfer to an external contact ends the call for the agent like any other.
    external = uuid4()
    await assign(acw, agent, q, interaction=external, channel=Channel.VOICE)
    await acw.send(
        CallEnded(
            interaction_id=external,
            call_id=uuid4(),
            ended_by="agent",
            reason=CallEndReason.EXTERNAL_TRANSFER,
            duration_seconds=50,
        ),
        key=external,
    )
    transferred = await acw.wait_for(external, lambda v: v["status"] == "acw")
    assert transferred["end_cause"] == "external_transfer"

    events = await acw.published(
        lambda es: len(of(es, "interaction.closed", chat)) == 1 and len(of(es, "acw.started", external)) == 1
    )
    call_record = of(events, "interaction.closed", call)
    assert len(call_record) == 1
    assert call_record[0].data["linked_interaction_id"] == str(chat)
    assert of(events, "interaction.closed", chat)[0].data["linked_interaction_id"] is None


async def test_notes_show_the_customers_earlier_notes_newest_first_and_only_the_author_edits(
    acw: AcwHarness,
) -> None:
    first_agent, second_agent, customer = uuid4(), uuid4(), uuid4()
    q = await queue(acw, "immediate")
    earlier = await assign(acw, first_agent, q, customer=customer)
    await acw.wait_for(earlier, lambda v: v["customer_id"] == str(customer))
    note = ok(
        await acw.call(
            "POST",
            f"/interactions/{earlier}/notes",
            actor=first_agent,
            body={"text": "Prefers email", "kind": "key_points"},
        ),
        201,
    )
    problem(
        await acw.call("POST", f"/interactions/{earlier}/notes", actor=second_agent, body={"text": "mine"}),
        403,
        "not-assigned-agent",
    )
    acw.clock.advance(60)
    later = await assign(acw, second_agent, q, customer=customer)
    await acw.wait_for(later, lambda v: v["customer_id"] == str(customer))
    ok(
        await acw.call(
            "POST", f"/interactions/{later}/notes", actor=second_agent, body={"text": "Called back"}
        ),
        201,
    )
    listed = ok(await acw.client.get(f"/interactions/{later}/notes"))
    assert [(n["text"], n["earlier_interaction"]) for n in listed["notes"]] == [
        ("Called back", False),
        ("Prefers email", True),
    ]
    # Another customer's notes never show.
    stranger = await assign(acw, second_agent, q, customer=uuid4())
    await acw.wait_for(stranger, lambda v: v["customer_id"] is not None)
    assert ok(await acw.client.get(f"/interactions/{stranger}/notes"))["notes"] == []

    url = f"/notes/{note['note_id']}"
    problem(await acw.call("PATCH", url, actor=second_agent, body={"text": "edited"}), 403, "not-note-author")
    edited = ok(await acw.call("PATCH", url, actor=first_agent, body={"text": "Prefers email, not calls"}))
    assert edited["edited_at"] is not None and edited["kind"] == "key_points"
    assert (
        problem(await acw.call("PATCH", url, actor=first_agent, body={"text": "   "}), 422, "invalid-note")[
            "field"
        ]
        == "text"
    )
    problem(
        await acw.call("POST", f"/interactions/{later}/notes", actor=second_agent, body={"text": "x" * 2001}),
        422,
        "invalid-note",
    )
    problem(await acw.call("DELETE", url, actor=first_agent), 405, "method-not-allowed")  # never deletable

    events = await acw.published(
        lambda es: len(of(es, "note.edited")) == 1 and len(of(es, "note.added")) == 2
    )
    added = of(events, "note.added", earlier)[0].data
    assert (added["kind"], added["customer_id"], added["author_id"]) == (
        "key_points",
        str(customer),
        str(first_agent),
    )
    assert of(events, "note.edited")[0].data["text"] == "Prefers email, not calls"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "slug"),
    [
        ("POST", "/interactions/not-a-uuid/end", None, 422, "validation-error"),
        ("POST", "/interactions/{unknown}/end", None, 404, "interaction-not-found"),
        (
            "PUT",
            "/admin/queues/{unknown}/acw",
            {"mode": "timed", "timeout_seconds": 5},
            422,
            "validation-error",
        ),
        (
            "PUT",
            "/admin/queues/{unknown}/acw",
            {"mode": "timed", "timeout_seconds": 901},
            422,
            "validation-error",
        ),
        ("PUT", "/admin/queues/{unknown}/acw", {"mode": "sometimes"}, 422, "validation-error"),
        (
            "PUT",
            "/admin/queues/{unknown}/acw",
            {"mode": "timed", "disposition_set_id": "{unknown}"},
            422,
            "disposition-set-not-found",
        ),
        (
            "POST",
            "/admin/disposition-sets",
            {"name": "X", "status_codes": [{"code": "Bad Code!", "label": "B"}]},
            422,
            "invalid-disposition-code",
        ),
        (
            "POST",
            "/admin/disposition-sets",
            {"name": "X", "status_codes": [{"code": "resolved", "label": "Again"}]},
            409,
            "duplicate-disposition-code",
        ),
        (
            "POST",
            "/admin/disposition-sets",
            {"name": "X", "fields": [{"name": "why", "label": "Why", "required": True}]},
            422,
            "required-field-without-codes",
        ),
        ("POST", "/admin/disposition-sets", {"name": "", "fields": []}, 422, "validation-error"),
        ("POST", "/admin/disposition-sets", {"name": "X", "surprise": 1}, 422, "validation-error"),
        ("GET", "/admin/disposition-sets/{unknown}", None, 404, "disposition-set-not-found"),
        ("PATCH", "/notes/{unknown}", {"text": "x"}, 404, "note-not-found"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    acw: AcwHarness, method: str, path: str, body: Any, status: int, slug: str
) -> None:
    unknown = str(uuid4())

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{unknown}", unknown)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    answer = problem(await acw.call(method, fill(path), actor=uuid4(), body=fill(body)), status, slug)
    if slug == "validation-error" and "admin/queues" in path:
        assert answer["detail"].split(": ")[-1] in ("timeout_seconds", "mode")


async def test_hostile_requests_and_stale_events_never_500_nor_dead_letter(acw: AcwHarness) -> None:
    agent = uuid4()
    set_id = await sales_set(acw)
    q = await queue(acw, "immediate", set_id)
    iid = await assign(acw, agent, q)
    url = f"/interactions/{iid}/dispositions"
    problem(await acw.client.post(f"/interactions/{iid}/end"), 422, "validation-error")  # no actor
    problem(
        await acw.call("POST", f"/interactions/{iid}/end", actor="robert'); drop table"),
        422,
        "validation-error",
    )
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"status": "resolved"}}), 409, "not-ended"
    )
    await agent_ends(acw, iid, agent)
    too_many = {"choices": {f"f{i}": "x" for i in range(200)}}
    problem(await acw.call("POST", url, actor=agent, body=too_many), 422, "validation-error")
    problem(await acw.call("POST", url, actor=agent, body={"choices": ["status"]}), 422, "validation-error")
    problem(
        await acw.call("POST", url, actor=agent, body={"choices": {"status": "x" * 5000}}),
        422,
        "validation-error",
    )
    huge = await acw.client.post(
        url,
        content=b'{"choices": {}, "description": "' + b"x" * 2_000_000 + b'"}',
        headers={"X-Actor-Id": str(agent)},
    )
    problem(huge, 413, "payload-too-large")
    # Retiring a code keeps it readable but no longer selectable.
    ok(
        await acw.call(
            "PATCH", f"/admin/disposition-sets/{set_id}/codes/sales-upgrade", body={"retired": True}
        )
    )
    problem(
        await acw.call(
            "POST", url, actor=agent, body={"choices": {"status": "resolved", "reason": "sales-upgrade"}}
        ),
        422,
        "disposition-code-retired",
    )
    problem(
        await acw.call("PATCH", f"/admin/disposition-sets/{set_id}/codes/resolved", body={"retired": True}),
        422,
        "builtin-disposition-locked",
    )
    problem(await acw.call("DELETE", f"/admin/disposition-sets/{set_id}"), 409, "disposition-set-in-use")
    ok(
        await acw.call(
            "POST", url, actor=agent, body={"choices": {"status": "resolved", "reason": "sales-billing"}}
        )
    )
    sets = ok(await acw.client.get(f"/admin/disposition-sets/{set_id}"))
    reason = next(f for f in sets["fields"] if f["name"] == "reason")
    assert {c["code"]: c["retired"] for c in reason["codes"]} == {
        "sales-billing": False,
        "sales-upgrade": True,
    }

    # Stale facts after closing (a transfer, a hang-up, a reassignment) are ignored, never dead-lettered.
    await acw.send(
        InteractionTransferred(
            interaction_id=iid,
            transfer_id=uuid4(),
            from_agent_id=agent,
            target=TransferTarget.AGENT,
            to_agent_id=uuid4(),
        ),
        key=iid,
    )
    await acw.send(ConversationEnded(interaction_id=iid, ended_by=Party.CUSTOMER), key=iid)
    marker = await assign(acw, agent, q)
    await acw.wait_for(marker, lambda v: v["status"] == "live")
    view = await acw.interaction(iid)
    assert view is not None and view["status"] == "closed" and view["agent_id"] == str(agent)
    assert acw.runtime is not None
    assert [c.dead_lettered for c in acw.runtime.consumers] == [0] * len(acw.runtime.consumers)
    events = await acw.published(lambda es: len(of(es, "interaction.closed", iid)) == 1)
    assert len(of(events, "interaction.ended", iid)) == 1
