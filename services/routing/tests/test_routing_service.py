"""The routing service wired for real: Kafka in and out, HTTP commands, durable timers, both databases.

One test per rule of the issue. Events go in through the real broker (the topics other services
publish on), commands through the HTTP API, and what routing decided is read back from its own
topics and its queries. Time only moves when a test advances the service's ManualClock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from switchboard.contracts import (
    ACW_INTERACTIONS,
    GATEWAY_PRESENCE,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    ROUTING_INTERACTIONS,
    VOICE_CALLS,
)
from switchboard.contracts.acw import AcwMode, AcwStarted, InteractionClosed, InteractionEnded
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.gateway import DisconnectReason, PresenceDisconnected
from switchboard.contracts.messaging import ChatMessageSentimentScored, ConversationEnded
from switchboard.contracts.voice import VoicemailReceived

# The ``svc`` fixture (conftest.py) is a running routing service with helpers; tests cannot import
# conftest under --import-mode=importlib, hence the alias.
Service = Any


def new_id() -> str:
    return str(uuid.uuid4())


def types_of(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def of_type(events: list[Any], type_: str) -> list[Any]:
    return [e for e in events if e.type == type_]


# ------------------------------------------------------------------ agent status


async def test_login_prep_then_away_prompt_mark_available_or_keep_away(svc: Service) -> None:
    await svc.settings(login_prep_seconds=30)
    queue = await svc.queue()
    ana, ben = await svc.agent([queue], "Ana"), await svc.agent([queue], "Ben")

    state = await svc.ok("post", f"/agents/{ana}/login")
    assert state["status"] == "login-prep" and state["prompt"] is None
    await svc.ok("post", f"/agents/{ben}/login")
    # Answering a prompt that is not showing yet is refused.
    early = await svc.http.post(f"/agents/{ana}/mark-available")
    assert early.status_code == 409 and early.json()["type"].endswith("/prompt-not-pending")

    await svc.advance(30)
    state = await svc.wait_agent(ana, lambda s: s["status"] == "away")
    assert state["prompt"] == {"pending": True, "choices": ["mark-available", "keep-away"]}
    await svc.wait_agent(ben, lambda s: s["status"] == "away")

    assert (await svc.ok("post", f"/agents/{ana}/mark-available"))["status"] == "available"
    kept = await svc.ok("post", f"/agents/{ben}/keep-away")
    assert kept["status"] == "away" and kept["prompt"] is None
    # Keep Away leaves the agent to choose Available when ready.
    assert (await svc.ok("put", f"/agents/{ben}/status", json={"status": "available"}))[
        "status"
    ] == "available"

    events = await svc.agent_events(
        ana, lambda es: "mark_available" in {getattr(e.data, "reason", None) for e in es}
    )
    changes = [
        (e.data.status.value, e.data.reason.value, e.data.prompt)
        for e in of_type(events, "agent.status.changed")
    ]
    assert changes == [
        ("login_prep", "login", False),
        ("away", "login_prep_ended", True),
        ("available", "mark_available", False),
    ]
    logged_in = of_type(events, "agent.logged_in")[0].data
    assert logged_in.login_prep_until == svc.clock.now()
    assert str(logged_in.session_id) == state["session_id"]


async def test_going_away_with_active_interactions_warns(svc: Service) -> None:
    await svc.settings()
    await svc.ok("put", "/admin/statuses/lunch", json={"name": "Lunch", "tag": "away"})
    queue = await svc.queue()
    ana = await svc.agent([queue])
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    assert await svc.offered_to(chat) == ana
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")

    body = await svc.ok("put", f"/agents/{ana}/status", json={"status": "lunch"})
    assert body["status"] == "lunch" and body["custom_status"]["tag"] == "away"
    assert body["warnings"] == [
        {
            "code": "away-with-active-interactions",
            "interaction_ids": [chat],
            "message": "You are going Away with 1 active interaction(s).",
        }
    ]
    # Available again: no warning; Away (Idle) is the system's, never the agent's to pick.
    assert (await svc.ok("put", f"/agents/{ana}/status", json={"status": "available"}))["warnings"] == []
    refused = await svc.http.put(f"/agents/{ana}/status", json={"status": "away-idle"})
    assert refused.status_code == 422 and refused.json()["type"].endswith("/status-not-selectable")


async def test_logout_refused_while_conversations_are_open(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue()
    ana = await svc.agent([queue])
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")

    refused = await svc.http.post(f"/agents/{ana}/logout")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "https://switchboard.dev/errors/logout-blocked"
    assert problem["interaction_ids"] == [chat]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await svc.agent_state(ana))["status"] == "available"


async def test_sudden_disconnect_goes_offline_after_the_inactivity_threshold_and_requeues_at_front(
    svc: Service,
) -> None:
    await svc.settings(inactivity_threshold_seconds=120)
    queue = await svc.queue(max_wait_seconds=3600)
    ana = await svc.agent([queue], "Ana", capacity={"chat": 1})
    state = await svc.available(ana)
    first = await svc.start_chat(queue)
    await svc.offered_to(first)
    await svc.ok("post", f"/agents/{ana}/interactions/{first}/accept")
    waiting = await svc.start_chat(queue)  # Ana is full: this one waits
    await svc.wait_interaction(waiting, lambda s: s["status"] == "queued")

    await svc.publish(
        GATEWAY_PRESENCE,
        PresenceDisconnected(
            agent_id=uuid.UUID(ana),
            session_id=uuid.UUID(state["session_id"]),
            last_seen_at=svc.clock.now(),
            reason=DisconnectReason.SOCKET_CLOSED,
        ),
        ana,
    )
    await svc.wait_agent(ana, lambda s: not s["connected"])
    assert (await svc.agent_state(ana))["status"] == "available"  # a quick reconnect would lose nothing
    await svc.advance(119)
    await svc.advance(1)
    await svc.wait_agent(ana, lambda s: s["status"] == "offline")

    # The orphaned conversation is back in the queue, ahead of the one that was already waiting.
    requeued = await svc.wait_interaction(first, lambda s: s["status"] == "queued")
    assert requeued["agent_id"] is None
    position = (await svc.ok("get", f"/interactions/{first}/queue-position"))["position"]
    assert position == 1
    assert (await svc.ok("get", f"/interactions/{waiting}/queue-position"))["position"] == 2
    events = await svc.agent_events(ana, lambda es: "agent.logged_out" in types_of(es))
    logged_out = of_type(events, "agent.logged_out")[0].data
    assert logged_out.reason.value == "inactivity" and [
        str(i) for i in logged_out.requeued_interaction_ids
    ] == [first]
    requeue = of_type(
        await svc.interaction_events(first, "interaction.requeued", "slot.released"), "interaction.requeued"
    )
    assert requeue[0].data.reason.value == "agent_inactive"

    ben = await svc.agent([queue], "Ben", capacity={"chat": 1})
    await svc.available(ben)
    assert await svc.offered_to(first) == ben


async def test_unanswered_offer_sets_away_idle_and_offers_the_next_agent(svc: Service) -> None:
    await svc.settings(offer_timeout_seconds=30)
    queue = await svc.queue()
    ana = await svc.agent([queue], "Ana")
    await svc.available(ana)
    await svc.advance(1)
    ben = await svc.agent([queue], "Ben")
    await svc.available(ben)
    chat = await svc.start_chat(queue)
    assert await svc.offered_to(chat) == ana  # longest available first

    await svc.advance(30)
    await svc.wait_interaction(chat, lambda s: s["status"] == "offered" and s["offer"]["agent_id"] == ben)
    idle = await svc.agent_state(ana)
    assert idle["status"] == "away-idle" and idle["offers"] == []
    events = await svc.interaction_events(chat, "interaction.offer_timed_out", "interaction.requeued")
    assert types_of(events) == [
        "interaction.queued",
        "interaction.offered",
        "interaction.offer_timed_out",
        "interaction.requeued",
        "interaction.offered",
    ]
    assert str(events[-1].data.agent_id) == ben
    statuses = await svc.agent_events(
        ana, lambda es: "away_idle" in {getattr(e.data, "status", None) for e in es}
    )
    assert of_type(statuses, "agent.status.changed")[-1].data.reason.value == "unanswered_offer"


# ------------------------------------------------------------------ queueing and offers


async def test_conversation_started_on_kafka_is_offered_and_accepted_with_an_arrival_summary(
    svc: Service,
) -> None:
    await svc.settings()
    await svc.skill("billing")
    queue = await svc.queue("Billing", required_skills={"billing": 1})
    ana = await svc.agent([queue], "Ana", skills={"billing": 2})
    await svc.available(ana)
    await svc.advance(5)

    chat = await svc.start_chat(
        queue,
        intent="dispute a charge",
        transcript=(("customer", "I was charged twice"), ("bot", "Let me get an agent")),
    )
    offered = of_type(await svc.interaction_events(chat, "interaction.offered"), "interaction.offered")[
        0
    ].data
    assert str(offered.agent_id) == ana and offered.consumes_slot and str(offered.queue_id) == queue
    await svc.publish(
        MESSAGING_MESSAGES,
        ChatMessageSentimentScored(
            interaction_id=uuid.UUID(chat), message_id=uuid.uuid4(), score=-0.5, model="vader"
        ),
        chat,
    )
    await svc.publish(
        MESSAGING_MESSAGES,
        ChatMessageSentimentScored(
            interaction_id=uuid.UUID(chat), message_id=uuid.uuid4(), score=0.1, model="vader"
        ),
        chat,
    )

    async def scored() -> bool:
        summary = await svc.ok("get", f"/interactions/{chat}/arrival-summary")
        return summary["average_sentiment"] is not None and abs(summary["average_sentiment"] + 0.2) < 1e-9

    from switchboard.runtime.testing import eventually

    await eventually(scored)
    await svc.advance(12)
    accepted = await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    assert accepted["status"] == "assigned" and accepted["agent_id"] == ana
    assert accepted["arrival_summary"]["wait_time_seconds"] == 12

    assigned = of_type(await svc.interaction_events(chat, "interaction.assigned"), "interaction.assigned")[
        0
    ].data
    assert str(assigned.agent_id) == ana and not assigned.auto_answer
    assert assigned.arrival.agent_name == "Ana"
    assert assigned.arrival.queue_name == "Billing"
    assert assigned.arrival.intent == "dispute a charge"
    assert "customer: I was charged twice" in assigned.arrival.summary
    assert assigned.arrival.wait_time_seconds == 12
    assert abs((assigned.arrival.avg_sentiment or 0) + 0.2) < 1e-9
    summary = await svc.ok("get", f"/interactions/{chat}/arrival-summary")
    assert summary["customer_name"] == "Casey" and len(summary["context"]["transcript"]) == 2


async def test_auto_answer_hides_transfer_and_end_until_the_first_agent_message(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("Support", auto_answer=True)
    other = await svc.queue("Other")
    ana = await svc.agent([queue], "Ana")
    await svc.available(ana)
    chat = await svc.start_chat(queue)

    state = await svc.wait_interaction(chat, lambda s: s["status"] == "assigned")
    assert state["auto_answered"] and state["first_reply_required"]
    assert of_type(await svc.interaction_events(chat, "interaction.assigned"), "interaction.assigned")[
        0
    ].data.first_reply_required
    refused = await svc.http.post(
        f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": other}
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("/first-reply-required")

    await svc.message(chat, ana, agent=True)
    await svc.wait_interaction(chat, lambda s: not s["first_reply_required"])
    await svc.interaction_events(chat, "interaction.first_reply_sent")
    moved = await svc.ok(
        "post", f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": other}
    )
    assert moved["queue_id"] == other


async def test_voicemail_is_offered_without_taking_an_inbound_slot(svc: Service) -> None:
    await svc.settings()
    # Voicemail arrives without a queue hint: it goes to the default queue for the channel.
    queue = await svc.queue("Voice", channels=["chat", "voicemail"], default=True)
    ana = await svc.agent([queue], "Ana", capacity={"chat": 1, "voice": 0, "email": 0})
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    assert (await svc.agent_state(ana))["slots"]["chat"]["free"] == 0

    voicemail = new_id()
    await svc.publish(
        VOICE_CALLS,
        VoicemailReceived(
            interaction_id=uuid.UUID(voicemail),
            recording_id=uuid.uuid4(),
            transcript="Please call me back",
            duration_seconds=20,
            caller_id="+14155550100",
        ),
        voicemail,
    )
    assert await svc.offered_to(voicemail) == ana
    offered = of_type(await svc.interaction_events(voicemail, "interaction.offered"), "interaction.offered")[
        0
    ].data
    assert offered.channel is Channel.VOICEMAIL and not offered.consumes_slot
    accepted = await svc.ok("post", f"/agents/{ana}/interactions/{voicemail}/accept")
    assert accepted["status"] == "assigned"
    slots = (await svc.agent_state(ana))["slots"]
    assert slots["chat"] == {"capacity": 1, "used": 1, "free": 0}
    assert all(slots[c]["used"] == 0 for c in ("voice", "email"))


async def test_capacity_is_never_exceeded_under_concurrent_enqueues_and_accepts(svc: Service) -> None:
    await svc.settings(offer_timeout_seconds=3600)
    queue = await svc.queue("Rush", max_wait_seconds=3600)
    agents = [await svc.agent([queue], f"Agent {n}", capacity={"chat": 2}) for n in range(3)]
    for agent in agents:
        await svc.available(agent)
    chats = [new_id() for _ in range(12)]
    await asyncio.gather(*(svc.start_chat(queue, interaction_id=c) for c in chats))
    await svc.wait_interaction(chats[-1], lambda s: s["status"] in ("queued", "offered"))

    # Every agent hammers accept on every chat, many times, all at once.
    statuses: Counter[int] = Counter()
    for _ in range(3):
        attempts = [(a, c) for a in agents for c in chats]
        responses = await asyncio.gather(
            *(svc.http.post(f"/agents/{a}/interactions/{c}/accept") for a, c in attempts)
        )
        statuses.update(r.status_code for r in responses)
    assert set(statuses) <= {200, 404, 409}, statuses
    assert statuses[200] == 6  # three agents with two chat slots each, no more

    for agent in agents:
        slots = (await svc.agent_state(agent))["slots"]["chat"]
        assert slots["used"] == 2 and slots["free"] == 0
    # The same from the events: nothing is released in this test, so a holder's assignments are its slots.
    assigned: Counter[str] = Counter()
    for chat in chats:
        events = await svc.events(
            ROUTING_INTERACTIONS, lambda es: "interaction.queued" in types_of(es), about=chat
        )
        holders = {str(e.data.agent_id) for e in of_type(events, "interaction.assigned")}
        assert len(holders) <= 1
        assigned.update(holders)
    assert sorted(assigned.values()) == [2, 2, 2]


async def test_queue_position_and_estimated_wait(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("Estimates", default_handle_time_seconds=300, max_wait_seconds=3600)
    chats = [await svc.start_chat(queue) for _ in range(3)]
    for chat in chats:
        await svc.wait_interaction(chat, lambda s: s["status"] == "queued")
    # The three arrive on different partitions, so routing's arrival order is its own: read it back.
    listed = await svc.ok("get", f"/queues/{queue}/waiting", params={"channel": "chat"})
    order = [w["interaction_id"] for w in listed]
    assert sorted(order) == sorted(chats)
    positions = [await svc.ok("get", f"/interactions/{c}/queue-position") for c in order]
    assert [p["position"] for p in positions] == [1, 2, 3]
    assert all(p["estimated_wait_seconds"] is None for p in positions)  # nobody staffed: no honest estimate

    ana = await svc.agent([queue], "Ana", capacity={"chat": 4})
    await svc.ok("post", f"/agents/{ana}/login")  # logged in (Away): staffed, but taking nothing yet
    estimates = [await svc.ok("get", f"/interactions/{c}/queue-position") for c in order]
    # position x average handle time (the queue's default, 300 s) / staffed chat slots (4)
    assert [e["estimated_wait_seconds"] for e in estimates] == [75.0, 150.0, 225.0]


async def test_skill_match_waits_the_max_wait_then_no_agents_available(svc: Service) -> None:
    await svc.settings(enforce_skill_match=True)
    await svc.skill("french")
    queue = await svc.queue("French", required_skills={"french": 3}, max_wait_seconds=60)
    ana = await svc.agent([queue], "Ana")  # no French
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.wait_interaction(chat, lambda s: s["status"] == "queued")
    await svc.advance(59)
    assert (await svc.interaction(chat))["status"] == "queued"
    await svc.advance(1)
    ended = await svc.wait_interaction(chat, lambda s: s["status"] == "ended")
    assert ended["end_reason"] == "no_agents_available"
    events = await svc.interaction_events(chat, "interaction.no_agents_available")
    none = of_type(events, "interaction.no_agents_available")[0].data
    assert (
        none.waited_seconds == 60 and none.required_skills == ("french",) and none.reason.value == "max_wait"
    )
    assert "interaction.offered" not in types_of(events)


# ------------------------------------------------------------------ transfers


async def test_transfer_to_queue_lists_only_open_queues_and_carries_added_skills(svc: Service) -> None:
    await svc.settings(skill_modification="transfer")
    await svc.skill("disputes")
    sales = await svc.queue("Sales")
    billing = await svc.queue("Billing")
    closed = await svc.queue(
        "Night desk",
        hours={"time_zone": "Europe/Paris", "windows": [{"weekday": 0, "start": "22:00", "end": "23:00"}]},
    )
    ana = await svc.agent([sales], "Ana")
    bea = await svc.agent([billing], "Bea", skills={"disputes": 3})
    await svc.available(ana)
    chat = await svc.start_chat(sales)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")

    targets = {
        q["queue_id"]
        for q in await svc.ok("get", f"/agents/{ana}/interactions/{chat}/transfer-targets/queues")
    }
    assert billing in targets and closed not in targets and sales not in targets
    offline = await svc.http.post(
        f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": closed}
    )
    assert offline.status_code == 409 and offline.json()["type"].endswith("/queue-offline")
    skilled = await svc.ok(
        "get",
        f"/agents/{ana}/interactions/{chat}/transfer-targets/queues/{billing}/agents",
        params={"skill": "disputes"},
    )
    assert skilled == []  # Bea is not logged in yet

    moved = await svc.ok(
        "post",
        f"/agents/{ana}/interactions/{chat}/transfer",
        json={"to": "queue", "queue_id": billing, "summary": "double charge", "add_skills": {"disputes": 2}},
    )
    assert (
        moved["status"] == "queued"
        and moved["transfer_pending"]
        and moved["required_skills"] == {"disputes": 2}
    )
    assert (await svc.agent_state(ana))["conversations"] == []
    await svc.available(bea)
    assert await svc.offered_to(chat) == bea
    accepted = await svc.ok("post", f"/agents/{bea}/interactions/{chat}/accept")
    assert "double charge" in accepted["arrival_summary"]["summary"]

    events = await svc.interaction_events(chat, "interaction.transfer_requested", "interaction.transferred")
    requested = of_type(events, "interaction.transfer_requested")[0].data
    done = of_type(events, "interaction.transferred")[0].data
    assert str(requested.to_queue_id) == billing and requested.required_skills == ("disputes",)
    assert done.transfer_id == requested.transfer_id and str(done.to_queue_id) == billing
    released = of_type(events, "slot.released")[0].data
    assert str(released.agent_id) == ana and released.reason.value == "transferred"


async def test_transfer_to_an_available_agent(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("Care")
    ana = await svc.agent([queue], "Ana")
    ben = await svc.agent([], "Ben")
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    unavailable = await svc.http.post(
        f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "agent", "agent_id": ben}
    )
    assert unavailable.status_code == 409 and unavailable.json()["type"].endswith(
        "/transfer-target-unavailable"
    )

    await svc.available(ben)
    listed = {
        a["agent_id"]
        for a in await svc.ok("get", f"/agents/{ana}/interactions/{chat}/transfer-targets/agents")
    }
    assert ben in listed and ana not in listed
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "agent", "agent_id": ben})
    state = await svc.interaction(chat)
    assert state["status"] == "offered" and state["offer"] == {
        "agent_id": ben,
        "expires_at": state["offer"]["expires_at"],
        "transfer_from": ana,
    }
    await svc.ok("post", f"/agents/{ben}/interactions/{chat}/accept")
    events = await svc.interaction_events(chat, "interaction.transferred")
    done = of_type(events, "interaction.transferred")[0].data
    assert done.target.value == "agent" and str(done.to_agent_id) == ben and str(done.from_agent_id) == ana
    assert str(of_type(events, "interaction.offered")[-1].data.transfer_from_agent_id) == ana


async def test_customer_ending_before_the_transfer_completes_drops_it(svc: Service) -> None:
    await svc.settings()
    sales, nobody = await svc.queue("Sales"), await svc.queue("Unstaffed")
    ana = await svc.agent([sales], "Ana")
    await svc.available(ana)
    chat = await svc.start_chat(sales)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    await svc.ok(
        "post", f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": nobody}
    )

    await svc.publish(
        MESSAGING_CONVERSATIONS,
        ConversationEnded(interaction_id=uuid.UUID(chat), ended_by=Party.CUSTOMER),
        chat,
    )
    ended = await svc.wait_interaction(chat, lambda s: s["status"] == "ended")
    assert ended["end_reason"] == "customer" and not ended["transfer_pending"] and ended["agent_id"] is None
    dropped = of_type(
        await svc.interaction_events(chat, "interaction.transfer_dropped"), "interaction.transfer_dropped"
    )
    assert dropped[0].data.reason.value == "customer_ended"
    # An agent turning up in the target queue later is not offered it.
    ben = await svc.agent([nobody], "Ben")
    await svc.available(ben)
    assert (await svc.agent_state(ben))["offers"] == []
    gone = await svc.http.post(
        f"/agents/{ana}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": sales}
    )
    assert gone.status_code == 409 and gone.json()["type"].endswith("/interaction-ended")


# ------------------------------------------------------------------ snooze and the tray


async def test_snooze_unsnooze_wake_on_customer_message_and_refusals(svc: Service) -> None:
    await svc.settings(snooze_presets_seconds=[300, 900])
    queue = await svc.queue("Snooze", overdue_threshold_seconds=120)
    ana = await svc.agent([queue], "Ana", capacity={"chat": 1})
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")

    # A freshly assigned chat owes the customer a reply: no snooze until the agent has answered.
    due = await svc.http.post(f"/agents/{ana}/interactions/{chat}/snooze", json={"duration_seconds": 300})
    assert due.status_code == 409 and due.json()["reason"] == "reply-due"
    await svc.message(chat, ana, agent=True)
    await svc.wait_interaction(chat, lambda s: not s["reply_due"])

    options = await svc.ok("get", f"/agents/{ana}/snooze-options")
    assert options["presets_seconds"] == [300.0, 900.0] and options["custom_allowed"]
    snoozed = await svc.ok(
        "post", f"/agents/{ana}/interactions/{chat}/snooze", json={"duration_seconds": 300}
    )
    assert snoozed["status"] == "snoozed"
    assert (await svc.agent_state(ana))["slots"]["chat"]["free"] == 1  # the slot is free while snoozed
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/unsnooze")
    assert (await svc.interaction(chat))["status"] == "assigned"
    again = await svc.http.post(f"/agents/{ana}/interactions/{chat}/unsnooze")
    assert again.status_code == 409 and again.json()["type"].endswith("/not-snoozed")

    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/snooze", json={"duration_seconds": 900})
    await svc.message(chat, new_id(), agent=False)  # the customer writes: the conversation wakes
    woken = await svc.wait_interaction(chat, lambda s: s["status"] == "assigned")
    assert woken["reply_due"]
    events = await svc.interaction_events(chat, "interaction.unsnoozed", "interaction.snoozed")
    reasons = [e.data.reason.value for e in of_type(events, "interaction.unsnoozed")]
    assert reasons[-1] == "customer_message"
    assert "snoozed" in {e.data.reason.value for e in of_type(events, "slot.released")}

    await svc.advance(120)  # the reply has now been due for the queue's overdue threshold
    overdue = await svc.http.post(f"/agents/{ana}/interactions/{chat}/snooze", json={"duration_seconds": 300})
    assert overdue.status_code == 409
    assert overdue.json()["type"] == "https://switchboard.dev/errors/snooze-not-allowed"
    assert overdue.json()["reason"] == "overdue"


async def test_snooze_wakes_on_its_timer(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("Timer snooze")
    ana = await svc.agent([queue], "Ana")
    await svc.available(ana)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    await svc.message(chat, ana, agent=True)
    await svc.wait_interaction(chat, lambda s: not s["reply_due"])
    await svc.ok("post", f"/agents/{ana}/interactions/{chat}/snooze", json={"duration_seconds": 300})
    await svc.advance(300)
    await svc.wait_interaction(chat, lambda s: s["status"] == "assigned")
    events = await svc.interaction_events(chat, "interaction.unsnoozed")
    assert of_type(events, "interaction.unsnoozed")[0].data.reason.value == "timer_elapsed"


async def test_tray_shows_engaged_overdue_new_email_and_snoozed_with_time_left(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("Tray", overdue_threshold_seconds=60)
    ana = await svc.agent([queue], "Ana")
    await svc.available(ana)
    chats = [await svc.start_chat(queue) for _ in range(3)]
    for chat in chats:
        await svc.offered_to(chat)
        await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    engaged, overdue, snoozed = chats
    for chat in (engaged, snoozed):
        await svc.message(chat, ana, agent=True)
        await svc.wait_interaction(chat, lambda s: not s["reply_due"])
    await svc.ok("post", f"/agents/{ana}/interactions/{snoozed}/snooze", json={"duration_seconds": 900})
    await svc.advance(100)

    tray = await svc.ok("get", f"/agents/{ana}/tray")
    items = {i["interaction_id"]: i for i in tray["items"]}
    assert tray["snoozed_count"] == 1 and tray["next_wake_seconds"] == 800.0
    assert items[engaged]["engaged"] and not items[engaged]["overdue"]
    assert (
        items[overdue]["overdue"] and not items[overdue]["engaged"]
    )  # red dot: a reply due for 100 s > 60 s
    assert items[snoozed]["snoozed"] and items[snoozed]["snooze_remaining_seconds"] == 800.0
    assert items[engaged]["handle_time_seconds"] == 100.0
    assert items[snoozed]["handle_time_seconds"] == 0.0  # the clock paused while snoozed
    assert not any(i["new_email"] for i in tray["items"])


# ------------------------------------------------------------------ after-call work


async def test_slot_release_follows_the_acw_mode(svc: Service) -> None:
    await svc.settings()
    queue = await svc.queue("ACW", max_wait_seconds=3600)
    ana = await svc.agent([queue], "Ana", capacity={"chat": 3})
    await svc.available(ana)
    immediate, timed, disabled = [await svc.start_chat(queue) for _ in range(3)]
    for chat in (immediate, timed, disabled):
        await svc.offered_to(chat)
        await svc.ok("post", f"/agents/{ana}/interactions/{chat}/accept")
    agent = uuid.UUID(ana)

    async def end(chat: str, mode: AcwMode) -> None:
        await svc.publish(
            ACW_INTERACTIONS,
            InteractionEnded(
                interaction_id=uuid.UUID(chat), channel=Channel.CHAT, ended_by=Party.AGENT, agent_id=agent
            ),
            chat,
        )
        deadline = svc.clock.now() if mode is AcwMode.TIMED else None
        await svc.publish(
            ACW_INTERACTIONS,
            AcwStarted(interaction_id=uuid.UUID(chat), agent_id=agent, mode=mode, deadline=deadline),
            chat,
        )

    await end(immediate, AcwMode.IMMEDIATE)
    await svc.wait_agent(ana, lambda s: s["slots"]["chat"]["used"] == 2)
    await end(timed, AcwMode.TIMED)
    await svc.wait_interaction(timed, lambda s: s["status"] == "ended")
    assert (await svc.agent_state(ana))["slots"]["chat"]["used"] == 2  # timed: held until the disposition
    await svc.publish(
        ACW_INTERACTIONS,
        InteractionClosed(
            interaction_id=uuid.UUID(timed),
            agent_id=agent,
            closed_by="agent",
            handle_time_seconds=10,
            acw_seconds=5,
        ),
        timed,
    )
    await svc.wait_agent(ana, lambda s: s["slots"]["chat"]["used"] == 1)
    await end(disabled, AcwMode.DISABLED)
    await svc.wait_agent(ana, lambda s: s["slots"]["chat"]["used"] == 0)

    reasons = {}
    for chat in (immediate, timed, disabled):
        events = await svc.interaction_events(chat, "slot.released")
        released = of_type(events, "slot.released")
        assert len(released) == 1 and str(released[0].data.agent_id) == ana
        reasons[chat] = released[0].data.reason.value
    assert reasons == {immediate: "acw_immediate", timed: "acw_submitted", disabled: "acw_disabled"}
