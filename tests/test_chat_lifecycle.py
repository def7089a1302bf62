"""One chat from the widget to the closed ACW, driven only through the gateway as consoles would.

Routing, messaging, acw and the gateway run as real uvicorn servers on loopback ports in this process,
on real Kafka, each with its own database (SQLite files or PostgreSQL databases), sharing one
ManualClock so login prep, snooze and the ACW countdown are driven by advancing it. The services accept
only the gateway's internal token. Every assertion is on what a console or the widget would see: HTTP
bodies, problem types and WebSocket frames.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from platform_support import PASSWORDS, Caller, about, login, login_with, problem_type, running_platform

from switchboard.gateway.platform import DemoTenant, configure_tenant, create_people, seed_demo
from switchboard.runtime.testing import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.system, pytest.mark.timeout(600)]


async def test_a_chat_from_the_widget_to_the_closed_acw_through_the_gateway(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    tenant = DemoTenant(
        mortgages=str(uuid4()),
        cards=str(uuid4()),
        ada=str(uuid4()),
        bob=str(uuid4()),
        # Offers and replies never time out here: the clock jumps minutes at a time for snooze and ACW.
        offer_timeout_seconds=86_400,
        reply_timeout_seconds=None,
        inactivity_threshold_seconds=86_400,
        acw_timeout_seconds=60,
        ada_chat_slots=2,
        bob_chat_slots=1,
    )
    async with (
        running_platform(kafka_bootstrap, database_url, topic_prefix, tmp_path) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=30.0) as http,
    ):
        clock = platform.clock
        await create_people(platform.gateway.database, clock, tenant, PASSWORDS)

        # Services answer only the gateway: a direct call without its internal token is refused.
        async with httpx.AsyncClient(base_url=platform.backends["routing"]) as direct:
            refused = await direct.get(
                "/admin/queues", headers={"X-Actor-Role": "admin", "X-Actor-Id": str(uuid4())}
            )
        assert refused.status_code in (401, 403), refused.text

        # 1. The admin configures the tenant through /api/routing/admin and /api/acw/admin.
        admin = await login(http, platform.ws_url, "admin")
        set_id = await configure_tenant(http, admin.token, tenant)
        cards_queue = await admin.ok("GET", f"/api/routing/admin/queues/{tenant.cards}")
        assert cards_queue["required_skills"] == {"cards": 3}
        acw_settings = await admin.ok("GET", f"/api/acw/admin/queues/{tenant.cards}/acw")
        assert acw_settings == {
            "queue_id": tenant.cards,
            "configured": True,
            "mode": "timed",
            "timeout_seconds": 60,
            "disposition_set_id": set_id,
        }
        dispositions = await admin.ok("GET", f"/api/acw/admin/disposition-sets/{set_id}")
        status_field = next(f for f in dispositions["fields"] if f["name"] == "status")
        assert status_field["required"] is True

        # Agent A logs in: login prep, then (the clock passing it) Away with the prompt, then Available.
        ada = await login(http, platform.ws_url, "ada")
        ada_ws = await ada.socket()
        prep = await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/login")
        assert prep["status"] == "login-prep"
        clock.advance(tenant.login_prep_seconds + 1)
        away = await ada_ws.expect("agent.status.changed", where=lambda f: f["data"]["status"] == "away")
        assert away["data"]["prompt"] is True
        assert away["data"]["reason"] == "login_prep_ended"
        shown = await ada.ok("GET", f"/api/routing/agents/{tenant.ada}")
        assert shown["prompt"] == {"pending": True, "choices": ["mark-available", "keep-away"]}
        available = await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/mark-available")
        assert (available["status"], available["prompt"]) == ("available", None)
        await ada_ws.expect("agent.status.changed", where=lambda f: f["data"]["status"] == "available")

        # Agent B (Cards) gets ready the same way, for the transfer later.
        bob = await login(http, platform.ws_url, "bob")
        bob_ws = await bob.socket()
        await bob.ok("POST", f"/api/routing/agents/{tenant.bob}/login")
        clock.advance(tenant.login_prep_seconds + 1)
        await bob_ws.expect("agent.status.changed", where=lambda f: f["data"]["prompt"] is True)
        await bob.ok("POST", f"/api/routing/agents/{tenant.bob}/mark-available")
        # An agent acts only as themself, through the gateway's table.
        assert (await bob.call("POST", f"/api/routing/agents/{tenant.ada}/logout")).status_code == 403

        # 2. A customer starts a chat from the widget; routing offers it to A, who accepts.
        started = await http.post(
            "/widget/chats",
            json={
                "customer_name": "Carol",
                "intent": "mortgage",
                "bot_transcript": [
                    {"role": "customer", "text": "I would like to remortgage my flat"},
                    {"role": "bot", "text": "I will connect you to a mortgage adviser."},
                ],
            },
        )
        assert started.status_code == 201, started.text
        chat = started.json()["conversation_id"]
        carol = Caller(http, platform.ws_url, started.json()["token"])
        carol_ws = await carol.socket()
        offer = await ada_ws.expect("interaction.offered", chat)
        assert offer["data"]["queue_id"] == tenant.mortgages
        accepted = await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/interactions/{chat}/accept")
        summary = accepted["arrival_summary"]
        assert summary["agent_name"] == "Ada"
        assert summary["queue_name"] == "Mortgages"
        assert summary["intent"] == "mortgage"
        assert "remortgage my flat" in summary["summary"]
        assert summary["wait_time_seconds"] >= 0
        assert "avg_sentiment" in summary
        assigned = await ada_ws.expect("interaction.assigned", chat)
        assert assigned["data"]["arrival"]["queue_name"] == "Mortgages"
        # Messaging learns the assignment from Kafka; until then A may not write in the conversation.
        conversation = f"/api/messaging/conversations/{chat}"

        async def ada_holds_it() -> bool:
            return (await ada.call("GET", conversation)).status_code == 200

        await eventually(ada_holds_it, step=0.1)

        # 3. Messages both ways, typing indicators, delivery and read states, stacking.
        await carol.ok("POST", f"{conversation}/typing", {"state": "typing"})
        typing = await ada_ws.expect("chat.typing", chat)
        assert typing["data"]["role"] == "customer"
        hello = await carol.ok(
            "POST", f"{conversation}/messages", {"client_id": "w-1", "text": "Hello, I love your service!"}
        )
        assert hello["state"] == "sent"
        seen = await ada_ws.expect("chat.message.sent", chat, lambda f: f["data"]["client_id"] == "w-1")
        assert seen["data"]["text"] == "Hello, I love your service!"
        assert (await ada.ok("POST", f"{conversation}/messages/{hello['id']}/delivered"))[
            "state"
        ] == "delivered"
        assert (await ada.ok("POST", f"{conversation}/messages/{hello['id']}/read"))["newly_read"] == 1
        await carol_ws.expect("chat.message.read", chat)

        await ada.ok("POST", f"{conversation}/typing", {"state": "typing"})
        agent_typing = await carol_ws.expect("chat.typing", chat)
        assert agent_typing["data"]["role"] == "agent"
        clock.advance(3)
        first = await ada.ok(
            "POST", f"{conversation}/messages", {"client_id": "a-1", "text": "Hello Carol, I am Ada."}
        )
        clock.advance(5)  # same clock minute: the two replies stack under one timestamp
        second = await ada.ok(
            "POST", f"{conversation}/messages", {"client_id": "a-2", "text": "Let me look at your mortgage."}
        )
        assert (first["state"], second["state"]) == ("sent", "sent")
        for message in (first, second):
            frame = await carol_ws.expect("chat.message.sent", chat, about(message["id"]))
            assert frame["data"]["sender_role"] == "agent"
            delivered = await carol.ok("POST", f"{conversation}/messages/{message['id']}/delivered")
            assert delivered["state"] == "delivered"
            await ada_ws.expect("chat.message.delivered", chat, about(message["id"]))
        read = await carol.ok("POST", f"{conversation}/messages/{second['id']}/read")
        assert read["newly_read"] == 2
        await ada_ws.expect("chat.message.read", chat, lambda f: f["data"]["up_to_seq"] == second["seq"])
        transcript = await ada.ok("GET", f"{conversation}/messages")
        by_client = {m["client_id"]: m for m in transcript["messages"]}
        a1, a2 = by_client["a-1"], by_client["a-2"]
        assert (a1["state"], a2["state"]) == ("read", "read")
        assert a1["display"]["stack_id"] == a2["display"]["stack_id"]
        assert (a1["display"]["show_timestamp"], a2["display"]["show_timestamp"]) == (True, False)
        # Read status only against the newest of the stack.
        assert (a1["display"]["show_read_status"], a2["display"]["show_read_status"]) == (False, True)

        # 4. A's network drops mid-send: the socket is gone, the send is retried with its client id.
        cursor = ada_ws.last_id
        await ada_ws.close()
        sent = await ada.call(
            "POST", f"{conversation}/messages", {"client_id": "a-3", "text": "Your new rate is 3.1%."}
        )
        again = await ada.call(
            "POST", f"{conversation}/messages", {"client_id": "a-3", "text": "Your new rate is 3.1%."}
        )
        assert (sent.status_code, again.status_code) == (201, 200)
        lost = sent.json()
        assert again.json()["id"] == lost["id"]
        transcript = await ada.ok("GET", f"{conversation}/messages")
        assert [m["client_id"] for m in transcript["messages"]].count("a-3") == 1
        # The customer's channel did not get it: Not Delivered, which A's console shows with Resend.
        await carol_ws.expect("chat.message.sent", chat, about(lost["id"]))
        reported = await carol.ok(
            "POST",
            f"{conversation}/messages/{lost['id']}/not-delivered",
            {"attempt": 1, "reason": "recipient_disconnected"},
        )
        assert reported["state"] == "not_delivered"
        # A's console comes back and replays what it missed from its cursor: the message the widget
        # has seen (so the gateway had recorded it) comes as a replay; the Not Delivered report comes
        # replayed or live, depending on whether the gateway had it before the socket reopened.
        ada_ws = await ada.socket(after=cursor)
        replayed = await ada_ws.expect("chat.message.sent", chat, about(lost["id"]))
        assert replayed.get("replayed") is True
        missed = await ada_ws.expect("chat.message.not_delivered", chat, about(lost["id"]))
        assert missed["data"]["resend_allowed"] is True
        resent = await ada.ok("POST", f"{conversation}/messages/{lost['id']}/resend")
        assert (resent["state"], resent["attempt"]) == ("sent", 2)
        await carol_ws.expect(
            "chat.message.sent",
            chat,
            lambda f: f["data"]["message_id"] == lost["id"] and f["data"]["attempt"] == 2,
        )
        acknowledged = await carol.ok(
            "POST", f"{conversation}/messages/{lost['id']}/delivered", {"attempt": 2}
        )
        assert acknowledged["state"] == "delivered"
        await ada_ws.expect("chat.message.delivered", chat, about(lost["id"]))
        transcript = await carol.ok("GET", f"{conversation}/messages")
        assert [m["id"] for m in transcript["messages"]].count(lost["id"]) == 1

        # 5. No logout while the conversation is open: routing's problem comes back unchanged.
        blocked = await ada.call("POST", f"/api/routing/agents/{tenant.ada}/logout")
        assert blocked.status_code == 409
        assert problem_type(blocked) == "logout-blocked"
        interaction = f"/api/routing/agents/{tenant.ada}/interactions/{chat}"

        async def reply_due(expected: bool) -> None:
            # Routing reads messages from Kafka in conversation order: once it has seen the newest one,
            # it has seen every earlier one (the resend included), so nothing stale wakes a snooze later.
            async def seen() -> bool:
                return bool(
                    (await ada.ok("GET", f"/api/routing/interactions/{chat}"))["reply_due"] is expected
                )

            await eventually(seen, step=0.1)

        # The customer wrote last: a reply is due, so snooze is refused until A answers.
        await carol.ok(
            "POST", f"{conversation}/messages", {"client_id": "w-2", "text": "Thanks, that works."}
        )
        await reply_due(True)
        refused_snooze = await ada.call("POST", f"{interaction}/snooze", {"duration_seconds": 300})
        assert refused_snooze.status_code == 409
        assert problem_type(refused_snooze) == "snooze-not-allowed"
        await ada.ok("POST", f"{conversation}/messages", {"client_id": "a-4", "text": "Anything else today?"})
        await reply_due(False)
        # Snooze; the customer writing wakes it.
        snoozed = await ada.ok("POST", f"{interaction}/snooze", {"duration_seconds": 300})
        assert snoozed["status"] == "snoozed" and snoozed["snooze_until"] is not None
        await ada_ws.expect("interaction.snoozed", chat)
        await carol.ok(
            "POST", f"{conversation}/messages", {"client_id": "w-3", "text": "One more question, please."}
        )
        woken = await ada_ws.expect("interaction.unsnoozed", chat)
        assert woken["data"]["reason"] == "customer_message"
        await ada.ok("POST", f"{conversation}/messages", {"client_id": "a-5", "text": "Of course, go ahead."})
        await reply_due(False)
        # Snoozed again, the snooze timer wakes it when the clock passes the chosen duration.
        await ada.ok("POST", f"{interaction}/snooze", {"duration_seconds": 300})
        await ada_ws.expect("interaction.snoozed", chat)
        clock.advance(301)
        timer_woken = await ada_ws.expect("interaction.unsnoozed", chat)
        assert timer_woken["data"]["reason"] == "timer_elapsed"

        # 6. Transfer to Cards, adding a skill; B gets the offer, accepts, and sees both hops' summary.
        targets = await ada.ok("GET", f"{interaction}/transfer-targets/queues")
        assert tenant.cards in [q["queue_id"] for q in targets]
        transferred = await ada.ok(
            "POST",
            f"{interaction}/transfer",
            {
                "to": "queue",
                "queue_id": tenant.cards,
                "summary": "Remortgage agreed; customer now asks about a card limit.",
                "add_skills": {"fraud": 2},
            },
        )
        assert transferred["required_skills"]["fraud"] == 2  # the queue adds its own "cards" when routing it
        offered_to_bob = await bob_ws.expect("interaction.offered", chat)
        assert offered_to_bob["data"]["queue_id"] == tenant.cards
        bob_accepts = await bob.ok("POST", f"/api/routing/agents/{tenant.bob}/interactions/{chat}/accept")
        both = bob_accepts["arrival_summary"]
        assert (both["agent_name"], both["queue_name"]) == ("Bob", "Cards")
        assert "remortgage my flat" in both["summary"]
        assert "card limit" in both["summary"]
        assert both["avg_sentiment"] is not None and both["avg_sentiment"] > 0
        hops = await bob.ok("GET", f"/api/routing/interactions/{chat}/arrival-summary")
        assert len(hops["summaries"]) == 2
        await bob_ws.expect("interaction.assigned", chat)

        async def bob_holds_it() -> bool:
            return (await bob.call("GET", conversation)).status_code == 200

        await eventually(bob_holds_it, step=0.1)
        await bob.ok(
            "POST", f"{conversation}/messages", {"client_id": "b-1", "text": "Hi Carol, Bob from Cards."}
        )
        gone = await ada.call("POST", f"{conversation}/messages", {"client_id": "a-6", "text": "Still here?"})
        assert gone.status_code in (403, 404), gone.text

        # 7. B ends and confirms: timed ACW with a visible deadline.
        acw = f"/api/acw/interactions/{chat}"

        async def acw_knows_bob() -> bool:
            response = await bob.call("GET", acw)
            return response.status_code == 200 and response.json()["agent_id"] == tenant.bob

        await eventually(acw_knows_bob, step=0.1)
        asked = await bob.ok("POST", f"{acw}/end")
        assert (asked["end_requested"], asked["status"]) == (True, "live")
        ended = await bob.ok("POST", f"{acw}/end/confirm")
        assert ended["status"] == "acw"
        assert ended["acw"]["mode"] == "timed"
        assert ended["acw"]["deadline"] is not None
        assert ended["acw"]["required_fields"] == ["status"]
        started_acw = await bob_ws.expect("acw.started", chat)
        assert started_acw["data"]["mode"] == "timed" and started_acw["data"]["deadline"] is not None
        countdown = await bob.ok("GET", acw)
        assert 0 < countdown["acw"]["seconds_left"] <= 60

        # A second customer asks for Cards while B's only slot is held by the ACW countdown.
        second_chat = await http.post(
            "/widget/chats", json={"customer_name": "Dan", "queue_hint": "Cards", "intent": "card"}
        )
        assert second_chat.status_code == 201, second_chat.text
        dan = second_chat.json()["conversation_id"]

        async def dan_waits() -> bool:
            waiting = await admin.call("GET", f"/api/routing/queues/{tenant.cards}/waiting")
            return waiting.status_code == 200 and dan in [w["interaction_id"] for w in waiting.json()]

        await eventually(dan_waits, step=0.1)
        assert not bob_ws.has("interaction.offered", dan)

        # The clock passes the deadline: the system code closes it, B is told, the slot goes to Dan.
        clock.advance(61)
        expired = await bob_ws.expect("acw.expired", chat)
        assert expired["data"]["system_generated_fields"] == ["status"]
        assert expired["data"]["message"]  # the console shows the expiry message
        closed = await bob_ws.expect("interaction.closed", chat)
        assert closed["data"]["closed_by"] == "system"
        assert {(c["field"], c["code"], c["system_generated"]) for c in closed["data"]["codes"]} >= {
            ("status", "system-generated", True)
        }
        final = await bob.ok("GET", acw)
        assert final["status"] == "closed" and final["closed"]["closed_by"] == "system"
        offered_dan = await bob_ws.expect("interaction.offered", dan)
        assert offered_dan["data"]["queue_id"] == tenant.cards
        dan_accepted = await bob.ok("POST", f"/api/routing/agents/{tenant.bob}/interactions/{dan}/accept")
        assert dan_accepted["arrival_summary"]["queue_name"] == "Cards"

        for socket in (ada_ws, bob_ws, carol_ws):
            await socket.close()


async def test_the_demo_seed_configures_the_tenant_through_the_gateway_and_can_run_again(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    async with (
        running_platform(kafka_bootstrap, database_url, topic_prefix, tmp_path) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=30.0) as http,
    ):
        environ = {"DEMO_ADA_PASSWORD": PASSWORDS["ada"]}
        generated = await seed_demo(
            platform.url, database_url, gateway_settings=platform.gateway_settings, environ=environ
        )
        # Passwords not in the environment are generated and handed back once; Ada's was given.
        assert set(generated) == {"admin", "bob"}
        rerun = await seed_demo(
            platform.url, database_url, gateway_settings=platform.gateway_settings, environ=environ
        )
        assert rerun == {}  # the people exist: nothing new, nothing to print
        passwords = {**PASSWORDS, **generated}
        for username in ("admin", "ada", "bob"):
            response = await http.post(
                "/auth/token", json={"username": username, "password": passwords[username]}
            )
            assert response.status_code == 200, response.text
        admin = await login_with(http, platform.ws_url, "admin", passwords["admin"])
        demo = DemoTenant()
        queues = {q["name"]: q for q in await admin.ok("GET", "/api/routing/admin/queues")}
        assert set(queues) == {"Mortgages", "Cards"}
        assert queues["Cards"]["id"] == demo.cards
        sets = await admin.ok("GET", "/api/acw/admin/disposition-sets")
        assert [s["name"] for s in sets].count(demo.disposition_set_name) == 1
        agents = {a["name"]: a for a in await admin.ok("GET", "/api/routing/admin/agents")}
        assert agents["Bob"]["queues"] == [demo.cards]
        ada = await login_with(http, platform.ws_url, "ada", PASSWORDS["ada"])
        me = await ada.ok("GET", "/me")
        assert me["agent_id"] == demo.ada


async def test_a_console_that_vanishes_gets_its_chats_requeued_after_the_inactivity_threshold(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    tenant = DemoTenant(
        mortgages=str(uuid4()),
        cards=str(uuid4()),
        ada=str(uuid4()),
        bob=str(uuid4()),
        offer_timeout_seconds=86_400,
        reply_timeout_seconds=None,
        inactivity_threshold_seconds=120,
    )
    async with (
        running_platform(kafka_bootstrap, database_url, topic_prefix, tmp_path) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=30.0) as http,
    ):
        clock = platform.clock
        await create_people(platform.gateway.database, clock, tenant, PASSWORDS)
        admin = await login(http, platform.ws_url, "admin")
        await configure_tenant(http, admin.token, tenant)
        ada = await login(http, platform.ws_url, "ada")
        await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/login")
        clock.advance(tenant.login_prep_seconds + 1)

        async def prompted() -> bool:
            return bool((await ada.ok("GET", f"/api/routing/agents/{tenant.ada}"))["prompt"])

        await eventually(prompted)
        await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/mark-available")
        ada_ws = await ada.socket()  # the console is open: the gateway tells routing it lives

        started = await http.post("/widget/chats", json={"customer_name": "Dan", "intent": "mortgage"})
        assert started.status_code == 201, started.text
        chat = started.json()["conversation_id"]
        await ada_ws.expect("interaction.offered", chat)
        await ada.ok("POST", f"/api/routing/agents/{tenant.ada}/interactions/{chat}/accept")

        # The browser is closed without logging out: the socket just goes away.
        await ada_ws.close()

        async def disconnected() -> bool:
            return (await ada.ok("GET", f"/api/routing/agents/{tenant.ada}"))["connected"] is False

        await eventually(disconnected)
        # Within the threshold nothing happens: a console may come back.
        agent = await ada.ok("GET", f"/api/routing/agents/{tenant.ada}")
        assert chat in agent["conversations"]
        clock.advance(tenant.inactivity_threshold_seconds + 1)

        async def requeued() -> bool:
            waiting = await admin.ok("GET", f"/api/routing/queues/{tenant.mortgages}/waiting")
            return any(entry["interaction_id"] == chat for entry in waiting)

        await eventually(requeued)
        waiting = await admin.ok("GET", f"/api/routing/queues/{tenant.mortgages}/waiting")
        assert waiting[0]["interaction_id"] == chat  # back at the front of its queue
        agent = await ada.ok("GET", f"/api/routing/agents/{tenant.ada}")
        assert agent["status"] == "offline"
        assert agent["conversations"] == []
