"""The routing aggregate: agent status, capacity, queues, offers, transfers and snooze for one tenant.

Every command validates first and mutates second, so a raised :class:`RoutingError` leaves the
state exactly as it was; a successful command returns an :class:`Outcome` with the events and
timers to persist in the same transaction. No command reads a clock: ``now`` is a parameter and
must be timezone-aware.

Commands from people (HTTP) are strict and raise on anything out of place. Facts from other
services (customer/agent messages, customer hang-up, sentiment, ACW slot release) and timer
firings are tolerant: a stale or repeated one changes nothing, because delivery is at-least-once
and a timer may fire just after the state it guarded moved on.

Dispatch complexity (the benchmark's 7,500 agents / 5,000 queues):

* ``_ready[(queue, channel)]`` holds, in longest-available order, only agents that could take
  one more interaction of that channel right now. Routing an interaction walks that list until the
  first agent that is not excluded and has the skills: O(k log n) where k is the number of skipped
  agents, usually 1; no other agent in the tenant is looked at.
* ``_waiting[(queue, channel)]`` holds waiting interactions in service order. An agent who frees a
  slot looks only at its own queues and channels with free slots and stops scanning a list as
  soon as its keys cannot beat the best candidate found so far.
* Keeping an agent's ready entries current costs O(memberships x channels x log n) per change of
  status or slot.

After every command no ready agent could serve a waiting interaction (the property tests check
this against a brute-force search), which is why routing only ever looks at the one agent or the
one interaction that just changed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from switchboard.routing.domain import errors
from switchboard.routing.domain.config import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    SLOTTED_CHANNELS,
    Agent,
    AgentSettings,
    Channel,
    CustomStatus,
    Queue,
    SkillModification,
    StatusTag,
    VoicemailMode,
    freeze_skills,
    has_skills,
)
from switchboard.routing.domain.decisions import (
    ActiveInteractionsWarning,
    EventType,
    Outcome,
    OutcomeBuilder,
    TimerKind,
)
from switchboard.routing.domain.state import (
    EPOCH,
    OFFLINE,
    AgentState,
    AgentStatus,
    EndReason,
    Hop,
    InteractionState,
    InteractionStatus,
    Offer,
    ReadyKey,
    SortedKeys,
    StatusKind,
    WaitKey,
)

HANDLE_TIME_SAMPLES = 20
NOT_SELECTABLE = frozenset(
    {StatusKind.AWAY_IDLE.value, StatusKind.OFFLINE.value, StatusKind.LOGIN_PREP.value}
)
# Channels whose customer expects a written answer, so "a reply is due from the agent" applies.
REPLY_CHANNELS = frozenset({Channel.CHAT, Channel.EMAIL})


def utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise errors.InvalidTime("now must be timezone-aware")
    return now.astimezone(UTC)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


class Router:
    def __init__(
        self,
        settings: AgentSettings | None = None,
        *,
        queues: Iterable[Queue] = (),
        agents: Iterable[Agent] = (),
        statuses: Iterable[CustomStatus] = (),
    ) -> None:
        self.settings = settings or AgentSettings()
        self._queues: dict[str, Queue] = {}
        self._statuses: dict[str, CustomStatus] = {s.id: s for s in statuses}
        self._agents: dict[str, AgentState] = {}
        self._interactions: dict[str, InteractionState] = {}
        self._members: dict[str, set[str]] = {}
        self._ready: dict[tuple[str, Channel], SortedKeys[ReadyKey]] = {}
        self._waiting: dict[tuple[str, Channel], SortedKeys[WaitKey]] = {}
        self._staffed: dict[tuple[str, Channel], int] = {}
        self._handle_times: dict[tuple[str, Channel], deque[timedelta]] = {}
        self._seq = 0
        for queue in queues:
            self._queues[queue.id] = queue
        for agent in agents:
            self._add_agent(agent)

    # ----------------------------------------------------------------- read access

    @property
    def queues(self) -> Mapping[str, Queue]:
        return MappingProxyType(self._queues)

    @property
    def agents(self) -> Mapping[str, AgentState]:
        return MappingProxyType(self._agents)

    @property
    def interactions(self) -> Mapping[str, InteractionState]:
        return MappingProxyType(self._interactions)

    @property
    def statuses(self) -> Mapping[str, CustomStatus]:
        return MappingProxyType(self._statuses)

    def agent(self, agent_id: str) -> AgentState:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise errors.UnknownAgent(f"unknown agent {agent_id!r}", agent_id=agent_id) from None

    def queue(self, queue_id: str) -> Queue:
        try:
            return self._queues[queue_id]
        except KeyError:
            raise errors.UnknownQueue(f"unknown queue {queue_id!r}", queue_id=queue_id) from None

    def interaction(self, interaction_id: str) -> InteractionState:
        try:
            return self._interactions[interaction_id]
        except KeyError:
            raise errors.UnknownInteraction(
                f"unknown interaction {interaction_id!r}", interaction_id=interaction_id
            ) from None

    def waiting_keys(self, queue_id: str, channel: Channel) -> SortedKeys[WaitKey]:
        return self._waiting.get((queue_id, channel)) or SortedKeys()

    def members(self, queue_id: str) -> frozenset[str]:
        return frozenset(self._members.get(queue_id, ()))

    def staffed_slots(self, queue_id: str, channel: Channel) -> int:
        return self._staffed.get((queue_id, channel), 0)

    def average_handle_time(self, queue_id: str, channel: Channel) -> timedelta:
        """Mean of the last ``HANDLE_TIME_SAMPLES`` agent legs in the queue, or the queue's default."""
        samples = self._handle_times.get((queue_id, channel))
        if not samples:
            return self.queue(queue_id).default_handle_time
        return sum(samples, timedelta(0)) / len(samples)

    def effective_skills(self, it: InteractionState) -> dict[str, int]:
        """Queue requirements plus the interaction's own (highest level wins).

        Kept apart so a transfer leaves the old queue's requirements behind.
        """
        merged = dict(self._queues[it.queue_id].required_skills) if it.queue_id in self._queues else {}
        for name, level in it.required_skills.items():
            merged[name] = max(level, merged.get(name, 0))
        return merged

    def enforces_skill_match(self, queue: Queue) -> bool:
        if queue.enforce_skill_match is not None:
            return queue.enforce_skill_match
        return self.settings.enforce_skill_match

    def ready_channels(self, agent_id: str) -> frozenset[Channel]:
        """Channels the agent could take one more interaction of right now."""
        return frozenset(self._ready_channels(self.agent(agent_id)))

    def live_interaction(self, interaction_id: str, agent_id: str) -> InteractionState:
        """The interaction if it is live with this agent; raises the same refusals as the commands."""
        return self._live(interaction_id, agent_id)

    def can_serve(self, agent_id: str, interaction_id: str) -> bool:
        """Whether routing could hand this waiting interaction to this agent right now (brute force)."""
        a = self._agents.get(agent_id)
        it = self._interactions.get(interaction_id)
        if a is None or it is None or it.status is not InteractionStatus.QUEUED:
            return False
        queue = self._queues.get(it.queue_id)
        if queue is None or it.channel not in queue.channels or queue.id not in a.config.queues:
            return False
        if it.channel not in self._ready_channels(a) or a.id in it.excluded:
            return False
        return not self.enforces_skill_match(queue) or has_skills(a.config.skills, self.effective_skills(it))

    # ----------------------------------------------------------------- configuration

    def upsert_queue(self, queue: Queue, now: datetime) -> Outcome:
        now = utc(now)
        out = OutcomeBuilder()
        members = [self._agents[agent_id] for agent_id in sorted(self._members.get(queue.id, ()))]
        staffed = [a for a in members if a.status.logged_in]
        for a in staffed:
            self._staff(a, -1)
        self._queues[queue.id] = queue
        for a in staffed:
            self._staff(a, +1)
        for a in members:
            self._reindex(a)
        self._dispatch_queue(queue.id, now, out)
        return out.build()

    def upsert_agent(self, agent: Agent, now: datetime) -> Outcome:
        """Add an agent or change their skills, capacity or memberships; may route work to them at once."""
        now = utc(now)
        out = OutcomeBuilder()
        existing = self._agents.get(agent.id)
        if existing is None:
            self._add_agent(agent)
            return out.build()
        if existing.status.logged_in:
            self._staff(existing, -1)
        for queue_id in existing.config.queues:
            self._members.get(queue_id, set()).discard(agent.id)
        existing.config = agent
        for queue_id in agent.queues:
            self._members.setdefault(queue_id, set()).add(agent.id)
        if existing.status.logged_in:
            self._staff(existing, +1)
        self._reindex(existing)
        out.agents.add(agent.id)
        self._pull(existing, now, out)
        return out.build()

    def upsert_status(self, status: CustomStatus) -> None:
        self._statuses[status.id] = status

    def configure(self, settings: AgentSettings, now: datetime) -> Outcome:
        """Replace the agent settings; a looser skill-match rule may let waiting work through at once."""
        now = utc(now)
        out = OutcomeBuilder()
        self.settings = settings
        for queue_id in sorted(self._queues):
            self._dispatch_queue(queue_id, now, out)
        return out.build()

    def restore(self, agents: Iterable[AgentState], interactions: Iterable[InteractionState]) -> None:
        """Load persisted state (after configuration) and rebuild every derived index.

        Only the primary fields need to be persisted: slot counts, offer and conversation sets,
        pending wake-ups, staffing counters and both indexes are recomputed from the interactions.
        """
        for restored in agents:
            previous = self._agents.get(restored.id)
            if previous is not None:
                if previous.status.logged_in:
                    self._staff(previous, -1)
                for queue_id in previous.config.queues:
                    self._members.get(queue_id, set()).discard(previous.id)
                if previous.ready_key is not None:
                    for entry in previous.ready_entries:
                        self._ready[entry].discard(previous.ready_key)
            restored.used = {}
            restored.held = set()
            restored.conversations = set()
            restored.offers = set()
            restored.pending_wakes = []
            restored.ready_key = None
            restored.ready_entries = []
            self._agents[restored.id] = restored
            for queue_id in restored.config.queues:
                self._members.setdefault(queue_id, set()).add(restored.id)
            if restored.status.logged_in:
                self._staff(restored, +1)
        wakes: list[InteractionState] = []
        for it in interactions:
            it.wait_key = None
            self._interactions[it.id] = it
            self._seq = max(self._seq, it.seq + 1)
            if it.slot_holder is not None:
                holder = self._agents[it.slot_holder]
                holder.used[it.channel] = holder.used.get(it.channel, 0) + 1
                holder.held.add(it.id)
            if it.status is InteractionStatus.OFFERED and it.offer is not None:
                self._agents[it.offer.agent_id].offers.add(it.id)
            if it.status in (InteractionStatus.ASSIGNED, InteractionStatus.SNOOZED) and it.agent_id:
                self._agents[it.agent_id].conversations.add(it.id)
            if it.status is InteractionStatus.SNOOZED and it.wake_pending:
                wakes.append(it)
            if it.status is InteractionStatus.QUEUED:
                self._add_waiting(it)
        for it in sorted(wakes, key=lambda w: (w.snooze_until or EPOCH, w.seq)):
            if it.agent_id is not None:
                self._agents[it.agent_id].pending_wakes.append(it.id)
        for a in self._agents.values():
            self._reindex(a)

    def forget(self, interaction_id: str) -> bool:
        """Drop a finished interaction (ended, holding no slot) from memory; its persisted record stays.

        Nothing routes or counts it any more, so this only bounds memory in a long-running process.
        Returns whether it was dropped.
        """
        it = self._interactions.get(interaction_id)
        if it is None or it.status is not InteractionStatus.ENDED or it.slot_holder is not None:
            return False
        del self._interactions[interaction_id]
        return True

    # ----------------------------------------------------------------- agent status

    def login(self, agent_id: str, now: datetime) -> Outcome:
        """Offline → Login Prep (timer) → Away with the "Mark as Available / Keep Away" prompt.

        Logging in again while logged in (a second tab, a reconnect) only restores presence.
        """
        now = utc(now)
        a = self.agent(agent_id)
        if a.status.logged_in:
            return self.presence_restored(agent_id, now)
        out = OutcomeBuilder()
        a.connected = True
        self._staff(a, +1)
        out.emit(EventType.AGENT_LOGGED_IN, a.id, now, agent_id=a.id)
        if self.settings.login_prep > timedelta(0):
            self._change_status(a, AgentStatus(StatusKind.LOGIN_PREP), now, out, reason="login")
            out.schedule(TimerKind.LOGIN_PREP, a.id, now + self.settings.login_prep)
        else:
            self._end_login_prep(a, now, out)
        return out.build()

    def login_prep_elapsed(self, agent_id: str, now: datetime) -> Outcome:
        now = utc(now)
        a = self.agent(agent_id)
        out = OutcomeBuilder()
        started = a.status_since
        if (
            a.status.kind is StatusKind.LOGIN_PREP
            and started is not None
            and now >= started + self.settings.login_prep
        ):
            self._end_login_prep(a, now, out)
        return out.build()

    def _answer_prompt(self, agent_id: str) -> AgentState:
        """The agent answering the login-prep prompt (Mark as Available / Keep Away), which closes it."""
        a = self.agent(agent_id)
        if not a.prompt_pending:
            raise errors.PromptNotPending("no login-prep prompt is waiting", agent_id=agent_id)
        a.prompt_pending = False
        return a

    def mark_available(self, agent_id: str, now: datetime) -> Outcome:
        now = utc(now)
        a = self._answer_prompt(agent_id)
        out = OutcomeBuilder()
        self._change_status(a, AgentStatus(StatusKind.AVAILABLE), now, out, reason="mark_available")
        return out.build()

    def keep_away(self, agent_id: str, now: datetime) -> Outcome:
        now = utc(now)
        a = self._answer_prompt(agent_id)
        out = OutcomeBuilder()
        out.agents.add(a.id)
        out.emit(
            EventType.AGENT_STATUS_CHANGED, a.id, now,
            agent_id=a.id, previous=a.status.id, status=a.status.id, reason="keep_away", prompt=False,
        )  # fmt: skip
        return out.build()

    def set_status(self, agent_id: str, status_id: str, now: datetime) -> Outcome:
        """Agent-chosen status. Away (Idle), Offline and Login Prep are the system's to set.

        Going Away with open conversations is allowed; the outcome carries a warning listing them.
        """
        now = utc(now)
        a = self.agent(agent_id)
        if status_id in NOT_SELECTABLE:
            raise errors.StatusNotSelectable(f"{status_id!r} cannot be chosen by an agent", status=status_id)
        if not a.status.logged_in:
            raise errors.AgentOffline("log in before changing status", agent_id=agent_id)
        status = self._resolve_status(status_id)
        out = OutcomeBuilder()
        if status.away and a.conversations:
            out.warnings.append(
                ActiveInteractionsWarning("away-with-active-interactions", tuple(sorted(a.conversations)))
            )
        if a.status.kind is StatusKind.LOGIN_PREP:
            out.cancel(TimerKind.LOGIN_PREP, a.id)
        a.prompt_pending = False
        self._change_status(a, status, now, out, reason="agent")
        return out.build()

    def logout(self, agent_id: str, now: datetime) -> Outcome:
        """Refused while any conversation is live or snoozed (``logout-blocked`` lists them)."""
        now = utc(now)
        a = self.agent(agent_id)
        out = OutcomeBuilder()
        if not a.status.logged_in:
            return out.build()
        if a.conversations:
            ids = sorted(a.conversations)
            raise errors.LogoutBlocked(
                f"cannot log out: {len(ids)} active conversation(s)", agent_id=agent_id, interaction_ids=ids
            )
        if a.status.kind is StatusKind.LOGIN_PREP:
            out.cancel(TimerKind.LOGIN_PREP, a.id)
        if not a.connected:
            out.cancel(TimerKind.INACTIVITY, a.id)
        self._go_offline(a, now, out, reason="logout")
        return out.build()

    def presence_lost(self, agent_id: str, now: datetime) -> Outcome:
        """The console's socket vanished. Pending offers go back at once; conversations wait for the
        inactivity threshold, so a quick reconnect loses nothing."""
        now = utc(now)
        a = self.agent(agent_id)
        out = OutcomeBuilder()
        if not a.status.logged_in or not a.connected:
            return out.build()
        a.connected = False
        out.agents.add(a.id)
        self._reindex(a)
        self._withdraw_all_offers(a, now, out, reason="presence_lost")
        out.schedule(TimerKind.INACTIVITY, a.id, now + self.settings.inactivity_threshold)
        out.emit(EventType.AGENT_PRESENCE_LOST, a.id, now, agent_id=a.id)
        return out.build()

    def presence_restored(self, agent_id: str, now: datetime) -> Outcome:
        now = utc(now)
        a = self.agent(agent_id)
        out = OutcomeBuilder()
        if not a.status.logged_in or a.connected:
            return out.build()
        a.connected = True
        out.agents.add(a.id)
        out.cancel(TimerKind.INACTIVITY, a.id)
        out.emit(EventType.AGENT_PRESENCE_RESTORED, a.id, now, agent_id=a.id)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def inactivity_elapsed(self, agent_id: str, now: datetime) -> Outcome:
        """Threshold passed without the console coming back: the agent goes Offline and every
        conversation returns to the front of its queue with its history."""
        now = utc(now)
        a = self.agent(agent_id)
        out = OutcomeBuilder()
        if not a.status.logged_in or a.connected:
            return out.build()
        conversations = sorted(
            (self._interactions[i] for i in a.conversations), key=lambda it: (it.assigned_at or EPOCH, it.seq)
        )
        # Offline first, so none of these conversations is routed straight back to this agent.
        self._go_offline(a, now, out, reason="inactivity")
        for it in conversations:
            self._detach(it, now, out)
            out.emit(
                EventType.INTERACTION_REQUEUED, it.id, now,
                interaction_id=it.id, queue_id=it.queue_id, from_agent=a.id, reason="agent_inactive",
                front=True,
            )  # fmt: skip
            self._enter_queue(it, now, out, front=True, new_deadline=True)
        return out.build()

    # ----------------------------------------------------------------- queueing and offers

    def enqueue(
        self,
        interaction_id: str,
        queue_id: str,
        channel: Channel,
        customer_id: str,
        now: datetime,
        *,
        intent: str | None = None,
        required_skills: Mapping[str, int] | Iterable[str] = (),
        priority: int | None = None,
        bot_context: Mapping[str, Any] | None = None,
        summary: str = "",
    ) -> Outcome:
        """Put a new interaction in a queue. Repeating the same id changes nothing.

        A queue outside its hours of operation does not refuse the hand-over (it arrives as an
        event, and refusing would only dead-letter it): the interaction ends at once with
        ``no_agents_available`` / reason ``queue_offline``, so the bot or IVR plays its
        out-of-hours path. Agent transfers to an offline queue are refused instead.
        """
        now = utc(now)
        if interaction_id in self._interactions:
            return Outcome()
        if not interaction_id or len(interaction_id) > 200:
            raise errors.InvalidConfig("interaction_id", "must be 1-200 characters")
        queue = self.queue(queue_id)
        channel = Channel(channel)
        if channel not in queue.channels:
            raise errors.ChannelNotSupported(
                f"queue {queue_id!r} does not take {channel.value}", queue_id=queue_id, channel=channel.value
            )
        skills = dict(freeze_skills("required_skills", required_skills))
        if priority is not None and (
            isinstance(priority, bool) or not MIN_PRIORITY <= priority <= MAX_PRIORITY
        ):
            raise errors.InvalidConfig("priority", f"must be {MIN_PRIORITY}-{MAX_PRIORITY}")
        out = OutcomeBuilder()
        it = InteractionState(
            id=interaction_id,
            channel=channel,
            queue_id=queue_id,
            customer_id=customer_id,
            intent=intent,
            bot_context=dict(bot_context or {}),
            required_skills=skills,
            priority=priority if priority is not None else 0,
            created_at=now,
            seq=self._next_seq(),
            waiting_since=now,
            hops=[Hop(queue_id, None, summary, now)],
        )
        self._interactions[it.id] = it
        out.interactions.add(it.id)
        if not queue.is_open(now):
            out.emit(
                EventType.INTERACTION_NO_AGENTS_AVAILABLE, it.id, now,
                interaction_id=it.id, queue_id=queue_id, reason="queue_offline",
            )  # fmt: skip
            self._end(it, now, out, EndReason.QUEUE_OFFLINE)
            return out.build()
        out.emit(
            EventType.INTERACTION_QUEUED, it.id, now,
            interaction_id=it.id, queue_id=queue_id, channel=channel.value, customer_id=customer_id,
            intent=intent, priority=self._priority(it),
        )  # fmt: skip
        self._enter_queue(it, now, out, front=False, new_deadline=True)
        return out.build()

    def accept(self, interaction_id: str, agent_id: str, now: datetime) -> Outcome:
        now = utc(now)
        it = self._pending_offer(interaction_id, agent_id)
        assert it.offer is not None
        if now >= it.offer.expires_at:
            raise errors.OfferNotPending(
                "the offer has expired", interaction_id=interaction_id, agent_id=agent_id, reason="expired"
            )
        out = OutcomeBuilder()
        a = self._agents[agent_id]
        out.cancel(TimerKind.OFFER_TIMEOUT, it.id)
        self._assign(it, a, now, out, auto=False)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def reject(self, interaction_id: str, agent_id: str, now: datetime) -> Outcome:
        """The interaction goes to the next agent and is never offered to this one again this round."""
        now = utc(now)
        it = self._pending_offer(interaction_id, agent_id)
        out = OutcomeBuilder()
        a = self._agents[agent_id]
        self._withdraw_offer(it, now, out, reason="rejected")
        it.excluded.add(agent_id)
        self._enter_queue(it, now, out, front=True, new_deadline=False)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def offer_timeout(self, interaction_id: str, now: datetime) -> Outcome:
        """Unanswered offer: the agent becomes Away (Idle) and the interaction moves on."""
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        offer = it.offer
        if it.status is not InteractionStatus.OFFERED or offer is None or now < offer.expires_at:
            return out.build()
        a = self._agents[offer.agent_id]
        self._withdraw_offer(it, now, out, reason="timeout")
        it.excluded.add(a.id)
        self._change_status(a, AgentStatus(StatusKind.AWAY_IDLE), now, out, reason="offer_timeout")
        self._enter_queue(it, now, out, front=True, new_deadline=False)
        return out.build()

    def max_wait_elapsed(self, interaction_id: str, now: datetime) -> Outcome:
        """Still waiting at the queue's max wait: ``no_agents_available`` and the interaction ends.

        An interaction that is being offered at that moment gets its chance; if the offer fails,
        re-queueing notices the passed deadline.
        """
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        deadline = it.wait_deadline
        if it.status is InteractionStatus.QUEUED and deadline is not None and now >= deadline:
            self._no_agents(it, now, out)
        return out.build()

    # ----------------------------------------------------------------- messages and sentiment

    def agent_message(self, interaction_id: str, agent_id: str, now: datetime) -> Outcome:
        """The agent sent a message: first reply recorded (Transfer/End unlocked), reply no longer due;
        writing into a snoozed conversation wakes it."""
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        if it.agent_id != agent_id or it.status not in (
            InteractionStatus.ASSIGNED,
            InteractionStatus.SNOOZED,
        ):
            return out.build()
        if it.status is InteractionStatus.SNOOZED:
            self._wake(it, now, out, reason="agent_message")
        out.interactions.add(it.id)
        it.reply_due_since = None
        if not it.first_reply_sent:
            it.first_reply_sent = True
            out.cancel(TimerKind.FIRST_REPLY, it.id)
            out.emit(EventType.INTERACTION_FIRST_REPLY, it.id, now, interaction_id=it.id, agent_id=agent_id)
        return out.build()

    def customer_message(self, interaction_id: str, now: datetime) -> Outcome:
        """The customer wrote: a reply is now due from the agent, and a snoozed conversation wakes."""
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        if it.status not in (InteractionStatus.ASSIGNED, InteractionStatus.SNOOZED):
            return out.build()
        out.interactions.add(it.id)
        if it.status is InteractionStatus.SNOOZED:
            self._wake(it, now, out, reason="customer_message")
        if it.reply_due_since is None and it.channel in REPLY_CHANNELS:
            it.reply_due_since = now
        return out.build()

    def record_sentiment(self, interaction_id: str, score: float, now: datetime) -> Outcome:
        """Sentiment of one customer message, -1 (negative) … 1 (positive); the arrival summary averages them."""
        now = utc(now)
        if not math.isfinite(score) or not -1.0 <= score <= 1.0:
            raise errors.InvalidSentiment("sentiment must be between -1 and 1", score=score)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        if it.status is not InteractionStatus.ENDED:
            it.sentiment_sum += score
            it.sentiment_count += 1
            out.interactions.add(it.id)
        return out.build()

    def first_reply_timeout(self, interaction_id: str, now: datetime) -> Outcome:
        """No first reply in time: the agent becomes Away (Idle) and the conversation goes to the next
        agent (front of the queue, this agent excluded for the round)."""
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        timeout = self.settings.reply_timeout
        if (
            it.status is not InteractionStatus.ASSIGNED
            or it.first_reply_sent
            or timeout is None
            or it.assigned_at is None
            or now < it.assigned_at + timeout
            or it.agent_id is None
        ):
            return out.build()
        a = self._agents[it.agent_id]
        self._detach(it, now, out)
        it.excluded.add(a.id)
        self._change_status(a, AgentStatus(StatusKind.AWAY_IDLE), now, out, reason="reply_timeout")
        out.emit(
            EventType.INTERACTION_REQUEUED, it.id, now,
            interaction_id=it.id, queue_id=it.queue_id, from_agent=a.id, reason="reply_timeout", front=True,
        )  # fmt: skip
        self._enter_queue(it, now, out, front=True, new_deadline=True)
        self._pull(a, now, out)
        return out.build()

    # ----------------------------------------------------------------- skills and transfers

    def modify_skills(
        self,
        interaction_id: str,
        agent_id: str,
        now: datetime,
        *,
        add: Mapping[str, int] | Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Outcome:
        """Change the interaction's own skills during the conversation (skill modification = live)."""
        now = utc(now)
        if self.settings.skill_modification is not SkillModification.LIVE_INTERACTION:
            raise errors.SkillModificationNotAllowed(
                "skills can only be changed on a live interaction when the setting allows it",
                setting=self.settings.skill_modification.value,
            )
        it = self._live(interaction_id, agent_id)
        added = freeze_skills("add", add)
        out = OutcomeBuilder()
        self._apply_skills(it, added, remove)
        out.interactions.add(it.id)
        out.emit(
            EventType.INTERACTION_SKILLS_CHANGED, it.id, now,
            interaction_id=it.id, skills=dict(it.required_skills), by_agent=agent_id,
        )  # fmt: skip
        return out.build()

    def transfer_to_queue(
        self,
        interaction_id: str,
        agent_id: str,
        queue_id: str,
        now: datetime,
        *,
        summary: str = "",
        add_skills: Mapping[str, int] | Iterable[str] = (),
        remove_skills: Iterable[str] = (),
    ) -> Outcome:
        """Hand the conversation to an open queue. The agent's slot is freed now; the transfer
        completes when an agent there accepts. With skill match enforced and nobody skilled, it waits
        the target's max wait and then ends with ``no_agents_available``."""
        now = utc(now)
        it = self._live(interaction_id, agent_id)
        self._check_transferable(it)
        if not self.settings.allows_queue_transfer:
            raise errors.TransferNotAllowed("transfers to queues are disabled", destination="queue")
        target = self.queue(queue_id)
        if it.channel not in target.channels:
            raise errors.ChannelNotSupported(
                f"queue {queue_id!r} does not take {it.channel.value}",
                queue_id=queue_id,
                channel=it.channel.value,
            )
        if not target.is_open(now):
            raise errors.QueueOffline(
                f"queue {target.name!r} is outside its hours of operation", queue_id=queue_id
            )
        remove_list = list(remove_skills)
        added = freeze_skills("add_skills", add_skills)
        if (added or remove_list) and self.settings.skill_modification is not SkillModification.TRANSFER:
            raise errors.SkillModificationNotAllowed(
                "skills can only be changed at transfer when the setting allows it",
                setting=self.settings.skill_modification.value,
            )
        out = OutcomeBuilder()
        a = self._agents[agent_id]
        from_queue = it.queue_id
        it.hops.append(Hop(from_queue, agent_id, summary, now))
        self._detach(it, now, out)
        self._apply_skills(it, added, remove_list)
        it.queue_id = target.id
        it.excluded = {agent_id}
        it.transfer_pending = True
        out.emit(
            EventType.INTERACTION_TRANSFER_REQUESTED, it.id, now,
            interaction_id=it.id, destination="queue", from_queue=from_queue, to_queue=target.id,
            from_agent=agent_id, summary=summary, skills=dict(it.required_skills),
        )  # fmt: skip
        self._enter_queue(it, now, out, front=False, new_deadline=True)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def transfer_to_agent(
        self, interaction_id: str, agent_id: str, target_agent_id: str, now: datetime, *, summary: str = ""
    ) -> Outcome:
        """Offer the conversation to one Available agent with a free slot; if they let it lapse or
        reject it, it goes to the front of its queue."""
        now = utc(now)
        it = self._live(interaction_id, agent_id)
        self._check_transferable(it)
        if not self.settings.allows_agent_transfer:
            raise errors.TransferNotAllowed("transfers to agents are disabled", destination="agent")
        target = self.agent(target_agent_id)
        if target.id == agent_id or it.channel not in self._ready_channels(target):
            raise errors.TransferTargetUnavailable(
                "the agent is not available or has no free slot", target_agent_id=target_agent_id
            )
        out = OutcomeBuilder()
        a = self._agents[agent_id]
        it.hops.append(Hop(it.queue_id, agent_id, summary, now))
        self._detach(it, now, out)
        it.excluded = {agent_id}
        it.transfer_pending = True
        out.emit(
            EventType.INTERACTION_TRANSFER_REQUESTED, it.id, now,
            interaction_id=it.id, destination="agent", from_queue=it.queue_id, to_agent=target.id,
            from_agent=agent_id, summary=summary,
        )  # fmt: skip
        target.last_routed_at = now
        self._offer(it, target, now, out, transfer_from=agent_id)
        self._reindex(target)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def transfer_to_external(
        self, interaction_id: str, agent_id: str, contact_id: str, now: datetime
    ) -> Outcome:
        """Blind transfer of a call to an external number: for the agent it ends like any call and
        goes to ACW, so the slot stays held until ``release_slot``."""
        now = utc(now)
        it = self._live(interaction_id, agent_id)
        self._check_transferable(it)
        if it.channel is not Channel.VOICE:
            raise errors.ChannelNotSupported("only calls go to external contacts", channel=it.channel.value)
        if not self.settings.external_transfer:
            raise errors.TransferNotAllowed("external transfers are disabled", destination="external")
        contact = self.settings.external_contact(contact_id)
        if contact is None:
            raise errors.TransferTargetUnavailable("unknown external contact", contact_id=contact_id)
        out = OutcomeBuilder()
        out.emit(
            EventType.INTERACTION_TRANSFER_REQUESTED, it.id, now,
            interaction_id=it.id, destination="external", from_queue=it.queue_id, from_agent=agent_id,
            contact_id=contact.id, contact_name=contact.name, number=contact.number,
        )  # fmt: skip
        self._end(it, now, out, EndReason.EXTERNAL_TRANSFER)
        return out.build()

    # ----------------------------------------------------------------- snooze

    def snooze(self, interaction_id: str, agent_id: str, duration: timedelta, now: datetime) -> Outcome:
        """Pause the conversation: the slot is freed and handle time stops until it wakes."""
        now = utc(now)
        it = self._live(interaction_id, agent_id)
        settings = self.settings
        if duration <= timedelta(0) or duration > settings.snooze_max:
            raise errors.InvalidSnoozeDuration(
                "snooze must be positive and within the maximum",
                seconds=duration.total_seconds(), max_seconds=settings.snooze_max.total_seconds(),
            )  # fmt: skip
        if not settings.custom_snooze and duration not in settings.snooze_presets:
            raise errors.InvalidSnoozeDuration(
                "custom snooze durations are disabled",
                seconds=duration.total_seconds(), presets=[p.total_seconds() for p in settings.snooze_presets],
            )  # fmt: skip
        if self.is_overdue(it, now):
            raise errors.SnoozeNotAllowed(
                "the conversation is overdue", interaction_id=it.id, reason="overdue"
            )
        if it.reply_due_since is not None:
            raise errors.SnoozeNotAllowed(
                "a reply is due from the agent", interaction_id=it.id, reason="reply-due"
            )
        out = OutcomeBuilder()
        a = self._agents[agent_id]
        it.status = InteractionStatus.SNOOZED
        it.snoozed_at = now
        it.snooze_until = now + duration
        self._stop_handling(it, now)
        if it.slot_holder is not None:
            self._free_slot(it)
        out.interactions.add(it.id)
        out.agents.add(a.id)
        out.schedule(TimerKind.SNOOZE_WAKE, it.id, it.snooze_until)
        out.emit(
            EventType.INTERACTION_SNOOZED, it.id, now,
            interaction_id=it.id, agent_id=agent_id, until=it.snooze_until,
        )  # fmt: skip
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    def unsnooze(self, interaction_id: str, agent_id: str, now: datetime) -> Outcome:
        """Wake on demand; needs a free slot now (``capacity-exceeded`` otherwise)."""
        now = utc(now)
        it = self._owned(interaction_id, agent_id)
        if it.status is not InteractionStatus.SNOOZED:
            raise errors.NotSnoozed("the conversation is not snoozed", interaction_id=interaction_id)
        a = self._agents[agent_id]
        if a.free_slots(it.channel) <= 0:
            raise errors.CapacityExceeded(
                f"no free {it.channel.value} slot", agent_id=agent_id, channel=it.channel.value
            )
        out = OutcomeBuilder()
        out.cancel(TimerKind.SNOOZE_WAKE, it.id)
        self._resume(it, a, now, out, reason="agent")
        return out.build()

    def snooze_elapsed(self, interaction_id: str, now: datetime) -> Outcome:
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        until = it.snooze_until
        if (
            it.status is InteractionStatus.SNOOZED
            and not it.wake_pending
            and until is not None
            and now >= until
        ):
            self._wake(it, now, out, reason="timer")
        return out.build()

    def is_overdue(self, it: InteractionState, now: datetime) -> bool:
        """Overdue: a reply has been due from the agent for at least the queue's overdue threshold."""
        queue = self._queues.get(it.queue_id)
        due = it.reply_due_since
        return queue is not None and due is not None and now - due >= queue.overdue_threshold

    # ----------------------------------------------------------------- ending

    def end_interaction(self, interaction_id: str, agent_id: str, now: datetime) -> Outcome:
        """The agent ends the conversation. The slot stays held for ACW until ``release_slot``."""
        now = utc(now)
        it = self._owned(interaction_id, agent_id)
        if it.first_reply_required:
            raise errors.FirstReplyRequired(
                "send a first message before ending an auto-answered conversation", interaction_id=it.id
            )
        out = OutcomeBuilder()
        self._end(it, now, out, EndReason.AGENT)
        if it.slot_holder is None:
            self._pull(self._agents[agent_id], now, out)
        return out.build()

    def customer_ended(
        self, interaction_id: str, now: datetime, *, reason: EndReason = EndReason.CUSTOMER
    ) -> Outcome:
        """The customer left. Waiting or mid-transfer, the interaction goes to no queue or agent (a
        transfer in flight is dropped); with an agent, it ends and the slot waits for ACW.

        ``reason`` records who ended it when another service reports the end as a fact (the agent's
        confirmed End arrives from ACW): a fact is never refused, unlike :meth:`end_interaction`.
        """
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        if it.status is InteractionStatus.ENDED:
            return out.build()
        offered_to = it.offer.agent_id if it.offer is not None else None
        self._end(it, now, out, reason)
        if offered_to is not None:
            self._pull(self._agents[offered_to], now, out)
        elif it.agent_id is not None and it.slot_holder is None:
            self._pull(self._agents[it.agent_id], now, out)
        return out.build()

    def release_slot(self, interaction_id: str, now: datetime) -> Outcome:
        """ACW says the slot is free (immediate release, disposition submitted, timer expired, ACW off)."""
        now = utc(now)
        it = self.interaction(interaction_id)
        out = OutcomeBuilder()
        if it.status is not InteractionStatus.ENDED or it.slot_holder is None:
            return out.build()
        a = self._free_slot(it)
        out.interactions.add(it.id)
        out.agents.add(a.id)
        out.emit(EventType.INTERACTION_SLOT_RELEASED, it.id, now, interaction_id=it.id, agent_id=a.id)
        self._reindex(a)
        self._pull(a, now, out)
        return out.build()

    # ----------------------------------------------------------------- timers

    def fire_timer(self, kind: TimerKind, key: str, now: datetime) -> Outcome:
        """Entry point for the durable-timer poller; stale firings are no-ops."""
        match TimerKind(kind):
            case TimerKind.LOGIN_PREP:
                return self.login_prep_elapsed(key, now)
            case TimerKind.INACTIVITY:
                return self.inactivity_elapsed(key, now)
            case TimerKind.OFFER_TIMEOUT:
                return self.offer_timeout(key, now)
            case TimerKind.FIRST_REPLY:
                return self.first_reply_timeout(key, now)
            case TimerKind.SNOOZE_WAKE:
                return self.snooze_elapsed(key, now)
            case TimerKind.MAX_WAIT:
                return self.max_wait_elapsed(key, now)

    # ================================================================= internals

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _add_agent(self, agent: Agent) -> None:
        self._agents[agent.id] = AgentState(config=agent)
        for queue_id in agent.queues:
            self._members.setdefault(queue_id, set()).add(agent.id)

    def _staff(self, a: AgentState, sign: int) -> None:
        for queue_id in a.config.queues:
            queue = self._queues.get(queue_id)
            if queue is None:
                continue
            for channel in queue.channels:
                slots = 1 if channel is Channel.VOICEMAIL else a.config.slots(channel)
                key = (queue_id, channel)
                self._staffed[key] = self._staffed.get(key, 0) + sign * slots

    def _priority(self, it: InteractionState) -> int:
        """Explicit interaction priority, else the current queue's (so a transfer adopts the target's)."""
        if it.priority:
            return it.priority
        queue = self._queues.get(it.queue_id)
        return queue.priority if queue is not None else MIN_PRIORITY

    def _resolve_status(self, status_id: str) -> AgentStatus:
        if status_id == StatusKind.AVAILABLE.value:
            return AgentStatus(StatusKind.AVAILABLE)
        if status_id == StatusKind.AWAY.value:
            return AgentStatus(StatusKind.AWAY)
        custom = self._statuses.get(status_id)
        if custom is None:
            raise errors.UnknownStatus(f"unknown status {status_id!r}", status=status_id)
        kind = StatusKind.AVAILABLE if custom.tag is StatusTag.AVAILABLE else StatusKind.AWAY
        return AgentStatus(kind, custom.id)

    def _ready_channels(self, a: AgentState) -> set[Channel]:
        if not (a.status.available and a.connected):
            return set()
        channels = {c for c in SLOTTED_CHANNELS if a.free_slots(c) > 0}
        # Voicemail takes no slot, so "one pending voicemail offer at a time" is what stops one agent
        # from collecting every voicemail in the queue.
        if not any(self._interactions[i].channel is Channel.VOICEMAIL for i in a.offers):
            channels.add(Channel.VOICEMAIL)
        return channels

    def _ready_key(self, a: AgentState) -> ReadyKey:
        # Being routed work sends the agent to the back of the line, which spreads work evenly.
        last = a.last_routed_at or EPOCH
        return (max(a.available_since, last), last, a.id)

    def _reindex(self, a: AgentState) -> None:
        if a.ready_key is not None:
            for entry in a.ready_entries:
                self._ready[entry].discard(a.ready_key)
        a.ready_entries = []
        a.ready_key = None
        channels = self._ready_channels(a)
        if not channels:
            return
        key = self._ready_key(a)
        a.ready_key = key
        for queue_id in a.config.queues:
            queue = self._queues.get(queue_id)
            if queue is None:
                continue
            for channel in channels & queue.channels:
                entry = (queue_id, channel)
                self._ready.setdefault(entry, SortedKeys()).add(key)
                a.ready_entries.append(entry)

    def _change_status(
        self, a: AgentState, status: AgentStatus, now: datetime, out: OutcomeBuilder, *, reason: str
    ) -> None:
        previous = a.status
        a.status = status
        a.status_since = now
        if status.available and not previous.available:
            a.available_since = now
        out.agents.add(a.id)
        out.emit(
            EventType.AGENT_STATUS_CHANGED, a.id, now,
            agent_id=a.id, previous=previous.id, status=status.id, reason=reason, prompt=a.prompt_pending,
        )  # fmt: skip
        self._reindex(a)
        if not status.available:
            self._withdraw_all_offers(a, now, out, reason="agent_unavailable")
        else:
            self._pull(a, now, out)

    def _end_login_prep(self, a: AgentState, now: datetime, out: OutcomeBuilder) -> None:
        a.prompt_pending = True
        self._change_status(a, AgentStatus(StatusKind.AWAY), now, out, reason="login_prep_ended")
        out.emit(
            EventType.AGENT_LOGIN_PREP_ENDED, a.id, now,
            agent_id=a.id, choices=["mark_available", "keep_away"],
        )  # fmt: skip

    def _go_offline(self, a: AgentState, now: datetime, out: OutcomeBuilder, *, reason: str) -> None:
        self._staff(a, -1)
        a.prompt_pending = False
        a.connected = False
        self._change_status(a, OFFLINE, now, out, reason=reason)
        # Slots still held for ACW belong to a console that is gone; ACW keeps running on its own.
        for interaction_id in sorted(a.held):
            it = self._interactions[interaction_id]
            if it.status is InteractionStatus.ENDED:
                self._free_slot(it)
                out.interactions.add(it.id)
        self._reindex(a)
        out.emit(EventType.AGENT_LOGGED_OUT, a.id, now, agent_id=a.id, reason=reason)

    def _withdraw_all_offers(self, a: AgentState, now: datetime, out: OutcomeBuilder, *, reason: str) -> None:
        offers = sorted((self._interactions[i] for i in a.offers), key=lambda it: it.seq)
        for it in offers:
            self._withdraw_offer(it, now, out, reason=reason)
        self._reindex(a)
        for it in offers:
            self._enter_queue(it, now, out, front=True, new_deadline=False)

    def _add_waiting(self, it: InteractionState) -> None:
        age = it.created_at if it.front else (it.entered_queue_at or it.created_at)
        key: WaitKey = (0 if it.front else 1, -self._priority(it), age, it.seq, it.id)
        it.wait_key = key
        self._waiting.setdefault((it.queue_id, it.channel), SortedKeys()).add(key)

    def _remove_waiting(self, it: InteractionState) -> None:
        if it.wait_key is not None:
            self._waiting[(it.queue_id, it.channel)].discard(it.wait_key)
            it.wait_key = None

    def _enter_queue(
        self, it: InteractionState, now: datetime, out: OutcomeBuilder, *, front: bool, new_deadline: bool
    ) -> None:
        """Wait in the queue, then route at once if any agent fits.

        Requeued-at-front interactions keep their original arrival time as their age, so several of
        them are served in the order the customers first arrived.
        """
        queue = self._queues[it.queue_id]
        it.status = InteractionStatus.QUEUED
        it.front = front
        it.offer = None
        if new_deadline or it.wait_deadline is None:
            it.entered_queue_at = now
            it.wait_deadline = now + queue.max_wait
            out.schedule(TimerKind.MAX_WAIT, it.id, it.wait_deadline)
        if it.waiting_since is None:
            it.waiting_since = now
        out.interactions.add(it.id)
        self._add_waiting(it)
        agent = self._find_agent(it, queue)
        if agent is not None:
            self._place(it, agent, now, out)
        elif now >= it.wait_deadline:
            self._no_agents(it, now, out)

    def _find_agent(self, it: InteractionState, queue: Queue) -> AgentState | None:
        """Longest-available ready member; with skill match not enforced a skilled agent is still
        preferred, and anyone ready is the fallback."""
        ready = self._ready.get((queue.id, it.channel))
        if not ready:
            return None
        required = self.effective_skills(it)
        enforce = self.enforces_skill_match(queue)
        fallback: AgentState | None = None
        for _, _, agent_id in ready:
            if agent_id in it.excluded:
                continue
            a = self._agents[agent_id]
            if has_skills(a.config.skills, required):
                return a
            if not enforce and fallback is None:
                fallback = a
        return fallback

    def _pull(self, a: AgentState, now: datetime, out: OutcomeBuilder) -> None:
        """Give an agent who may have room the best waiting work: their own woken conversations
        first, then across their queues by (front, priority, age)."""
        for interaction_id in list(a.pending_wakes):
            it = self._interactions[interaction_id]
            if a.free_slots(it.channel) > 0:
                self._resume(it, a, now, out, reason="slot_freed")
        while True:
            channels = self._ready_channels(a)
            if not channels:
                return
            best: WaitKey | None = None
            for queue_id in sorted(a.config.queues):
                queue = self._queues.get(queue_id)
                if queue is None:
                    continue
                enforce = self.enforces_skill_match(queue)
                for channel in channels & queue.channels:
                    for key in self._waiting.get((queue_id, channel), ()):
                        if best is not None and key >= best:
                            break
                        it = self._interactions[key[-1]]
                        if a.id in it.excluded:
                            continue
                        if not enforce or has_skills(a.config.skills, self.effective_skills(it)):
                            best = key
                            break
            if best is None:
                return
            self._place(self._interactions[best[-1]], a, now, out)

    def _dispatch_queue(self, queue_id: str, now: datetime, out: OutcomeBuilder) -> None:
        queue = self._queues.get(queue_id)
        if queue is None:
            return
        for channel in Channel:
            for key in list(self._waiting.get((queue_id, channel), ())):
                it = self._interactions[key[-1]]
                if it.status is not InteractionStatus.QUEUED or it.queue_id != queue_id:
                    continue
                agent = self._find_agent(it, queue)
                if agent is not None:
                    self._place(it, agent, now, out)

    def _place(self, it: InteractionState, a: AgentState, now: datetime, out: OutcomeBuilder) -> None:
        queue = self._queues[it.queue_id]
        self._remove_waiting(it)
        a.last_routed_at = now
        if it.channel is Channel.VOICEMAIL:
            auto = queue.voicemail_mode is VoicemailMode.AUTO
        else:
            auto = queue.auto_answer
        if auto:
            self._assign(it, a, now, out, auto=True)
        else:
            self._offer(it, a, now, out, transfer_from=None)
        self._reindex(a)

    def _take_slot(self, it: InteractionState, a: AgentState) -> None:
        if it.channel is Channel.VOICEMAIL or it.slot_holder is not None:
            return
        a.used[it.channel] = a.used.get(it.channel, 0) + 1
        a.held.add(it.id)
        it.slot_holder = a.id

    def _free_slot(self, it: InteractionState) -> AgentState:
        holder = it.slot_holder
        if holder is None:
            raise AssertionError(f"{it.id} holds no slot")
        a = self._agents[holder]
        a.used[it.channel] -= 1
        a.held.discard(it.id)
        it.slot_holder = None
        return a

    def _offer(
        self,
        it: InteractionState,
        a: AgentState,
        now: datetime,
        out: OutcomeBuilder,
        *,
        transfer_from: str | None,
    ) -> None:
        """Offers reserve the slot, so accepting can never exceed capacity."""
        self._remove_waiting(it)
        it.status = InteractionStatus.OFFERED
        it.offer = Offer(a.id, now, now + self.settings.offer_timeout, transfer_from)
        self._take_slot(it, a)
        a.offers.add(it.id)
        out.interactions.add(it.id)
        out.agents.add(a.id)
        out.schedule(TimerKind.OFFER_TIMEOUT, it.id, it.offer.expires_at)
        out.emit(
            EventType.INTERACTION_OFFERED, it.id, now,
            interaction_id=it.id, agent_id=a.id, queue_id=it.queue_id, channel=it.channel.value,
            expires_at=it.offer.expires_at, transfer_from=transfer_from,
            consumes_slot=it.channel is not Channel.VOICEMAIL,
        )  # fmt: skip

    def _withdraw_offer(
        self, it: InteractionState, now: datetime, out: OutcomeBuilder, *, reason: str
    ) -> None:
        offer = it.offer
        assert offer is not None
        a = self._agents[offer.agent_id]
        a.offers.discard(it.id)
        if it.slot_holder is not None:
            self._free_slot(it)
        it.offer = None
        out.cancel(TimerKind.OFFER_TIMEOUT, it.id)
        out.interactions.add(it.id)
        out.agents.add(a.id)
        # An unanswered offer is its own public fact (the agent goes Away (Idle)); the rest are withdrawals.
        kind = (
            EventType.INTERACTION_OFFER_TIMED_OUT
            if reason == "timeout"
            else EventType.INTERACTION_OFFER_WITHDRAWN
        )
        out.emit(kind, it.id, now, interaction_id=it.id, agent_id=a.id, queue_id=it.queue_id, reason=reason)

    def _assign(
        self, it: InteractionState, a: AgentState, now: datetime, out: OutcomeBuilder, *, auto: bool
    ) -> None:
        self._remove_waiting(it)
        if it.waiting_since is not None:
            it.wait_total += max(now - it.waiting_since, timedelta(0))
            it.waiting_since = None
        self._take_slot(it, a)
        a.offers.discard(it.id)
        a.conversations.add(it.id)
        it.status = InteractionStatus.ASSIGNED
        it.offer = None
        it.agent_id = a.id
        it.assigned_at = now
        it.handling_since = now
        it.auto_answered = auto
        it.first_reply_sent = False
        it.reply_due_since = now if it.channel in REPLY_CHANNELS else None
        it.excluded = set()
        it.front = False
        it.wait_deadline = None
        was_transfer = it.transfer_pending
        it.transfer_pending = False
        out.interactions.add(it.id)
        out.agents.add(a.id)
        out.cancel(TimerKind.MAX_WAIT, it.id)
        timeout = self.settings.reply_timeout
        if timeout is not None and it.channel is Channel.CHAT:
            out.schedule(TimerKind.FIRST_REPLY, it.id, now + timeout)
        out.emit(
            EventType.INTERACTION_ASSIGNED, it.id, now,
            interaction_id=it.id, agent_id=a.id, queue_id=it.queue_id, channel=it.channel.value,
            auto_answered=auto, first_reply_required=it.first_reply_required, after_transfer=was_transfer,
            arrival_summary=self.arrival_summary_data(it),
        )  # fmt: skip

    def arrival_summary_data(self, it: InteractionState) -> dict[str, Any]:
        agent = self._agents.get(it.agent_id) if it.agent_id else None
        queue = self._queues.get(it.queue_id)
        return {
            "agent_name": agent.config.name if agent else None,
            "summaries": [
                {"queue_id": h.queue_id, "agent_id": h.agent_id, "summary": h.summary, "at": h.at}
                for h in it.hops
            ],
            "queue_id": it.queue_id,
            "queue_name": queue.name if queue else None,
            "wait_seconds": it.wait_total.total_seconds(),
            "intent": it.intent,
            "average_sentiment": it.average_sentiment,
        }

    def _stop_handling(self, it: InteractionState, now: datetime) -> None:
        if it.handling_since is not None:
            it.handle_total += max(now - it.handling_since, timedelta(0))
            it.handling_since = None

    def _record_leg(self, it: InteractionState, now: datetime) -> None:
        """Feed the queue's rolling handle time with the time this agent actually worked on it."""
        if it.assigned_at is None:
            return
        self._stop_handling(it, now)
        samples = self._handle_times.setdefault((it.queue_id, it.channel), deque(maxlen=HANDLE_TIME_SAMPLES))
        samples.append(it.handle_total)

    def _detach(self, it: InteractionState, now: datetime, out: OutcomeBuilder) -> None:
        """Take a live or snoozed conversation away from its agent (transfer, timeout, lost agent)."""
        agent_id = it.agent_id
        assert agent_id is not None
        a = self._agents[agent_id]
        if it.slot_holder is not None:
            self._free_slot(it)
        a.conversations.discard(it.id)
        if it.id in a.pending_wakes:
            a.pending_wakes.remove(it.id)
        out.cancel(TimerKind.FIRST_REPLY, it.id)
        if it.status is InteractionStatus.SNOOZED:
            out.cancel(TimerKind.SNOOZE_WAKE, it.id)
        self._record_leg(it, now)
        it.snoozed_at = None
        it.snooze_until = None
        it.wake_pending = False
        it.agent_id = None
        it.assigned_at = None
        it.auto_answered = False
        it.first_reply_sent = False
        it.reply_due_since = None
        it.waiting_since = now
        out.interactions.add(it.id)
        out.agents.add(a.id)

    def _wake(self, it: InteractionState, now: datetime, out: OutcomeBuilder, *, reason: str) -> None:
        """Back to the same agent. With no free slot it waits for that agent's next free slot rather
        than exceed capacity or go to someone else."""
        agent_id = it.agent_id
        assert agent_id is not None
        a = self._agents[agent_id]
        out.interactions.add(it.id)
        if reason != "timer":
            out.cancel(TimerKind.SNOOZE_WAKE, it.id)
        if a.free_slots(it.channel) > 0:
            self._resume(it, a, now, out, reason=reason)
        elif not it.wake_pending:
            it.wake_pending = True
            a.pending_wakes.append(it.id)

    def _resume(
        self, it: InteractionState, a: AgentState, now: datetime, out: OutcomeBuilder, *, reason: str
    ) -> None:
        it.status = InteractionStatus.ASSIGNED
        it.snoozed_at = None
        it.snooze_until = None
        it.wake_pending = False
        if it.id in a.pending_wakes:
            a.pending_wakes.remove(it.id)
        self._take_slot(it, a)
        it.handling_since = now
        out.interactions.add(it.id)
        out.agents.add(a.id)
        out.emit(
            EventType.INTERACTION_UNSNOOZED, it.id, now, interaction_id=it.id, agent_id=a.id, reason=reason
        )
        self._reindex(a)

    def _no_agents(self, it: InteractionState, now: datetime, out: OutcomeBuilder) -> None:
        out.emit(
            EventType.INTERACTION_NO_AGENTS_AVAILABLE, it.id, now,
            interaction_id=it.id, queue_id=it.queue_id, reason="max_wait",
        )  # fmt: skip
        self._end(it, now, out, EndReason.NO_AGENTS_AVAILABLE)

    def _end(self, it: InteractionState, now: datetime, out: OutcomeBuilder, reason: EndReason) -> None:
        """Terminal. A slot held by a live conversation stays held for ACW; nothing else holds one."""
        status = it.status
        if status is InteractionStatus.QUEUED:
            self._remove_waiting(it)
        elif status is InteractionStatus.OFFERED and it.offer is not None:
            offered_to = self._agents[it.offer.agent_id]
            self._withdraw_offer(it, now, out, reason="ended")
            self._reindex(offered_to)
        if status in (InteractionStatus.QUEUED, InteractionStatus.OFFERED):
            out.cancel(TimerKind.MAX_WAIT, it.id)
        if status in (InteractionStatus.ASSIGNED, InteractionStatus.SNOOZED) and it.agent_id is not None:
            a = self._agents[it.agent_id]
            a.conversations.discard(it.id)
            if it.id in a.pending_wakes:
                a.pending_wakes.remove(it.id)
            out.cancel(TimerKind.FIRST_REPLY, it.id)
            if status is InteractionStatus.SNOOZED:
                out.cancel(TimerKind.SNOOZE_WAKE, it.id)
            self._record_leg(it, now)
            out.agents.add(a.id)
        if it.waiting_since is not None:
            it.wait_total += max(now - it.waiting_since, timedelta(0))
            it.waiting_since = None
        if it.transfer_pending:
            out.emit(
                EventType.INTERACTION_TRANSFER_DROPPED, it.id, now, interaction_id=it.id, reason=reason.value
            )
        it.transfer_pending = False
        it.status = InteractionStatus.ENDED
        it.end_reason = reason
        it.ended_at = now
        it.wake_pending = False
        it.snooze_until = None
        it.snoozed_at = None
        it.wait_deadline = None
        out.interactions.add(it.id)
        queue = self._queues.get(it.queue_id)
        out.emit(
            EventType.INTERACTION_ENDED, it.id, now,
            interaction_id=it.id, reason=reason.value, agent_id=it.agent_id, queue_id=it.queue_id,
            acw_mode=queue.acw_mode if queue else None, holds_slot=it.slot_holder is not None,
            handle_seconds=it.handle_total.total_seconds(), wait_seconds=it.wait_total.total_seconds(),
        )  # fmt: skip

    def _apply_skills(self, it: InteractionState, added: Mapping[str, int], removed: Iterable[str]) -> None:
        for name in removed:
            it.required_skills.pop(name, None)
        it.required_skills.update(added)

    def _pending_offer(self, interaction_id: str, agent_id: str) -> InteractionState:
        it = self.interaction(interaction_id)
        self.agent(agent_id)
        if it.status is InteractionStatus.ENDED:
            raise errors.InteractionEnded("the interaction has ended", interaction_id=interaction_id)
        if it.status is not InteractionStatus.OFFERED or it.offer is None or it.offer.agent_id != agent_id:
            raise errors.OfferNotPending(
                "no offer of this interaction is pending for the agent",
                interaction_id=interaction_id, agent_id=agent_id,
            )  # fmt: skip
        return it

    def _owned(self, interaction_id: str, agent_id: str) -> InteractionState:
        it = self.interaction(interaction_id)
        self.agent(agent_id)
        if it.status is InteractionStatus.ENDED:
            raise errors.InteractionEnded("the interaction has ended", interaction_id=interaction_id)
        if it.agent_id != agent_id or it.status not in (
            InteractionStatus.ASSIGNED,
            InteractionStatus.SNOOZED,
        ):
            raise errors.NotAssignedAgent(
                "the interaction is not assigned to this agent",
                interaction_id=interaction_id,
                agent_id=agent_id,
            )
        return it

    def _live(self, interaction_id: str, agent_id: str) -> InteractionState:
        it = self._owned(interaction_id, agent_id)
        if it.status is not InteractionStatus.ASSIGNED:
            raise errors.InteractionNotActive(
                "the conversation is snoozed", interaction_id=interaction_id, status=it.status.value
            )
        return it

    def _check_transferable(self, it: InteractionState) -> None:
        if it.first_reply_required:
            raise errors.FirstReplyRequired(
                "send a first message before transferring an auto-answered conversation", interaction_id=it.id
            )
