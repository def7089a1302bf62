"""Unit tests of the routing rules, one group per seed/issue rule, with explicit datetimes."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta

import pytest

from switchboard.routing.domain import (
    Agent,
    AgentSettings,
    CancelTimer,
    Channel,
    CustomStatus,
    Emit,
    EndReason,
    EventType,
    ExternalContact,
    HoursOfOperation,
    InteractionStatus,
    Outcome,
    Queue,
    Router,
    RoutingError,
    ScheduleTimer,
    SkillModification,
    StatusKind,
    StatusTag,
    TimerKind,
    TransferDestinations,
    VoicemailMode,
    WeeklyWindow,
    arrival_summary,
    estimated_wait,
    is_open,
    queue_position,
    skilled_agents,
    transfer_target_agents,
    transfer_target_queues,
    tray,
    waiting,
)

T0 = datetime(2024, 6, 24, 13, 0, tzinfo=UTC)  # a Monday
S = timedelta(seconds=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def emitted(outcome: Outcome, type: EventType) -> list[Emit]:
    return [e for e in outcome.events if e.type is type]


def slug_of(exc: pytest.ExceptionInfo[RoutingError]) -> str:
    return exc.value.slug


def make_router(
    *,
    settings: AgentSettings | None = None,
    queues: list[Queue] | None = None,
    agents: list[Agent] | None = None,
) -> Router:
    return Router(
        settings or AgentSettings(),
        queues=queues or [Queue("sales", "Sales", frozenset({Channel.CHAT, Channel.VOICE, Channel.EMAIL}))],
        agents=agents
        or [
            Agent("ana", "Ana", queues=frozenset({"sales"})),
            Agent("ben", "Ben", queues=frozenset({"sales"})),
        ],
        statuses=[
            CustomStatus("lunch", "Lunch", StatusTag.AWAY),
            CustomStatus("focus", "Focus", StatusTag.AVAILABLE),
        ],
    )


def available(router: Router, agent_id: str, now: datetime = T0) -> None:
    router.login(agent_id, now)
    router.set_status(agent_id, "available", now)


# ------------------------------------------------------------------ configuration


class TestConfiguration:
    def test_agent_capacity_defaults(self) -> None:
        agent = Agent("a", "A")
        assert agent.slots(Channel.VOICE) == 1
        assert agent.slots(Channel.CHAT) == 4
        assert agent.slots(Channel.EMAIL) == 1
        assert agent.slots(Channel.VOICEMAIL) == 0

    @pytest.mark.parametrize("slots", [-1, 26])
    def test_capacity_bounds_name_the_field(self, slots: int) -> None:
        with pytest.raises(RoutingError) as exc:
            Agent("a", "A", capacity={Channel.CHAT: slots})
        assert exc.value.slug == "invalid-config"
        assert exc.value.details["field"] == "capacity[chat]"

    def test_capacity_edges_accepted(self) -> None:
        assert Agent("a", "A", capacity={Channel.CHAT: 0, Channel.VOICE: 25}).slots(Channel.VOICE) == 25

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"priority": 0}, "priority"),
            ({"priority": 11}, "priority"),
            ({"max_wait": timedelta(0)}, "max_wait"),
            ({"overdue_threshold": -S}, "overdue_threshold"),
            ({"channels": frozenset()}, "channels"),
            ({"id": ""}, "id"),
            ({"required_skills": {"french": 11}}, "required_skills['french']"),
        ],
    )
    def test_queue_validation_names_the_field(self, kwargs: dict[str, object], field: str) -> None:
        base: dict[str, object] = {"id": "q", "name": "Q", "channels": frozenset({Channel.CHAT})}
        base.update(kwargs)
        with pytest.raises(RoutingError) as exc:
            Queue(**base)  # type: ignore[arg-type]
        assert exc.value.details["field"] == field

    def test_settings_defaults_and_validation(self) -> None:
        settings = AgentSettings()
        assert settings.login_prep == timedelta(seconds=30)
        assert settings.offer_timeout == timedelta(seconds=30)
        with pytest.raises(RoutingError) as exc:
            AgentSettings(snooze_presets=(timedelta(hours=2),), snooze_max=timedelta(hours=1))
        assert exc.value.details["field"] == "snooze_presets[0]"
        with pytest.raises(RoutingError) as exc:
            AgentSettings(offer_timeout=timedelta(0))
        assert exc.value.details["field"] == "offer_timeout"

    def test_external_contact_numbers_are_e164(self) -> None:
        assert ExternalContact("x", "Billing desk", "+14155550100").number == "+14155550100"
        with pytest.raises(RoutingError) as exc:
            ExternalContact("x", "Billing desk", "0044 20 7946 0958")
        assert exc.value.details["field"] == "number"

    def test_unknown_time_zone(self) -> None:
        with pytest.raises(RoutingError) as exc:
            HoursOfOperation("Mars/Olympus", ())
        assert exc.value.details["field"] == "hours.time_zone"

    def test_custom_status_cannot_shadow_built_in(self) -> None:
        with pytest.raises(RoutingError):
            CustomStatus("away-idle", "Idle", StatusTag.AWAY)


class TestHoursOfOperation:
    hours = HoursOfOperation(
        "Europe/Paris",
        tuple(WeeklyWindow(day, time(9), time(17)) for day in range(5)),
        holidays=frozenset({date(2024, 12, 25)}),
    )
    queue = Queue("q", "Q", frozenset({Channel.CHAT}), hours=hours)

    def test_open_in_local_time(self) -> None:
        # 13:00 UTC on Monday 24 June 2024 is 15:00 in Paris (CEST).
        assert is_open(self.queue, T0)
        # 15:30 UTC is 17:30 in Paris: closed.
        assert not is_open(self.queue, T0 + timedelta(hours=2, minutes=30))
        # 07:30 UTC is 09:30 in Paris: open.
        assert is_open(self.queue, datetime(2024, 6, 24, 7, 30, tzinfo=UTC))

    def test_weekend_and_holiday_closed(self) -> None:
        assert not is_open(self.queue, datetime(2024, 6, 29, 12, 0, tzinfo=UTC))
        assert not is_open(self.queue, datetime(2024, 12, 25, 12, 0, tzinfo=UTC))
        assert is_open(self.queue, datetime(2024, 12, 24, 12, 0, tzinfo=UTC))

    def test_winter_time(self) -> None:
        # 08:30 UTC in January is 09:30 in Paris (CET).
        assert is_open(self.queue, datetime(2024, 1, 8, 8, 30, tzinfo=UTC))
        assert not is_open(self.queue, datetime(2024, 1, 8, 7, 30, tzinfo=UTC))

    def test_end_of_day_window(self) -> None:
        window = WeeklyWindow(0, time(22), time(0))
        assert window.contains(time(23, 59))
        assert not window.contains(time(21, 59))
        with pytest.raises(RoutingError):
            WeeklyWindow(0, time(17), time(9))

    def test_no_hours_means_always_open(self) -> None:
        assert is_open(Queue("q", "Q", frozenset({Channel.CHAT})), T0)


# ------------------------------------------------------------------ agent status


class TestAgentStatus:
    def test_login_prep_then_away_prompt(self) -> None:
        router = make_router()
        out = router.login("ana", T0)
        assert router.agents["ana"].status.kind is StatusKind.LOGIN_PREP
        assert ScheduleTimer(TimerKind.LOGIN_PREP, "ana", at(30)) in out.decisions
        assert router.login_prep_elapsed("ana", at(29)).decisions == ()
        out = router.fire_timer(TimerKind.LOGIN_PREP, "ana", at(30))
        assert router.agents["ana"].status.kind is StatusKind.AWAY
        assert router.agents["ana"].prompt_pending
        assert emitted(out, EventType.AGENT_LOGIN_PREP_ENDED)[0].data["choices"] == [
            "mark_available",
            "keep_away",
        ]

    def test_mark_available(self) -> None:
        router = make_router()
        router.login("ana", T0)
        router.login_prep_elapsed("ana", at(30))
        router.mark_available("ana", at(31))
        assert router.agents["ana"].status.kind is StatusKind.AVAILABLE
        assert not router.agents["ana"].prompt_pending
        with pytest.raises(RoutingError) as exc:
            router.mark_available("ana", at(32))
        assert exc.value.slug == "prompt-not-pending"

    def test_keep_away(self) -> None:
        router = make_router()
        router.login("ana", T0)
        router.login_prep_elapsed("ana", at(30))
        router.keep_away("ana", at(31))
        state = router.agents["ana"]
        assert state.status.kind is StatusKind.AWAY and not state.prompt_pending

    def test_login_prep_disabled_goes_straight_to_prompt(self) -> None:
        router = make_router(settings=AgentSettings(login_prep=timedelta(0)))
        router.login("ana", T0)
        assert router.agents["ana"].status.kind is StatusKind.AWAY
        assert router.agents["ana"].prompt_pending

    def test_choosing_status_during_prep_cancels_the_timer(self) -> None:
        router = make_router()
        router.login("ana", T0)
        out = router.set_status("ana", "available", at(5))
        assert CancelTimer(TimerKind.LOGIN_PREP, "ana") in out.decisions
        assert router.login_prep_elapsed("ana", at(30)).decisions == ()
        assert router.agents["ana"].status.kind is StatusKind.AVAILABLE

    @pytest.mark.parametrize("status", ["away-idle", "offline", "login-prep"])
    def test_system_statuses_not_selectable(self, status: str) -> None:
        router = make_router()
        available(router, "ana")
        with pytest.raises(RoutingError) as exc:
            router.set_status("ana", status, at(1))
        assert exc.value.slug == "status-not-selectable"
        assert router.agents["ana"].status.kind is StatusKind.AVAILABLE

    def test_custom_statuses_act_as_their_tag(self) -> None:
        router = make_router()
        available(router, "ana")
        router.set_status("ana", "focus", at(1))
        assert router.agents["ana"].status.available
        assert router.agents["ana"].status.id == "focus"
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(2))
        assert router.interactions["c1"].offer is not None
        router.set_status("ana", "lunch", at(3))
        assert router.agents["ana"].status.kind is StatusKind.AWAY
        with pytest.raises(RoutingError) as exc:
            router.set_status("ana", "nap", at(4))
        assert exc.value.slug == "unknown-status"

    def test_status_change_needs_login(self) -> None:
        with pytest.raises(RoutingError) as exc:
            make_router().set_status("ana", "available", T0)
        assert exc.value.slug == "agent-offline"

    def test_going_away_with_active_interactions_warns(self) -> None:
        router = make_router()
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(1))
        router.accept("c1", "ana", at(2))
        out = router.set_status("ana", "lunch", at(3))
        assert out.warnings[0].code == "away-with-active-interactions"
        assert out.warnings[0].interaction_ids == ("c1",)
        assert router.interactions["c1"].status is InteractionStatus.ASSIGNED
        assert router.set_status("ana", "available", at(4)).warnings == ()

    def test_logout_refused_while_conversations_open(self) -> None:
        router = make_router()
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(1))
        router.enqueue("c2", "sales", Channel.CHAT, "cust", at(1))
        router.accept("c1", "ana", at(2))
        router.accept("c2", "ana", at(2))
        router.agent_message("c2", "ana", at(3))
        router.snooze("c2", "ana", timedelta(minutes=5), at(4))
        with pytest.raises(RoutingError) as exc:
            router.logout("ana", at(5))
        assert exc.value.slug == "logout-blocked"
        assert exc.value.details["interaction_ids"] == ["c1", "c2"]
        router.agent_message("c1", "ana", at(6))
        router.end_interaction("c1", "ana", at(7))
        router.end_interaction("c2", "ana", at(7))
        out = router.logout("ana", at(8))
        assert router.agents["ana"].status.kind is StatusKind.OFFLINE
        assert emitted(out, EventType.AGENT_LOGGED_OUT)
        assert router.agents["ana"].used.get(Channel.CHAT, 0) == 0

    def test_presence_lost_then_restored_keeps_everything(self) -> None:
        router = make_router()
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(1))
        router.accept("c1", "ana", at(2))
        out = router.presence_lost("ana", at(3))
        assert ScheduleTimer(TimerKind.INACTIVITY, "ana", at(123)) in out.decisions
        out = router.login("ana", at(60))
        assert CancelTimer(TimerKind.INACTIVITY, "ana") in out.decisions
        assert router.inactivity_elapsed("ana", at(123)).decisions == ()
        assert router.interactions["c1"].agent_id == "ana"

    def test_inactivity_requeues_at_front_with_history(self) -> None:
        router = make_router(agents=[Agent("ana", "Ana", queues=frozenset({"sales"}))])
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "cust1", at(1), summary="bot: wants a refund")
        router.accept("c1", "ana", at(2))
        router.agent_message("c1", "ana", at(3))
        router.record_sentiment("c1", 0.5, at(3))
        router.enqueue("c2", "sales", Channel.CHAT, "cust2", at(4))  # offered to ana too
        router.enqueue("c3", "sales", Channel.CHAT, "cust3", at(5))
        router.presence_lost("ana", at(10))
        # offers went straight back to the queue
        assert router.interactions["c2"].status is InteractionStatus.QUEUED
        router.fire_timer(TimerKind.INACTIVITY, "ana", at(130))
        assert router.agents["ana"].status.kind is StatusKind.OFFLINE
        c1 = router.interactions["c1"]
        assert c1.status is InteractionStatus.QUEUED and c1.agent_id is None
        assert queue_position(router, "c1") == 1
        assert len(c1.hops) == 1 and c1.hops[0].summary == "bot: wants a refund"
        assert c1.average_sentiment == 0.5
        router.upsert_agent(Agent("ben", "Ben", queues=frozenset({"sales"})), at(131))
        available(router, "ben", at(132))
        assert router.interactions["c1"].offer is not None
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]


# ------------------------------------------------------------------ queueing and assignment


class TestQueueing:
    def test_manual_offer_accept_with_arrival_summary(self) -> None:
        router = make_router()
        available(router, "ana")
        out = router.enqueue(
            "c1", "sales", Channel.CHAT, "cust", at(10), intent="refund", summary="bot: order 42 late"
        )
        offer = emitted(out, EventType.INTERACTION_OFFERED)[0]
        assert offer.data["agent_id"] == "ana" and offer.data["expires_at"] == at(40)
        assert ScheduleTimer(TimerKind.OFFER_TIMEOUT, "c1", at(40)) in out.decisions
        router.record_sentiment("c1", -0.5, at(11))
        router.record_sentiment("c1", 0.25, at(12))
        out = router.accept("c1", "ana", at(25))
        assigned = emitted(out, EventType.INTERACTION_ASSIGNED)[0]
        summary = assigned.data["arrival_summary"]
        assert summary["agent_name"] == "Ana"
        assert summary["queue_name"] == "Sales"
        assert summary["wait_seconds"] == 15
        assert summary["intent"] == "refund"
        assert summary["average_sentiment"] == -0.125
        assert summary["summaries"][0]["summary"] == "bot: order 42 late"
        view = arrival_summary(router, "c1", at(30))
        assert view.wait_time == timedelta(seconds=15)

    def test_accept_checks(self) -> None:
        router = make_router()
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(1))
        with pytest.raises(RoutingError) as exc:
            router.accept("c1", "ben", at(2))
        assert exc.value.slug == "offer-not-pending"
        with pytest.raises(RoutingError) as exc:
            router.accept("c1", "ana", at(31))
        assert exc.value.details["reason"] == "expired"
        router.customer_ended("c1", at(5))
        with pytest.raises(RoutingError) as exc:
            router.accept("c1", "ana", at(6))
        assert exc.value.slug == "interaction-ended"

    def test_longest_available_agent_wins(self) -> None:
        router = make_router()
        available(router, "ben", at(0))
        available(router, "ana", at(5))
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(10))
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]
        # ben was just routed work, so he goes to the back of the line
        router.enqueue("c2", "sales", Channel.CHAT, "cust", at(11))
        assert router.interactions["c2"].offer.agent_id == "ana"  # type: ignore[union-attr]

    def test_ties_broken_by_least_recent_assignment(self) -> None:
        router = make_router()
        available(router, "ana", at(0))
        available(router, "ben", at(0))
        router.enqueue("c1", "sales", Channel.CHAT, "cust", at(1))
        first = router.interactions["c1"].offer.agent_id  # type: ignore[union-attr]
        router.enqueue("c2", "sales", Channel.CHAT, "cust", at(1))
        second = router.interactions["c2"].offer.agent_id  # type: ignore[union-attr]
        assert {first, second} == {"ana", "ben"}

    def test_priority_then_age_then_front(self) -> None:
        router = make_router(
            agents=[Agent("ana", "Ana", queues=frozenset({"sales"}), capacity={Channel.CHAT: 1})]
        )
        router.enqueue("old", "sales", Channel.CHAT, "c", at(1))
        router.enqueue("new", "sales", Channel.CHAT, "c", at(2))
        router.enqueue("vip", "sales", Channel.CHAT, "c", at(3), priority=9)
        assert [e.interaction_id for e in waiting(router, "sales", Channel.CHAT, at(4))] == [
            "vip",
            "old",
            "new",
        ]
        available(router, "ana", at(5))
        assert router.interactions["vip"].status is InteractionStatus.OFFERED
        router.reject("vip", "ana", at(6))
        # rejected goes back to the front, but never to ana again this round
        assert queue_position(router, "vip") == 1
        assert router.interactions["old"].offer.agent_id == "ana"  # type: ignore[union-attr]

    def test_capacity_is_never_exceeded(self) -> None:
        router = make_router(
            agents=[Agent("ana", "Ana", queues=frozenset({"sales"}), capacity={Channel.CHAT: 2})]
        )
        available(router, "ana")
        for i in range(4):
            router.enqueue(f"c{i}", "sales", Channel.CHAT, "c", at(i + 1))
        assert router.agents["ana"].used[Channel.CHAT] == 2
        assert [router.interactions[f"c{i}"].status for i in range(4)] == [
            InteractionStatus.OFFERED,
            InteractionStatus.OFFERED,
            InteractionStatus.QUEUED,
            InteractionStatus.QUEUED,
        ]
        router.accept("c0", "ana", at(5))
        router.agent_message("c0", "ana", at(6))
        router.end_interaction("c0", "ana", at(7))
        assert router.interactions["c2"].status is InteractionStatus.QUEUED  # slot held for ACW
        router.release_slot("c0", at(8))
        assert router.interactions["c2"].status is InteractionStatus.OFFERED
        assert router.release_slot("c0", at(9)).decisions == ()

    def test_auto_answer_requires_first_reply_for_transfer_and_end(self) -> None:
        sales = Queue("sales", "Sales", frozenset({Channel.CHAT}), auto_answer=True)
        support = Queue("support", "Support", frozenset({Channel.CHAT}))
        router = make_router(queues=[sales, support])
        available(router, "ana")
        out = router.enqueue("c1", "sales", Channel.CHAT, "c", at(1))
        assert not emitted(out, EventType.INTERACTION_OFFERED)
        assigned = emitted(out, EventType.INTERACTION_ASSIGNED)[0]
        assert assigned.data["auto_answered"] and assigned.data["first_reply_required"]
        for command in (
            lambda: router.end_interaction("c1", "ana", at(2)),
            lambda: router.transfer_to_queue("c1", "ana", "support", at(2)),
            lambda: router.transfer_to_agent("c1", "ana", "ben", at(2)),
        ):
            with pytest.raises(RoutingError) as exc:
                command()
            assert exc.value.slug == "first-reply-required"
        assert tray(router, "ana", at(2)).items[0].first_reply_required
        out = router.agent_message("c1", "ana", at(3))
        assert emitted(out, EventType.INTERACTION_FIRST_REPLY)
        router.end_interaction("c1", "ana", at(4))
        assert router.interactions["c1"].status is InteractionStatus.ENDED

    def test_offer_timeout_makes_agent_idle_and_moves_on(self) -> None:
        router = make_router()
        available(router, "ana", at(0))
        available(router, "ben", at(1))
        router.enqueue("c1", "sales", Channel.CHAT, "c", at(2))
        assert router.interactions["c1"].offer.agent_id == "ana"  # type: ignore[union-attr]
        assert router.offer_timeout("c1", at(31)).decisions == ()  # not yet due
        out = router.fire_timer(TimerKind.OFFER_TIMEOUT, "c1", at(32))
        assert router.agents["ana"].status.kind is StatusKind.AWAY_IDLE
        changed = emitted(out, EventType.AGENT_STATUS_CHANGED)[0]
        assert changed.data["status"] == "away-idle" and changed.data["reason"] == "offer_timeout"
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]
        # ben lets it lapse too: it waits, and ana back from idle does not get it again this round
        router.fire_timer(TimerKind.OFFER_TIMEOUT, "c1", at(62))
        router.set_status("ana", "available", at(63))
        assert router.interactions["c1"].status is InteractionStatus.QUEUED
        assert "ana" in router.interactions["c1"].excluded

    def test_first_reply_timeout(self) -> None:
        router = make_router(settings=AgentSettings(reply_timeout=timedelta(seconds=60)))
        available(router, "ana", at(0))
        available(router, "ben", at(1))
        router.enqueue("c1", "sales", Channel.CHAT, "c", at(2))
        out = router.accept("c1", "ana", at(3))
        assert ScheduleTimer(TimerKind.FIRST_REPLY, "c1", at(63)) in out.decisions
        router.fire_timer(TimerKind.FIRST_REPLY, "c1", at(63))
        assert router.agents["ana"].status.kind is StatusKind.AWAY_IDLE
        assert router.agents["ana"].used.get(Channel.CHAT, 0) == 0
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]

    def test_first_reply_in_time_cancels_the_clock(self) -> None:
        router = make_router()
        available(router, "ana")
        router.enqueue("c1", "sales", Channel.CHAT, "c", at(1))
        router.accept("c1", "ana", at(2))
        out = router.agent_message("c1", "ana", at(10))
        assert CancelTimer(TimerKind.FIRST_REPLY, "c1") in out.decisions
        assert router.first_reply_timeout("c1", at(200)).decisions == ()

    def test_skill_match_enforced_waits_then_no_agents(self) -> None:
        queue = Queue(
            "fr", "French", frozenset({Channel.CHAT}), required_skills={"french": 2},
            enforce_skill_match=True, max_wait=timedelta(minutes=2),
        )  # fmt: skip
        router = make_router(
            queues=[queue],
            agents=[
                Agent("ana", "Ana", skills={"french": 1}, queues=frozenset({"fr"})),
                Agent("ben", "Ben", skills={"french": 3}, queues=frozenset({"fr"})),
            ],
        )
        available(router, "ana")
        out = router.enqueue("c1", "fr", Channel.CHAT, "c", at(1))
        assert ScheduleTimer(TimerKind.MAX_WAIT, "c1", at(121)) in out.decisions
        assert router.interactions["c1"].status is InteractionStatus.QUEUED
        out = router.fire_timer(TimerKind.MAX_WAIT, "c1", at(121))
        assert emitted(out, EventType.INTERACTION_NO_AGENTS_AVAILABLE)[0].data["reason"] == "max_wait"
        assert router.interactions["c1"].end_reason is EndReason.NO_AGENTS_AVAILABLE
        router.enqueue("c2", "fr", Channel.CHAT, "c", at(200))
        available(router, "ben", at(201))
        assert router.interactions["c2"].offer.agent_id == "ben"  # type: ignore[union-attr]

    def test_skill_match_not_enforced_prefers_skilled_then_anyone(self) -> None:
        queue = Queue("q", "Q", frozenset({Channel.CHAT}))
        router = make_router(
            queues=[queue],
            agents=[
                Agent("ana", "Ana", queues=frozenset({"q"})),
                Agent("ben", "Ben", skills={"german": 1}, queues=frozenset({"q"})),
            ],
        )
        available(router, "ana", at(0))
        available(router, "ben", at(1))
        router.enqueue("c1", "q", Channel.CHAT, "c", at(2), required_skills=["german"])
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]
        router.enqueue("c2", "q", Channel.CHAT, "c", at(3), required_skills=["italian"])
        assert router.interactions["c2"].offer.agent_id == "ana"  # type: ignore[union-attr]

    def test_offline_queue_ends_the_interaction_on_enqueue(self) -> None:
        closed = Queue(
            "night", "Night", frozenset({Channel.CHAT}),
            hours=HoursOfOperation("UTC", (WeeklyWindow(0, time(20), time(0)),)),
        )  # fmt: skip
        router = make_router(queues=[closed])
        out = router.enqueue("c1", "night", Channel.CHAT, "c", T0)
        assert emitted(out, EventType.INTERACTION_NO_AGENTS_AVAILABLE)[0].data["reason"] == "queue_offline"
        assert router.interactions["c1"].end_reason is EndReason.QUEUE_OFFLINE

    def test_enqueue_is_idempotent_and_validated(self) -> None:
        router = make_router()
        router.enqueue("c1", "sales", Channel.CHAT, "c", T0)
        assert router.enqueue("c1", "sales", Channel.CHAT, "c", T0) == Outcome()
        with pytest.raises(RoutingError) as exc:
            router.enqueue("c2", "nowhere", Channel.CHAT, "c", T0)
        assert exc.value.slug == "unknown-queue"
        with pytest.raises(RoutingError) as exc:
            router.enqueue("c3", "sales", Channel.VOICEMAIL, "c", T0)
        assert exc.value.slug == "channel-not-supported"
        with pytest.raises(RoutingError) as exc:
            router.enqueue("c4", "sales", Channel.CHAT, "c", datetime(2024, 6, 24, 13, 0))
        assert exc.value.slug == "invalid-time"

    def test_position_and_estimated_wait(self) -> None:
        queue = Queue("q", "Q", frozenset({Channel.VOICE}), default_handle_time=timedelta(minutes=4))
        router = make_router(
            queues=[queue],
            agents=[
                Agent("ana", "Ana", queues=frozenset({"q"})),
                Agent("ben", "Ben", queues=frozenset({"q"})),
            ],
        )
        router.login("ana", T0)
        router.login("ben", T0)  # staffed (logged in) but away: nobody takes calls yet
        for i in range(3):
            router.enqueue(f"v{i}", "q", Channel.VOICE, "c", at(i))
        assert queue_position(router, "v2") == 3
        # 3 x 4 min / 2 staffed slots
        assert estimated_wait(router, "v2", at(5)) == timedelta(minutes=6)
        router.set_status("ana", "available", at(10))
        router.accept("v0", "ana", at(11))
        router.end_interaction("v0", "ana", at(71))  # one real 60 s leg
        assert router.average_handle_time("q", Channel.VOICE) == timedelta(seconds=60)
        assert queue_position(router, "v2") == 2
        assert estimated_wait(router, "v2", at(72)) == timedelta(seconds=60)
        assert estimated_wait(router, "v0", at(72)) is None

    def test_no_estimate_without_staff(self) -> None:
        router = make_router()
        router.enqueue("c1", "sales", Channel.CHAT, "c", T0)
        assert estimated_wait(router, "c1", T0) is None


class TestVoicemail:
    def queue(self, mode: VoicemailMode) -> Queue:
        return Queue("vm", "Voicemail", frozenset({Channel.VOICEMAIL, Channel.VOICE}), voicemail_mode=mode)

    def test_manual_voicemail_offered_without_a_slot(self) -> None:
        router = make_router(
            queues=[self.queue(VoicemailMode.MANUAL)],
            agents=[Agent("ana", "Ana", queues=frozenset({"vm"}))],
        )
        available(router, "ana")
        router.enqueue("call", "vm", Channel.VOICE, "c", at(1))
        router.accept("call", "ana", at(2))
        assert router.agents["ana"].free_slots(Channel.VOICE) == 0
        out = router.enqueue("vm1", "vm", Channel.VOICEMAIL, "c", at(3))
        offered = emitted(out, EventType.INTERACTION_OFFERED)[0]
        assert offered.data["consumes_slot"] is False
        router.enqueue("vm2", "vm", Channel.VOICEMAIL, "c", at(4))
        # one pending voicemail offer per agent at a time
        assert router.interactions["vm2"].status is InteractionStatus.QUEUED
        router.accept("vm1", "ana", at(5))
        assert router.interactions["vm1"].slot_holder is None
        assert router.interactions["vm2"].status is InteractionStatus.OFFERED
        assert not tray(router, "ana", at(6)).items[1].first_reply_required

    def test_auto_voicemail_lands_in_tray(self) -> None:
        router = make_router(
            queues=[self.queue(VoicemailMode.AUTO)],
            agents=[Agent("ana", "Ana", queues=frozenset({"vm"}))],
        )
        available(router, "ana")
        out = router.enqueue("vm1", "vm", Channel.VOICEMAIL, "c", at(1))
        assert emitted(out, EventType.INTERACTION_ASSIGNED)
        assert [item.interaction_id for item in tray(router, "ana", at(2)).items] == ["vm1"]
        router.end_interaction("vm1", "ana", at(3))


# ------------------------------------------------------------------ transfers


def transfer_router(**settings: object) -> Router:
    hours = HoursOfOperation("UTC", tuple(WeeklyWindow(d, time(8), time(18)) for d in range(5)))
    queues = [
        Queue("sales", "Sales", frozenset({Channel.CHAT, Channel.VOICE})),
        Queue("billing", "Billing", frozenset({Channel.CHAT, Channel.VOICE}), hours=hours,
              enforce_skill_match=True, required_skills={"billing": 1}, max_wait=timedelta(minutes=3)),
        Queue("night", "Night", frozenset({Channel.CHAT}),
              hours=HoursOfOperation("UTC", (WeeklyWindow(0, time(20), time(0)),))),
        Queue("email", "Email", frozenset({Channel.EMAIL})),
    ]  # fmt: skip
    agents = [
        Agent("ana", "Ana", queues=frozenset({"sales"})),
        Agent("ben", "Ben", queues=frozenset({"sales", "billing"})),
        Agent("cat", "Cat", skills={"billing": 2}, queues=frozenset({"billing"})),
    ]
    return Router(AgentSettings(**settings), queues=queues, agents=agents)  # type: ignore[arg-type]


def live_chat(router: Router, agent_id: str = "ana", interaction_id: str = "c1") -> None:
    available(router, agent_id)
    router.enqueue(interaction_id, "sales", Channel.CHAT, "cust", at(1), summary="bot: billing question")
    router.accept(interaction_id, agent_id, at(2))
    router.agent_message(interaction_id, agent_id, at(3))


class TestTransfers:
    def test_target_queues_are_open_now(self) -> None:
        router = transfer_router()
        live_chat(router)
        names = [q.id for q in transfer_target_queues(router, "ana", "c1", at(4))]
        assert names == ["billing"]  # night is closed, email takes no chat, sales is current
        with pytest.raises(RoutingError) as exc:
            router.transfer_to_queue("c1", "ana", "night", at(4))
        assert exc.value.slug == "queue-offline"

    def test_transfer_to_queue_with_skill_match_and_hop_summaries(self) -> None:
        router = transfer_router()
        live_chat(router)
        available(router, "ben", at(3))
        router.login("cat", at(3))
        assert [a.id for a in skilled_agents(router, "billing")] == ["cat"]
        out = router.transfer_to_queue("c1", "ana", "billing", at(5), summary="ana: needs refund of 20 EUR")
        assert emitted(out, EventType.INTERACTION_TRANSFER_REQUESTED)[0].data["to_queue"] == "billing"
        assert router.agents["ana"].used[Channel.CHAT] == 0
        # ben is a billing member but lacks the skill: the conversation waits
        c1 = router.interactions["c1"]
        assert c1.status is InteractionStatus.QUEUED and c1.transfer_pending
        available(router, "cat", at(6))
        router.accept("c1", "cat", at(7))
        summary = arrival_summary(router, "c1", at(8))
        assert [h.summary for h in summary.hops] == ["bot: billing question", "ana: needs refund of 20 EUR"]
        assert summary.queue_name == "Billing" and summary.agent_name == "Cat"
        # 1 s offered to ana, then 2 s in billing (waiting and ringing at cat) after the transfer
        assert summary.wait_time == timedelta(seconds=3)

    def test_transfer_to_queue_without_skilled_agents_times_out(self) -> None:
        router = transfer_router()
        live_chat(router)
        out = router.transfer_to_queue("c1", "ana", "billing", at(5))
        assert ScheduleTimer(TimerKind.MAX_WAIT, "c1", at(185)) in out.decisions
        out = router.max_wait_elapsed("c1", at(185))
        assert emitted(out, EventType.INTERACTION_NO_AGENTS_AVAILABLE)
        assert emitted(out, EventType.INTERACTION_TRANSFER_DROPPED)

    def test_skill_modification_at_transfer(self) -> None:
        router = transfer_router(skill_modification=SkillModification.TRANSFER)
        live_chat(router)
        available(router, "cat", at(3))
        router.transfer_to_queue("c1", "ana", "billing", at(5), add_skills={"billing": 3})
        # cat has billing 2 < 3
        assert router.interactions["c1"].status is InteractionStatus.QUEUED
        router2 = transfer_router()
        live_chat(router2)
        with pytest.raises(RoutingError) as exc:
            router2.transfer_to_queue("c1", "ana", "billing", at(5), add_skills=["spanish"])
        assert exc.value.slug == "skill-modification-not-allowed"

    def test_skill_modification_live(self) -> None:
        router = transfer_router(skill_modification=SkillModification.LIVE_INTERACTION)
        live_chat(router)
        out = router.modify_skills("c1", "ana", at(4), add=["spanish"])
        assert emitted(out, EventType.INTERACTION_SKILLS_CHANGED)[0].data["skills"] == {"spanish": 1}
        router.modify_skills("c1", "ana", at(5), remove=["spanish"])
        assert router.interactions["c1"].required_skills == {}

    def test_transfer_to_agent(self) -> None:
        router = transfer_router()
        live_chat(router)
        with pytest.raises(RoutingError) as exc:
            router.transfer_to_agent("c1", "ana", "ben", at(4))
        assert exc.value.slug == "transfer-target-unavailable"
        available(router, "ben", at(4))
        assert [a.id for a in transfer_target_agents(router, "ana", "c1")] == ["ben"]
        router.transfer_to_agent("c1", "ana", "ben", at(5), summary="ana: over to you")
        assert router.interactions["c1"].offer.agent_id == "ben"  # type: ignore[union-attr]
        assert router.agents["ana"].conversations == set()
        router.accept("c1", "ben", at(6))
        assert len(router.interactions["c1"].hops) == 2

    def test_transfer_to_agent_rejected_goes_to_queue_front(self) -> None:
        router = transfer_router()
        live_chat(router)
        available(router, "ben", at(4))
        router.transfer_to_agent("c1", "ana", "ben", at(5))
        router.reject("c1", "ben", at(6))
        c1 = router.interactions["c1"]
        assert c1.status is InteractionStatus.QUEUED and c1.front
        assert c1.excluded == {"ana", "ben"}

    def test_customer_ends_before_transfer_completes(self) -> None:
        router = transfer_router()
        live_chat(router)
        available(router, "ben", at(4))
        router.transfer_to_agent("c1", "ana", "ben", at(5))
        out = router.customer_ended("c1", at(6))
        assert emitted(out, EventType.INTERACTION_TRANSFER_DROPPED)
        c1 = router.interactions["c1"]
        assert c1.status is InteractionStatus.ENDED and c1.agent_id is None and c1.slot_holder is None
        assert router.agents["ben"].used.get(Channel.CHAT, 0) == 0
        assert router.customer_ended("c1", at(7)) == Outcome()

    def test_destinations_setting(self) -> None:
        router = transfer_router(transfer_destinations=TransferDestinations.AGENT)
        live_chat(router)
        assert transfer_target_queues(router, "ana", "c1", at(4)) == []
        with pytest.raises(RoutingError) as exc:
            router.transfer_to_queue("c1", "ana", "billing", at(4))
        assert exc.value.slug == "transfer-not-allowed"

    def test_external_transfer_for_calls(self) -> None:
        contact = ExternalContact("desk", "Billing desk", "+14155550100")
        router = transfer_router(external_transfer=True, external_contacts=(contact,))
        available(router, "ana")
        router.enqueue("v1", "sales", Channel.VOICE, "c", at(1))
        router.accept("v1", "ana", at(2))
        with pytest.raises(RoutingError) as exc:
            router.transfer_to_external("v1", "ana", "nobody", at(3))
        assert exc.value.slug == "transfer-target-unavailable"
        out = router.transfer_to_external("v1", "ana", "desk", at(3))
        assert emitted(out, EventType.INTERACTION_TRANSFER_REQUESTED)[0].data["number"] == "+14155550100"
        ended = emitted(out, EventType.INTERACTION_ENDED)[0]
        assert ended.data["reason"] == "external_transfer" and ended.data["holds_slot"] is True
        router.release_slot("v1", at(30))
        assert router.agents["ana"].used[Channel.VOICE] == 0

    def test_transfer_checks_ownership(self) -> None:
        router = transfer_router()
        live_chat(router)
        with pytest.raises(RoutingError) as exc:
            router.transfer_to_queue("c1", "ben", "billing", at(4))
        assert exc.value.slug == "not-assigned-agent"


# ------------------------------------------------------------------ snooze


class TestSnooze:
    def live(self, **settings: object) -> Router:
        router = make_router(
            settings=AgentSettings(**settings),  # type: ignore[arg-type]
            agents=[Agent("ana", "Ana", queues=frozenset({"sales"}), capacity={Channel.CHAT: 1})],
        )
        live_chat(router)
        return router

    def test_snooze_frees_slot_and_pauses_handle_time(self) -> None:
        router = self.live()
        router.enqueue("c2", "sales", Channel.CHAT, "c", at(4))
        assert router.interactions["c2"].status is InteractionStatus.QUEUED
        out = router.snooze("c1", "ana", timedelta(minutes=5), at(10))
        assert ScheduleTimer(TimerKind.SNOOZE_WAKE, "c1", at(310)) in out.decisions
        assert router.interactions["c2"].offer.agent_id == "ana"  # type: ignore[union-attr]
        view = tray(router, "ana", at(70))
        assert view.snoozed_count == 1
        assert view.items[0].snooze_remaining == timedelta(seconds=240)
        assert view.items[0].handle_time == timedelta(seconds=8)
        # ana now has c2's offer in the slot: the wake-up waits for it
        router.fire_timer(TimerKind.SNOOZE_WAKE, "c1", at(310))
        assert router.interactions["c1"].wake_pending
        with pytest.raises(RoutingError) as exc:
            router.unsnooze("c1", "ana", at(311))
        assert exc.value.slug == "capacity-exceeded"
        router.reject("c2", "ana", at(312))
        c1 = router.interactions["c1"]
        assert c1.status is InteractionStatus.ASSIGNED and c1.agent_id == "ana"
        assert c1.handle_time(at(322)) == timedelta(seconds=18)

    def test_customer_message_wakes(self) -> None:
        router = self.live()
        router.snooze("c1", "ana", timedelta(minutes=5), at(10))
        out = router.customer_message("c1", at(20))
        assert emitted(out, EventType.INTERACTION_UNSNOOZED)[0].data["reason"] == "customer_message"
        assert CancelTimer(TimerKind.SNOOZE_WAKE, "c1") in out.decisions
        assert router.interactions["c1"].reply_due_since == at(20)

    def test_unsnooze_on_demand(self) -> None:
        router = self.live()
        router.snooze("c1", "ana", timedelta(minutes=5), at(10))
        router.unsnooze("c1", "ana", at(20))
        assert router.interactions["c1"].status is InteractionStatus.ASSIGNED
        with pytest.raises(RoutingError) as exc:
            router.unsnooze("c1", "ana", at(21))
        assert exc.value.slug == "not-snoozed"

    def test_snooze_refused_when_reply_due_or_overdue(self) -> None:
        router = self.live()
        router.customer_message("c1", at(10))
        with pytest.raises(RoutingError) as exc:
            router.snooze("c1", "ana", timedelta(minutes=5), at(11))
        assert exc.value.details["reason"] == "reply-due"
        with pytest.raises(RoutingError) as exc:
            router.snooze("c1", "ana", timedelta(minutes=5), at(400))
        assert exc.value.slug == "snooze-not-allowed" and exc.value.details["reason"] == "overdue"
        assert tray(router, "ana", at(400)).items[0].overdue
        assert not tray(router, "ana", at(400)).items[0].engaged

    def test_snooze_duration_bounds(self) -> None:
        router = self.live(snooze_max=timedelta(hours=1))
        for bad in (timedelta(0), timedelta(hours=1, seconds=1)):
            with pytest.raises(RoutingError) as exc:
                router.snooze("c1", "ana", bad, at(10))
            assert exc.value.slug == "invalid-snooze-duration"
        router.snooze("c1", "ana", timedelta(minutes=7), at(10))

    def test_custom_duration_disabled(self) -> None:
        router = self.live(custom_snooze=False)
        with pytest.raises(RoutingError) as exc:
            router.snooze("c1", "ana", timedelta(minutes=7), at(10))
        assert exc.value.slug == "invalid-snooze-duration"
        router.snooze("c1", "ana", timedelta(minutes=15), at(10))


# ------------------------------------------------------------------ tray and end


class TestTrayAndEnd:
    def test_tray_flags(self) -> None:
        queue = Queue(
            "q", "Q", frozenset({Channel.CHAT, Channel.EMAIL}), overdue_threshold=timedelta(minutes=2)
        )
        router = make_router(queues=[queue], agents=[Agent("ana", "Ana", queues=frozenset({"q"}))])
        available(router, "ana")
        router.enqueue("mail", "q", Channel.EMAIL, "c", at(1))
        router.accept("mail", "ana", at(2))
        router.enqueue("chat", "q", Channel.CHAT, "c", at(3))
        router.accept("chat", "ana", at(4))
        router.agent_message("chat", "ana", at(5))
        items = {item.interaction_id: item for item in tray(router, "ana", at(60)).items}
        assert items["mail"].new_email and items["mail"].engaged
        assert items["chat"].engaged and not items["chat"].overdue and not items["chat"].new_email
        router.customer_message("chat", at(100))
        items = {item.interaction_id: item for item in tray(router, "ana", at(220)).items}
        assert items["chat"].overdue and items["mail"].overdue
        router.agent_message("mail", "ana", at(221))
        items = {item.interaction_id: item for item in tray(router, "ana", at(222)).items}
        assert not items["mail"].new_email and not items["mail"].overdue

    def test_end_by_customer_keeps_slot_for_acw(self) -> None:
        router = make_router()
        live_chat(router)
        out = router.customer_ended("c1", at(10))
        ended = emitted(out, EventType.INTERACTION_ENDED)[0]
        assert ended.data["reason"] == "customer" and ended.data["holds_slot"]
        assert router.agents["ana"].used[Channel.CHAT] == 1
        out = router.release_slot("c1", at(20))
        assert emitted(out, EventType.INTERACTION_SLOT_RELEASED)
        assert router.agents["ana"].used[Channel.CHAT] == 0

    def test_end_refusals(self) -> None:
        router = make_router()
        live_chat(router)
        with pytest.raises(RoutingError) as exc:
            router.end_interaction("c1", "ben", at(4))
        assert exc.value.slug == "not-assigned-agent"
        router.end_interaction("c1", "ana", at(5))
        with pytest.raises(RoutingError) as exc:
            router.end_interaction("c1", "ana", at(6))
        assert exc.value.slug == "interaction-ended"

    def test_customer_ends_while_waiting(self) -> None:
        router = make_router()
        router.enqueue("c1", "sales", Channel.CHAT, "c", T0)
        out = router.customer_ended("c1", at(30))
        assert CancelTimer(TimerKind.MAX_WAIT, "c1") in out.decisions
        assert queue_position(router, "c1") is None
        assert router.interactions["c1"].wait_time(at(99)) == timedelta(seconds=30)

    def test_sentiment_is_validated(self) -> None:
        router = make_router()
        router.enqueue("c1", "sales", Channel.CHAT, "c", T0)
        with pytest.raises(RoutingError) as exc:
            router.record_sentiment("c1", 1.5, T0)
        assert exc.value.slug == "invalid-sentiment"
        with pytest.raises(RoutingError) as exc:
            router.record_sentiment("c1", float("nan"), T0)


class TestRestore:
    def test_restore_rebuilds_indexes(self) -> None:
        router = make_router()
        available(router, "ana")
        available(router, "ben", at(1))
        for i in range(6):
            router.enqueue(f"c{i}", "sales", Channel.CHAT, "c", at(2 + i))
        router.accept("c0", "ana", at(10))
        router.agent_message("c0", "ana", at(11))
        router.snooze("c0", "ana", timedelta(minutes=5), at(12))
        router.enqueue("v1", "sales", Channel.VOICE, "c", at(13))
        for i in range(4):
            router.enqueue(f"w{i}", "sales", Channel.CHAT, "c", at(14 + i))
        clone = make_router()
        clone.restore(
            copy.deepcopy(list(router.agents.values())), copy.deepcopy(list(router.interactions.values()))
        )
        for agent_id, state in router.agents.items():
            other = clone.agents[agent_id]
            assert (other.used, other.offers, other.conversations, other.ready_key) == (
                state.used, state.offers, state.conversations, state.ready_key,
            )  # fmt: skip
        assert [e.interaction_id for e in waiting(clone, "sales", Channel.CHAT, at(20))] == [
            e.interaction_id for e in waiting(router, "sales", Channel.CHAT, at(20))
        ]
        assert clone.staffed_slots("sales", Channel.CHAT) == router.staffed_slots("sales", Channel.CHAT) == 8
