"""Durability and the single writer: a restarted service carries on with its state and timers, and two
replicas on one database never exceed an agent's capacity and always agree."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from typing import Any

from switchboard.runtime.clock import ManualClock
from switchboard.runtime.testing import eventually


def new_id() -> str:
    return str(uuid.uuid4())


async def test_restart_keeps_state_and_timers(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, svc_factory: Any
) -> None:
    clock = ManualClock()
    async with svc_factory(kafka_bootstrap, database_url, topic_prefix, clock) as svc:
        await svc.settings(offer_timeout_seconds=30)
        queue = await svc.queue("Restart")
        ana = await svc.agent([queue], "Ana", capacity={"chat": 2})
        await svc.available(ana)
        first = await svc.start_chat(queue, transcript=(("customer", "hi"),))
        await svc.offered_to(first)
        await svc.ok("post", f"/agents/{ana}/interactions/{first}/accept")
        await svc.message(first, ana, agent=True)
        await svc.wait_interaction(first, lambda s: not s["reply_due"])
        await svc.ok("post", f"/agents/{ana}/interactions/{first}/snooze", json={"duration_seconds": 600})
        second = await svc.start_chat(queue)
        assert await svc.offered_to(second) == ana  # the offer timeout timer is now pending
        before = await svc.agent_state(ana)
        summary = await svc.ok("get", f"/interactions/{first}/arrival-summary")

    async with svc_factory(kafka_bootstrap, database_url, topic_prefix, clock) as svc:
        after = await svc.agent_state(ana)
        assert after == before
        assert await svc.ok("get", f"/interactions/{first}/arrival-summary") == summary
        assert (await svc.interaction(second))["offer"]["agent_id"] == ana
        # Both timers survived the restart and fire in the new process, once.
        clock.advance(30)
        await svc.wait_agent(ana, lambda s: s["status"] == "away-idle")
        await svc.wait_interaction(second, lambda s: s["status"] == "queued")
        clock.advance(570)
        await svc.wait_interaction(first, lambda s: s["status"] == "assigned")
        events = await svc.interaction_events(second, "interaction.offer_timed_out")
        assert [e.type for e in events].count("interaction.offer_timed_out") == 1
        tray = await svc.ok("get", f"/agents/{ana}/tray")
        assert tray["snoozed_count"] == 0 and [i["interaction_id"] for i in tray["items"]] == [first]


async def test_two_replicas_on_one_database_never_exceed_capacity_and_agree(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, svc_factory: Any
) -> None:
    clock = ManualClock()
    async with (
        svc_factory(kafka_bootstrap, database_url, topic_prefix, clock) as one,
        svc_factory(kafka_bootstrap, database_url, topic_prefix, clock) as two,
    ):
        await one.settings(offer_timeout_seconds=3600)
        queue = await one.queue("Replicas", max_wait_seconds=3600)
        agents = [await one.agent([queue], f"Agent {n}", capacity={"chat": 2}) for n in range(3)]
        for agent in agents:
            await two.available(agent)  # configured on one replica, logged in on the other
        chats = [new_id() for _ in range(10)]
        await asyncio.gather(*(one.start_chat(queue, interaction_id=c) for c in chats))
        await two.wait_interaction(chats[-1], lambda s: s["status"] in ("queued", "offered"))

        replicas = [one, two]
        statuses: Counter[int] = Counter()
        for _ in range(2):
            attempts = [(a, c) for a in agents for c in chats]
            responses = await asyncio.gather(
                *(
                    random.choice(replicas).http.post(f"/agents/{a}/interactions/{c}/accept")
                    for a, c in attempts
                )
            )
            statuses.update(r.status_code for r in responses)
        assert set(statuses) <= {200, 404, 409}, statuses  # 404: not enqueued yet when asked
        assert statuses[200] == 6

        for agent in agents:
            seen = [(await r.agent_state(agent))["slots"]["chat"] for r in replicas]
            assert seen[0] == seen[1] == {"capacity": 2, "used": 2, "free": 0}
        assert one.routing.reloads + two.routing.reloads > 2  # each picked up the other's writes

        async def same_everywhere() -> bool:
            views = [[(await r.interaction(c))["status"] for c in chats] for r in replicas]
            return views[0] == views[1]

        await eventually(same_everywhere)
