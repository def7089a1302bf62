"""Hostile and mistaken input: unknown ids are 404, a wrong state is 409 with a stable type, a wrong
value is 422 naming the field, nothing is ever a 500; stale facts on Kafka are dropped without a dead
letter, bytes that are not an event are dead-lettered at once."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from switchboard.contracts import ACW_INTERACTIONS, GATEWAY_PRESENCE, MESSAGING_MESSAGES
from switchboard.contracts.acw import AcwMode, AcwStarted
from switchboard.contracts.gateway import PresenceHeartbeat
from switchboard.runtime.testing import eventually, read_topic

Service = Any  # the ``svc`` fixture from conftest.py

ERRORS = "https://switchboard.dev/errors/"


def new_id() -> str:
    return str(uuid.uuid4())


async def assigned_chat(svc: Service) -> tuple[str, str, str]:
    await svc.settings()
    queue = await svc.queue("Hostile")
    agent = await svc.agent([queue], "Ana")
    await svc.available(agent)
    chat = await svc.start_chat(queue)
    await svc.offered_to(chat)
    return queue, agent, chat


async def test_unknown_ids_are_404(svc: Service) -> None:
    _queue, agent, chat = await assigned_chat(svc)
    ghost = new_id()
    for method, url in [
        ("get", f"/agents/{ghost}"),
        ("post", f"/agents/{ghost}/login"),
        ("get", f"/agents/{ghost}/tray"),
        ("get", f"/interactions/{ghost}"),
        ("get", f"/interactions/{ghost}/arrival-summary"),
        ("post", f"/agents/{agent}/interactions/{ghost}/accept"),
        ("post", f"/agents/{ghost}/interactions/{chat}/accept"),
        ("get", f"/queues/{ghost}/waiting"),
        ("get", f"/admin/queues/{ghost}"),
        ("get", f"/admin/agents/{ghost}"),
        ("delete", f"/admin/queues/{ghost}"),
        ("delete", f"/admin/agents/{ghost}"),
        ("delete", "/admin/skills/never-made"),
        ("delete", "/admin/statuses/never-made"),
        ("get", "/no/such/route"),
    ]:
        response = await svc.http.request(method.upper(), url)
        assert response.status_code == 404, (method, url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    problem = (await svc.http.get(f"/interactions/{ghost}")).json()
    assert problem["type"] == ERRORS + "unknown-interaction" and problem["interaction_id"] == ghost


async def test_wrong_state_is_409_with_a_stable_type(svc: Service) -> None:
    queue, agent, chat = await assigned_chat(svc)
    assert (await svc.http.post(f"/agents/{agent}/interactions/{chat}/accept")).status_code == 200
    twice = await svc.http.post(f"/agents/{agent}/interactions/{chat}/accept")
    assert twice.status_code == 409 and twice.json()["type"] == ERRORS + "offer-not-pending"
    other = await svc.agent([queue], "Ben")
    not_theirs = await svc.http.post(
        f"/agents/{other}/interactions/{chat}/snooze", json={"duration_seconds": 60}
    )
    assert not_theirs.status_code == 409 and not_theirs.json()["type"] == ERRORS + "not-assigned-agent"
    offline = await svc.http.put(f"/agents/{other}/status", json={"status": "available"})
    assert offline.status_code == 409 and offline.json()["type"] == ERRORS + "agent-offline"
    in_use = await svc.http.delete(f"/admin/queues/{queue}")
    assert in_use.status_code == 409 and in_use.json()["type"] == ERRORS + "queue-in-use"
    logged_in = await svc.http.delete(f"/admin/agents/{agent}")
    assert logged_in.status_code == 409 and logged_in.json()["type"] == ERRORS + "agent-logged-in"
    disabled = await svc.http.post(f"/agents/{agent}/interactions/{chat}/skills", json={"add": {"x": 1}})
    assert (
        disabled.status_code == 409 and disabled.json()["type"] == ERRORS + "skill-modification-not-allowed"
    )

    # Transferring a conversation that has ended.
    from switchboard.contracts import MESSAGING_CONVERSATIONS
    from switchboard.contracts.common import Party
    from switchboard.contracts.messaging import ConversationEnded

    await svc.publish(
        MESSAGING_CONVERSATIONS,
        ConversationEnded(interaction_id=uuid.UUID(chat), ended_by=Party.CUSTOMER),
        chat,
    )
    await svc.wait_interaction(chat, lambda s: s["status"] == "ended")
    ended = await svc.http.post(
        f"/agents/{agent}/interactions/{chat}/transfer", json={"to": "queue", "queue_id": queue}
    )
    assert ended.status_code == 409 and ended.json()["type"] == ERRORS + "interaction-ended"
    snooze = await svc.http.post(f"/agents/{agent}/interactions/{chat}/snooze", json={"duration_seconds": 60})
    assert snooze.status_code == 409 and snooze.json()["type"] == ERRORS + "interaction-ended"


async def test_bad_values_are_422_naming_the_field(svc: Service) -> None:
    _queue, agent, chat = await assigned_chat(svc)
    cases: list[tuple[str, str, Any, str]] = [
        (
            "post",
            f"/agents/{agent}/interactions/{chat}/snooze",
            {"duration_seconds": "soon"},
            "duration_seconds",
        ),
        ("post", f"/agents/{agent}/interactions/{chat}/snooze", {"duration_seconds": -5}, "duration_seconds"),
        ("post", f"/agents/{agent}/interactions/{chat}/snooze", {"duration_seconds": 60, "x": 1}, "x"),
        ("post", f"/agents/{agent}/interactions/{chat}/transfer", {"to": "moon"}, "body"),
        (
            "post",
            f"/agents/{agent}/interactions/{chat}/transfer",
            {"to": "queue", "queue_id": 7},
            "queue.queue_id",
        ),
        ("put", f"/agents/{agent}/status", {"status": ["available"]}, "status"),
        ("put", f"/admin/agents/{new_id()}", {"name": "X", "capacity": {"chat": 26}}, "capacity"),
        ("put", f"/admin/agents/{new_id()}", {"name": "X", "capacity": {"fax": 1}}, "capacity.fax.[key]"),
        (
            "put",
            f"/admin/agents/{new_id()}",
            {"name": "X", "skills": {"ghost-skill": 1}},
            "skills.ghost-skill",
        ),
        ("put", f"/admin/agents/{new_id()}", {"name": "X", "queues": [new_id()]}, "queues"),
        ("put", f"/admin/queues/{new_id()}", {"name": "Q", "channels": []}, "channels"),
        ("put", f"/admin/queues/{new_id()}", {"name": "Q", "channels": ["chat"], "priority": 11}, "priority"),
        (
            "put",
            f"/admin/queues/{new_id()}",
            {"name": "Q", "channels": ["chat"], "hours": {"time_zone": "Mars/Olympus", "windows": []}},
            "hours.time_zone",
        ),
        (
            "put",
            f"/admin/queues/{new_id()}",
            {
                "name": "Q",
                "channels": ["chat"],
                "hours": {"time_zone": "UTC", "windows": [{"weekday": 1, "start": "10:00", "end": "09:00"}]},
            },
            "hours.windows.end",
        ),
        ("put", "/admin/external-contacts/desk", {"name": "Desk", "number": "not a number"}, "number"),
        (
            "put",
            "/admin/settings",
            {"snooze_presets_seconds": [100_000], "snooze_max_seconds": 60},
            "snooze_presets_seconds[0]",
        ),
        ("put", "/admin/statuses/available", {"name": "Mine", "tag": "available"}, "id"),
        ("get", "/agents/not-a-uuid", None, "path.agent_id"),
    ]
    for method, url, body, field in cases:
        response = await svc.http.request(method.upper(), url, json=body)
        assert response.status_code == 422, (url, body, response.text)
        problem = response.json()
        fields = {e["field"] for e in problem.get("errors", [])} | {problem.get("field")}
        assert field in fields, (url, body, problem)
    garbage = await svc.http.post(
        f"/agents/{agent}/interactions/{chat}/snooze",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert garbage.status_code == 422
    huge = await svc.http.post(
        "/admin/import", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413


async def test_no_route_answers_500_to_garbage(svc: Service) -> None:
    _, agent, chat = await assigned_chat(svc)
    spec = (await svc.http.get("/openapi.json")).json()
    routes = [(path, {m.upper() for m in operations}) for path, operations in spec["paths"].items()]
    ids = [agent, chat, new_id(), "x" * 300, "%00", "0", "../../etc"]
    bodies: list[Any] = [
        None,
        {},
        [],
        "text",
        0,
        {"status": None},
        {"to": "agent", "agent_id": agent},
        {"a" * 200: "b" * 5000},
    ]
    checked = 0
    for path, methods in routes:
        if not path.startswith(("/agents", "/interactions", "/queues", "/admin")):
            continue
        names = [p[1:-1] for p in path.split("/") if p.startswith("{")]
        for method, values, body in itertools.product(
            methods, itertools.product(ids, repeat=len(names)), bodies[:4]
        ):
            if len(names) > 1 and values[0] not in (agent, ids[3]):
                continue  # keep the product small; the first id varies enough
            url = path
            for name, value in zip(names, values, strict=True):
                url = url.replace("{" + name + "}", value)
            response = await svc.http.request(method, url, json=body)
            assert response.status_code < 500, (method, url, body, response.text)
            checked += 1
    assert checked > 100
    for body in bodies:
        for url in (f"/agents/{agent}/interactions/{chat}/transfer", "/admin/import", "/admin/settings"):
            response = await svc.http.request("POST" if "settings" not in url else "PUT", url, json=body)
            assert response.status_code < 500, (url, body, response.text)


async def test_stale_facts_are_dropped_and_garbage_is_dead_lettered(svc: Service) -> None:
    await svc.settings()
    consumers = {c.topic: c for c in svc.runtime.consumers}
    ghost = new_id()
    before = {t: (c.handled, c.dead_lettered) for t, c in consumers.items()}

    await svc.message(ghost, new_id(), agent=True)  # a message on a conversation routing never saw
    await svc.publish(
        ACW_INTERACTIONS,
        AcwStarted(interaction_id=uuid.UUID(ghost), agent_id=uuid.uuid4(), mode=AcwMode.IMMEDIATE),
        ghost,
    )
    await svc.publish(
        GATEWAY_PRESENCE,
        PresenceHeartbeat(agent_id=uuid.uuid4(), session_id=uuid.uuid4(), at=svc.clock.now()),
        ghost,
    )

    async def handled() -> bool:
        return all(
            consumers[t].handled > before[t][0]
            for t in (MESSAGING_MESSAGES, ACW_INTERACTIONS, GATEWAY_PRESENCE)
        )

    await eventually(handled)
    assert all(consumers[t].dead_lettered == before[t][1] for t in consumers)

    producer = AIOKafkaProducer(bootstrap_servers=svc.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(svc.prefix + MESSAGING_MESSAGES, b"\x00not an envelope", key=b"k")
    finally:
        await producer.stop()
    records = await read_topic(
        svc.bootstrap, svc.prefix + MESSAGING_MESSAGES + ".dlq", until=lambda rs: len(rs) >= 1
    )
    assert records[0].value == b"\x00not an envelope"
