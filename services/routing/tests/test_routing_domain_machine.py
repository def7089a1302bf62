"""Hypothesis state machine over the routing aggregate: random sequences of agent commands,
customer facts and timer firings, with the routing invariants checked after every step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from switchboard.routing.domain import (
    SLOTTED_CHANNELS,
    Agent,
    AgentSettings,
    CancelTimer,
    Channel,
    CustomStatus,
    Emit,
    EventType,
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
    VoicemailMode,
)

T0 = datetime(2024, 6, 24, 9, 0, tzinfo=UTC)
AGENTS = ("a0", "a1", "a2")
QUEUES = ("q0", "q1")
QUEUE_CHANNELS = {
    "q0": (Channel.CHAT, Channel.VOICE, Channel.VOICEMAIL),
    "q1": (Channel.CHAT, Channel.EMAIL, Channel.VOICEMAIL),
}
STATUSES = ("available", "away", "lunch", "focus", "away-idle")
SYSTEM_REASONS = {"offer_timeout", "reply_timeout", "login_prep_ended"}
SNOOZES = (timedelta(minutes=1), timedelta(minutes=5))


def build_router() -> Router:
    queues = [
        Queue("q0", "Zero", frozenset(QUEUE_CHANNELS["q0"]), max_wait=timedelta(minutes=4)),
        Queue(
            "q1", "One", frozenset(QUEUE_CHANNELS["q1"]), auto_answer=True, voicemail_mode=VoicemailMode.AUTO,
            required_skills={"x": 1}, enforce_skill_match=True, max_wait=timedelta(minutes=3),
            overdue_threshold=timedelta(minutes=1),
        ),
    ]  # fmt: skip
    agents = [
        Agent("a0", "A0", skills={"x": 2}, capacity={Channel.CHAT: 2}, queues=frozenset({"q0", "q1"})),
        Agent("a1", "A1", capacity={Channel.CHAT: 1, Channel.EMAIL: 2}, queues=frozenset({"q0", "q1"})),
        Agent("a2", "A2", skills={"x": 1}, capacity={Channel.VOICE: 1}, queues=frozenset({"q1"})),
    ]
    return Router(
        AgentSettings(
            login_prep=timedelta(seconds=10),
            offer_timeout=timedelta(seconds=30),
            reply_timeout=timedelta(seconds=120),
            inactivity_threshold=timedelta(seconds=60),
            snooze_presets=SNOOZES,
            snooze_max=timedelta(minutes=10),
            skill_modification=SkillModification.TRANSFER,
        ),
        queues=queues,
        agents=agents,
        statuses=[
            CustomStatus("lunch", "Lunch", StatusTag.AWAY),
            CustomStatus("focus", "Focus", StatusTag.AVAILABLE),
        ],
    )


def refusal(command: Callable[[], None]) -> str | None:
    try:
        command()
    except RoutingError as exc:
        return exc.slug
    return None


def snapshot(router: Router) -> str:
    return repr(sorted(router.agents.items())) + repr(sorted(router.interactions.items()))


class RoutingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.router = build_router()
        self.now = T0
        self.timers: dict[tuple[TimerKind, str], datetime] = {}
        self.ids: list[str] = []
        self.counter = 0
        self.bad_idle: list[Emit] = []

    # -------------------------------------------------------------- plumbing

    def apply(self, outcome: Outcome) -> None:
        for decision in outcome.decisions:
            if isinstance(decision, ScheduleTimer):
                self.timers[(decision.kind, decision.key)] = decision.due_at
            elif isinstance(decision, CancelTimer):
                self.timers.pop((decision.kind, decision.key), None)
            elif (
                decision.type is EventType.AGENT_STATUS_CHANGED
                and decision.data["status"] == StatusKind.AWAY_IDLE.value
                and decision.data["reason"] not in SYSTEM_REASONS
            ):
                self.bad_idle.append(decision)

    def attempt(self, command: Callable[[], Outcome]) -> None:
        """Run a strict command: it either succeeds or refuses without touching the state."""
        before = snapshot(self.router)
        try:
            outcome = command()
        except RoutingError:
            assert snapshot(self.router) == before
            return
        self.apply(outcome)

    def pick(self, index: int, *statuses: InteractionStatus) -> str | None:
        """Mostly an interaction in one of ``statuses`` (so rules hit live state), sometimes any."""
        candidates = [i for i in self.ids if self.router.interactions[i].status in statuses]
        if not candidates or index % 5 == 0:
            candidates = self.ids
        return candidates[index % len(candidates)] if candidates else None

    # -------------------------------------------------------------- agent rules

    @initialize(ready=st.sets(st.sampled_from(AGENTS)))
    def start_shift(self, ready: set[str]) -> None:
        for agent in sorted(ready):
            self.become_available(agent)

    @rule(agent=st.sampled_from(AGENTS))
    def become_available(self, agent: str) -> None:
        """The common path (log in, pick Available), so random runs reach offers and conversations."""
        self.attempt(lambda: self.router.login(agent, self.now))
        self.attempt(lambda: self.router.set_status(agent, "available", self.now))

    @rule(agent=st.sampled_from(AGENTS))
    def login(self, agent: str) -> None:
        self.attempt(lambda: self.router.login(agent, self.now))

    @rule(agent=st.sampled_from(AGENTS))
    def logout(self, agent: str) -> None:
        open_conversations = bool(self.router.agents[agent].conversations)
        slug = refusal(lambda: self.apply(self.router.logout(agent, self.now)))
        if slug is None:
            assert not open_conversations
            assert self.router.agents[agent].status.kind is StatusKind.OFFLINE
        else:
            assert slug == "logout-blocked" and open_conversations

    @rule(agent=st.sampled_from(AGENTS), status=st.sampled_from(STATUSES))
    def set_status(self, agent: str, status: str) -> None:
        before = self.router.agents[agent].status
        slug = refusal(lambda: self.apply(self.router.set_status(agent, status, self.now)))
        if status == "away-idle":
            assert slug == "status-not-selectable"
        if slug is not None:
            assert slug in {"status-not-selectable", "agent-offline"}
            assert self.router.agents[agent].status == before

    @rule(agent=st.sampled_from(AGENTS), available=st.booleans())
    def answer_prompt(self, agent: str, available: bool) -> None:
        if available:
            self.attempt(lambda: self.router.mark_available(agent, self.now))
        else:
            self.attempt(lambda: self.router.keep_away(agent, self.now))

    @rule(agent=st.sampled_from(AGENTS), lost=st.booleans())
    def presence(self, agent: str, lost: bool) -> None:
        if lost:
            self.apply(self.router.presence_lost(agent, self.now))
        else:
            self.apply(self.router.presence_restored(agent, self.now))

    # -------------------------------------------------------------- interaction rules

    @rule(data=st.data(), queue=st.sampled_from(QUEUES), priority=st.none() | st.integers(1, 10))
    def enqueue(self, data: st.DataObject, queue: str, priority: int | None) -> None:
        channel = data.draw(st.sampled_from(QUEUE_CHANNELS[queue]))
        self.counter += 1
        interaction_id = f"i{self.counter}"
        self.attempt(
            lambda: self.router.enqueue(interaction_id, queue, channel, "cust", self.now, priority=priority)
        )
        self.ids.append(interaction_id)

    @rule(index=st.integers(0, 1000), agent=st.sampled_from(AGENTS), accept=st.booleans())
    def answer_offer(self, index: int, agent: str, accept: bool) -> None:
        interaction_id = self.pick(index, InteractionStatus.OFFERED)
        if interaction_id is None:
            return
        offer = self.router.interactions[interaction_id].offer
        target = offer.agent_id if offer is not None and index % 3 else agent
        if accept:
            self.attempt(lambda: self.router.accept(interaction_id, target, self.now))
        else:
            self.attempt(lambda: self.router.reject(interaction_id, target, self.now))

    def owner(self, index: int) -> tuple[str, str] | None:
        interaction_id = self.pick(index, InteractionStatus.ASSIGNED, InteractionStatus.SNOOZED)
        if interaction_id is None:
            return None
        agent = self.router.interactions[interaction_id].agent_id or AGENTS[index % len(AGENTS)]
        return interaction_id, agent

    @rule(index=st.integers(0, 1000))
    def agent_message(self, index: int) -> None:
        picked = self.owner(index)
        if picked is not None:
            self.apply(self.router.agent_message(picked[0], picked[1], self.now))

    @rule(index=st.integers(0, 1000))
    def customer_message(self, index: int) -> None:
        picked = self.owner(index)
        if picked is not None:
            self.apply(self.router.customer_message(picked[0], self.now))

    @rule(index=st.integers(0, 1000), score=st.floats(-1, 1))
    def sentiment(self, index: int, score: float) -> None:
        interaction_id = self.pick(index)
        if interaction_id is not None:
            self.apply(self.router.record_sentiment(interaction_id, score, self.now))

    @rule(index=st.integers(0, 1000), queue=st.sampled_from(QUEUES), add=st.booleans())
    def transfer_to_queue(self, index: int, queue: str, add: bool) -> None:
        picked = self.owner(index)
        if picked is None:
            return
        interaction_id, agent = picked
        skills = ["x"] if add else []
        self.attempt(
            lambda: self.router.transfer_to_queue(
                interaction_id, agent, queue, self.now, summary=f"hop by {agent}", add_skills=skills
            )
        )

    @rule(index=st.integers(0, 1000), to=st.sampled_from(AGENTS))
    def transfer_to_agent(self, index: int, to: str) -> None:
        picked = self.owner(index)
        if picked is None:
            return
        interaction_id, agent = picked
        self.attempt(lambda: self.router.transfer_to_agent(interaction_id, agent, to, self.now))

    @rule(index=st.integers(0, 1000), duration=st.sampled_from(SNOOZES), wake=st.booleans())
    def snooze(self, index: int, duration: timedelta, wake: bool) -> None:
        picked = self.owner(index)
        if picked is None:
            return
        interaction_id, agent = picked
        if wake:
            self.attempt(lambda: self.router.unsnooze(interaction_id, agent, self.now))
        else:
            self.attempt(lambda: self.router.snooze(interaction_id, agent, duration, self.now))

    @rule(index=st.integers(0, 1000), by_customer=st.booleans())
    def end(self, index: int, by_customer: bool) -> None:
        picked = self.owner(index)
        if picked is None:
            return
        interaction_id, agent = picked
        if by_customer:
            self.apply(self.router.customer_ended(interaction_id, self.now))
        else:
            self.attempt(lambda: self.router.end_interaction(interaction_id, agent, self.now))

    @rule(index=st.integers(0, 1000))
    def release_slot(self, index: int) -> None:
        interaction_id = self.pick(index, InteractionStatus.ENDED)
        if interaction_id is not None:
            self.apply(self.router.release_slot(interaction_id, self.now))

    @rule(seconds=st.integers(1, 150))
    def advance(self, seconds: int) -> None:
        """Move the clock and fire every due timer in due order, as the durable poller would."""
        self.now += timedelta(seconds=seconds)
        while True:
            due = [(at, kind, key) for (kind, key), at in self.timers.items() if at <= self.now]
            if not due:
                return
            at, kind, key = min(due)
            del self.timers[(kind, key)]
            self.apply(self.router.fire_timer(kind, key, max(at, T0)))
            # the poller fires late, never early: "now" for the handler is the poll time
            self.apply(self.router.fire_timer(kind, key, self.now))

    # -------------------------------------------------------------- invariants

    @invariant()
    def slots_never_exceeded(self) -> None:
        for agent_id, agent in self.router.agents.items():
            for channel in SLOTTED_CHANNELS:
                held = [
                    it.id for it in self.router.interactions.values()
                    if it.slot_holder == agent_id and it.channel is channel
                ]  # fmt: skip
                assert len(held) == agent.used.get(channel, 0)
                assert len(held) <= agent.config.slots(channel), (agent_id, channel, held)
            if not agent.status.logged_in:
                assert not agent.held and not agent.offers and not agent.conversations

    @invariant()
    def voicemail_never_holds_a_slot(self) -> None:
        for it in self.router.interactions.values():
            if it.channel is Channel.VOICEMAIL:
                assert it.slot_holder is None

    @invariant()
    def never_with_two_agents_and_never_lost(self) -> None:
        owners: dict[str, list[str]] = {}
        for agent_id, agent in self.router.agents.items():
            for interaction_id in agent.conversations | agent.offers:
                owners.setdefault(interaction_id, []).append(agent_id)
        for it in self.router.interactions.values():
            holders = owners.get(it.id, [])
            assert len(holders) <= 1, (it.id, holders)
            status = it.status
            if status is InteractionStatus.QUEUED:
                assert not holders and it.wait_key is not None
                assert (TimerKind.MAX_WAIT, it.id) in self.timers
                assert self.router.waiting_keys(it.queue_id, it.channel).index(it.wait_key) >= 0
            elif status is InteractionStatus.OFFERED:
                assert it.offer is not None and holders == [it.offer.agent_id]
                assert (TimerKind.OFFER_TIMEOUT, it.id) in self.timers
            elif status is InteractionStatus.ASSIGNED:
                assert it.agent_id is not None and holders == [it.agent_id]
                assert it.channel is Channel.VOICEMAIL or it.slot_holder == it.agent_id
            elif status is InteractionStatus.SNOOZED:
                assert it.agent_id is not None and holders == [it.agent_id] and it.slot_holder is None
                assert it.wake_pending or (TimerKind.SNOOZE_WAKE, it.id) in self.timers
            else:
                assert status is InteractionStatus.ENDED and not holders and it.wait_key is None

    @invariant()
    def away_idle_only_by_the_system(self) -> None:
        assert self.bad_idle == []

    @invariant()
    def no_idle_agent_while_matching_work_waits(self) -> None:
        for it in self.router.interactions.values():
            if it.status is InteractionStatus.QUEUED:
                for agent_id in AGENTS:
                    assert not self.router.can_serve(agent_id, it.id), (agent_id, it.id)


RoutingMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestRoutingMachine = RoutingMachine.TestCase
