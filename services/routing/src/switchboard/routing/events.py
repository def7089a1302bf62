"""From the domain's decisions to the public contract events (``switchboard.contracts.routing``).

The domain speaks in plain ids and internal reasons; the topics carry UUIDs, closed enums and the
fields other services and external subscribers rely on. Translation runs after the command, so the
router's state is the state the events describe; the few facts only the service holds (console
session ids, transfer ids, which slot an interaction held before the command) come from
:class:`Ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from switchboard.contracts import routing as c
from switchboard.contracts.common import Channel as ContractChannel
from switchboard.routing.domain import (
    Channel,
    Emit,
    EventType,
    InteractionState,
    InteractionStatus,
    Outcome,
    Router,
    ScheduleTimer,
    TimerKind,
)
from switchboard.routing.domain.state import StatusKind

MAX_SUMMARY = 4000
MAX_SKILLS = 50


@dataclass
class InteractionMeta:
    """What the service keeps about an interaction beside the domain state."""

    customer_name: str | None = None
    transfer_id: str | None = None
    transfer_target: str | None = None  # "queue" | "agent"
    transfer_target_id: str | None = None
    # As last written to the database: a slot held then and not now was released by this command.
    persisted_slot_holder: str | None = None
    persisted_status: str | None = None


@dataclass
class Ledger:
    sessions: dict[str, str] = field(default_factory=dict)
    interactions: dict[str, InteractionMeta] = field(default_factory=dict)

    def meta(self, interaction_id: str) -> InteractionMeta:
        found = self.interactions.get(interaction_id)
        if found is None:
            found = self.interactions[interaction_id] = InteractionMeta()
        return found


_STATUS = {
    StatusKind.AVAILABLE.value: c.AgentStatus.AVAILABLE,
    StatusKind.AWAY.value: c.AgentStatus.AWAY,
    StatusKind.AWAY_IDLE.value: c.AgentStatus.AWAY_IDLE,
    StatusKind.OFFLINE.value: c.AgentStatus.OFFLINE,
    StatusKind.LOGIN_PREP.value: c.AgentStatus.LOGIN_PREP,
}
_STATUS_REASON = {
    "login": c.StatusChangeReason.LOGIN,
    "login_prep_ended": c.StatusChangeReason.LOGIN_PREP_ENDED,
    "mark_available": c.StatusChangeReason.MARK_AVAILABLE,
    "keep_away": c.StatusChangeReason.KEEP_AWAY,
    "agent": c.StatusChangeReason.AGENT_CHOICE,
    "offer_timeout": c.StatusChangeReason.UNANSWERED_OFFER,
    "reply_timeout": c.StatusChangeReason.UNANSWERED_REPLY,
    "logout": c.StatusChangeReason.LOGOUT,
    "inactivity": c.StatusChangeReason.INACTIVITY,
}
_WITHDRAW_REASON = {
    "rejected": c.OfferWithdrawReason.REJECTED,
    "agent_unavailable": c.OfferWithdrawReason.AGENT_UNAVAILABLE,
    "presence_lost": c.OfferWithdrawReason.PRESENCE_LOST,
    "ended": c.OfferWithdrawReason.ENDED,
}
_REQUEUE_REASON = {
    "agent_inactive": c.RequeueReason.AGENT_INACTIVE,
    "reply_timeout": c.RequeueReason.REPLY_TIMED_OUT,
}
_UNSNOOZE_REASON = {
    "timer": c.UnsnoozeReason.TIMER_ELAPSED,
    "agent": c.UnsnoozeReason.AGENT,
    "agent_message": c.UnsnoozeReason.AGENT_MESSAGE,
    "customer_message": c.UnsnoozeReason.CUSTOMER_MESSAGE,
    "slot_freed": c.UnsnoozeReason.SLOT_FREED,
}
_DROP_REASON = {
    "customer": c.TransferDropReason.CUSTOMER_ENDED,
    "no_agents_available": c.TransferDropReason.NO_AGENTS_AVAILABLE,
}
_NO_AGENTS_REASON = {"max_wait": c.NoAgentsReason.MAX_WAIT, "queue_offline": c.NoAgentsReason.QUEUE_OFFLINE}
# Domain events that are internal facts, folded into others (the prompt rides on the status change).
_INTERNAL = frozenset(
    {
        EventType.AGENT_LOGIN_PREP_ENDED,
        EventType.AGENT_PRESENCE_LOST,
        EventType.AGENT_PRESENCE_RESTORED,
        EventType.INTERACTION_ENDED,
    }
)


def uuid_or_none(value: Any) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None


def skill_names(skills: dict[str, int]) -> tuple[str, ...]:
    return tuple(sorted(skills))[:MAX_SKILLS]


def arrival(router: Router, it: InteractionState) -> c.ArrivalSummary:
    data = router.arrival_summary_data(it)
    lines = [s["summary"] for s in data["summaries"] if s["summary"]]
    summary = "\n\n".join(lines)
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    sentiment = data["average_sentiment"]
    return c.ArrivalSummary(
        agent_name=data["agent_name"] or "agent",
        summary=summary,
        queue_name=data["queue_name"] or "queue",
        wait_time_seconds=max(int(data["wait_seconds"]), 0),
        intent=data["intent"],
        avg_sentiment=None if sentiment is None else max(-1.0, min(1.0, sentiment)),
    )


@dataclass
class Translation:
    """Payloads in publishing order, each with its partition key."""

    events: list[tuple[BaseModel, str]] = field(default_factory=list)

    def add(self, payload: BaseModel, key: str) -> None:
        self.events.append((payload, key))


def translate(
    outcome: Outcome,
    router: Router,
    ledger: Ledger,
    now: datetime,
    *,
    release_reason: c.SlotReleaseReason | None = None,
) -> Translation:
    out = Translation()
    explained: dict[str, c.SlotReleaseReason] = {}
    logged_out: set[str] = set()
    for decision in outcome.decisions:
        if isinstance(decision, Emit) and decision.type not in _INTERNAL:
            _one(decision, outcome, router, ledger, out, explained, logged_out, release_reason)
    _released_slots(outcome, router, ledger, out, explained, logged_out)
    return out


def _one(
    e: Emit,
    outcome: Outcome,
    router: Router,
    ledger: Ledger,
    out: Translation,
    explained: dict[str, c.SlotReleaseReason],
    logged_out: set[str],
    release_reason: c.SlotReleaseReason | None,
) -> None:
    d = e.data
    match e.type:
        case EventType.AGENT_LOGGED_IN:
            agent = router.agents[d["agent_id"]]
            session_id = ledger.sessions[agent.id] = str(uuid4())
            prep_until = next(
                (
                    t.due_at
                    for t in outcome.decisions
                    if isinstance(t, ScheduleTimer) and t.kind is TimerKind.LOGIN_PREP and t.key == agent.id
                ),
                None,
            )
            out.add(
                c.AgentLoggedIn(
                    agent_id=UUID(agent.id),
                    session_id=UUID(session_id),
                    agent_name=agent.config.name,
                    login_prep_until=prep_until,
                ),
                agent.id,
            )
        case EventType.AGENT_LOGGED_OUT:
            agent_id = d["agent_id"]
            logged_out.add(agent_id)
            requeued = tuple(
                UUID(r.data["interaction_id"])
                for r in outcome.events
                if r.type is EventType.INTERACTION_REQUEUED and r.data.get("from_agent") == agent_id
            )
            session_id = ledger.sessions.get(agent_id) or str(uuid4())
            out.add(
                c.AgentLoggedOut(
                    agent_id=UUID(agent_id),
                    session_id=UUID(session_id),
                    reason=c.LogoutReason.INACTIVITY
                    if d.get("reason") == "inactivity"
                    else c.LogoutReason.AGENT,
                    requeued_interaction_ids=requeued[:1000],
                ),
                agent_id,
            )
        case EventType.AGENT_STATUS_CHANGED:
            agent = router.agents[d["agent_id"]]
            status, label, tag = _status(router, d["status"])
            previous = None if d.get("reason") == "login" else _status(router, d["previous"])[0]
            out.add(
                c.AgentStatusChanged(
                    agent_id=UUID(agent.id),
                    status=status,
                    custom_label=label,
                    custom_tag=tag,
                    previous_status=previous,
                    reason=_STATUS_REASON.get(d.get("reason", ""), c.StatusChangeReason.AGENT_CHOICE),
                    active_interactions=min(len(agent.conversations), 1000),
                    prompt=bool(d.get("prompt")),
                ),
                agent.id,
            )
        case EventType.INTERACTION_QUEUED:
            it = router.interactions[d["interaction_id"]]
            out.add(
                c.InteractionQueued(
                    interaction_id=UUID(it.id),
                    channel=ContractChannel(it.channel.value),
                    queue_id=UUID(d["queue_id"]),
                    customer_id=uuid_or_none(it.customer_id),
                    intent=it.intent,
                    required_skills=skill_names(router.effective_skills(it)),
                    priority=d["priority"],
                ),
                it.id,
            )
        case EventType.INTERACTION_OFFERED:
            out.add(
                c.InteractionOffered(
                    interaction_id=UUID(d["interaction_id"]),
                    agent_id=UUID(d["agent_id"]),
                    channel=ContractChannel(d["channel"]),
                    queue_id=UUID(d["queue_id"]),
                    expires_at=d["expires_at"],
                    consumes_slot=d["consumes_slot"],
                    transfer_from_agent_id=uuid_or_none(d.get("transfer_from")),
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_OFFER_TIMED_OUT:
            key = d["interaction_id"]
            out.add(
                c.InteractionOfferTimedOut(
                    interaction_id=UUID(key), agent_id=UUID(d["agent_id"]), queue_id=UUID(d["queue_id"])
                ),
                key,
            )
            out.add(
                c.InteractionRequeued(
                    interaction_id=UUID(key),
                    queue_id=UUID(d["queue_id"]),
                    previous_agent_id=UUID(d["agent_id"]),
                    reason=c.RequeueReason.OFFER_TIMED_OUT,
                ),
                key,
            )
        case EventType.INTERACTION_OFFER_WITHDRAWN:
            out.add(
                c.InteractionOfferWithdrawn(
                    interaction_id=UUID(d["interaction_id"]),
                    agent_id=UUID(d["agent_id"]),
                    queue_id=UUID(d["queue_id"]),
                    reason=_WITHDRAW_REASON.get(d.get("reason", ""), c.OfferWithdrawReason.AGENT_UNAVAILABLE),
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_ASSIGNED:
            it = router.interactions[d["interaction_id"]]
            if d.get("after_transfer"):
                # The hand-over first, then the new holder: consumers (messaging, acw, the gateway) read
                # "transferred to a queue" as "nobody holds it now", so after the assignment it would
                # take the conversation away from the agent who just accepted it.
                _transfer_completed(it, d["agent_id"], ledger, out)
            out.add(
                c.InteractionAssigned(
                    interaction_id=UUID(it.id),
                    agent_id=UUID(d["agent_id"]),
                    channel=ContractChannel(d["channel"]),
                    queue_id=UUID(d["queue_id"]),
                    auto_answer=d["auto_answered"],
                    arrival=arrival(router, it),
                    first_reply_required=d["first_reply_required"],
                ),
                it.id,
            )
        case EventType.INTERACTION_REQUEUED:
            key = d["interaction_id"]
            explained.setdefault(key, c.SlotReleaseReason.REQUEUED)
            out.add(
                c.InteractionRequeued(
                    interaction_id=UUID(key),
                    queue_id=UUID(d["queue_id"]),
                    previous_agent_id=uuid_or_none(d.get("from_agent")),
                    reason=_REQUEUE_REASON.get(d.get("reason", ""), c.RequeueReason.AGENT_INACTIVE),
                ),
                key,
            )
        case EventType.INTERACTION_TRANSFER_REQUESTED:
            _transfer_requested(d, router, ledger, out, explained)
        case EventType.INTERACTION_TRANSFER_DROPPED:
            key = d["interaction_id"]
            meta = ledger.meta(key)
            out.add(
                c.InteractionTransferDropped(
                    interaction_id=UUID(key),
                    transfer_id=UUID(meta.transfer_id) if meta.transfer_id else uuid4(),
                    reason=_DROP_REASON.get(d.get("reason", ""), c.TransferDropReason.INTERACTION_ENDED),
                ),
                key,
            )
            meta.transfer_id = meta.transfer_target = meta.transfer_target_id = None
        case EventType.INTERACTION_SKILLS_CHANGED:
            out.add(
                c.InteractionSkillsChanged(
                    interaction_id=UUID(d["interaction_id"]),
                    agent_id=UUID(d["by_agent"]),
                    required_skills=skill_names(d["skills"]),
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_FIRST_REPLY:
            out.add(
                c.InteractionFirstReplySent(
                    interaction_id=UUID(d["interaction_id"]), agent_id=UUID(d["agent_id"])
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_SNOOZED:
            explained.setdefault(d["interaction_id"], c.SlotReleaseReason.SNOOZED)
            out.add(
                c.InteractionSnoozed(
                    interaction_id=UUID(d["interaction_id"]), agent_id=UUID(d["agent_id"]), until=d["until"]
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_UNSNOOZED:
            out.add(
                c.InteractionUnsnoozed(
                    interaction_id=UUID(d["interaction_id"]),
                    agent_id=UUID(d["agent_id"]),
                    reason=_UNSNOOZE_REASON.get(d.get("reason", ""), c.UnsnoozeReason.AGENT),
                ),
                d["interaction_id"],
            )
        case EventType.INTERACTION_SLOT_RELEASED:
            key = d["interaction_id"]
            it = router.interactions[key]
            explained[key] = release_reason or c.SlotReleaseReason.ACW_SUBMITTED
            out.add(
                c.SlotReleased(
                    agent_id=UUID(d["agent_id"]),
                    channel=it.channel.value,  # type: ignore[arg-type]  # voicemail never holds a slot
                    interaction_id=UUID(key),
                    reason=explained[key],
                ),
                key,
            )
            ledger.meta(key).persisted_slot_holder = None
        case EventType.INTERACTION_NO_AGENTS_AVAILABLE:
            it = router.interactions[d["interaction_id"]]
            out.add(
                c.InteractionNoAgentsAvailable(
                    interaction_id=UUID(it.id),
                    queue_id=UUID(d["queue_id"]),
                    waited_seconds=max(int(it.wait_total.total_seconds()), 0),
                    required_skills=skill_names(router.effective_skills(it)),
                    reason=_NO_AGENTS_REASON.get(d.get("reason", "")),
                ),
                it.id,
            )


def _status(router: Router, status_id: str) -> tuple[c.AgentStatus, str | None, c.CustomStatusTag | None]:
    built_in = _STATUS.get(status_id)
    if built_in is not None:
        return built_in, None, None
    custom = router.statuses.get(status_id)
    if custom is None:  # deleted since; only ever a previous status, which needs no label
        return c.AgentStatus.CUSTOM, status_id, c.CustomStatusTag.AWAY
    return c.AgentStatus.CUSTOM, custom.name, c.CustomStatusTag(custom.tag.value)


def _transfer_requested(
    d: Any, router: Router, ledger: Ledger, out: Translation, explained: dict[str, c.SlotReleaseReason]
) -> None:
    key = d["interaction_id"]
    destination = d["destination"]
    if destination == "external":
        out.add(
            c.InteractionExternalTransferRequested(
                interaction_id=UUID(key),
                agent_id=UUID(d["from_agent"]),
                contact_id=d["contact_id"],
                contact_name=d["contact_name"],
                number=d["number"],
            ),
            key,
        )
        return
    explained.setdefault(key, c.SlotReleaseReason.TRANSFERRED)
    meta = ledger.meta(key)
    meta.transfer_id = str(uuid4())
    it = router.interactions[key]
    if destination == "queue":
        meta.transfer_target, meta.transfer_target_id = "queue", d["to_queue"]
        target = c.TransferTarget.QUEUE
    else:
        meta.transfer_target, meta.transfer_target_id = "agent", d["to_agent"]
        target = c.TransferTarget.AGENT
    out.add(
        c.InteractionTransferRequested(
            interaction_id=UUID(key),
            transfer_id=UUID(meta.transfer_id),
            from_agent_id=UUID(d["from_agent"]),
            target=target,
            to_queue_id=UUID(d["to_queue"]) if target is c.TransferTarget.QUEUE else None,
            to_agent_id=UUID(d["to_agent"]) if target is c.TransferTarget.AGENT else None,
            required_skills=skill_names(it.required_skills),
        ),
        key,
    )


def _transfer_completed(it: InteractionState, agent_id: str, ledger: Ledger, out: Translation) -> None:
    """A transfer completes when an agent at the destination holds the conversation; if an agent
    transfer lapsed to the queue, the destination reported is the queue that served it."""
    meta = ledger.meta(it.id)
    from_agent = next((h.agent_id for h in reversed(it.hops) if h.agent_id), None)
    if from_agent is None:
        return
    to_agent = meta.transfer_target == "agent" and meta.transfer_target_id == agent_id
    out.add(
        c.InteractionTransferred(
            interaction_id=UUID(it.id),
            transfer_id=UUID(meta.transfer_id) if meta.transfer_id else uuid4(),
            from_agent_id=UUID(from_agent),
            target=c.TransferTarget.AGENT if to_agent else c.TransferTarget.QUEUE,
            to_agent_id=UUID(agent_id) if to_agent else None,
            to_queue_id=None if to_agent else UUID(it.queue_id),
            required_skills=skill_names(it.required_skills),
        ),
        it.id,
    )
    meta.transfer_id = meta.transfer_target = meta.transfer_target_id = None


def _released_slots(
    outcome: Outcome,
    router: Router,
    ledger: Ledger,
    out: Translation,
    explained: dict[str, c.SlotReleaseReason],
    logged_out: set[str],
) -> None:
    """A conversation's slot freed without an ACW release (snooze, transfer, requeue, logout) is
    published too, so a subscriber counting slots from ``slot.released`` never drifts. Offers
    reserve a slot as well, but their withdrawal is its own event."""
    for interaction_id in sorted(outcome.interactions):
        it = router.interactions.get(interaction_id)
        meta = ledger.interactions.get(interaction_id)
        if it is None or meta is None or meta.persisted_slot_holder is None:
            continue
        if it.slot_holder == meta.persisted_slot_holder or meta.persisted_status not in (
            InteractionStatus.ASSIGNED.value,
            InteractionStatus.SNOOZED.value,
            InteractionStatus.ENDED.value,
        ):
            continue
        if it.channel is Channel.VOICEMAIL:
            continue
        holder = meta.persisted_slot_holder
        reason = explained.get(interaction_id)
        if reason is None:
            reason = c.SlotReleaseReason.LOGGED_OUT if holder in logged_out else c.SlotReleaseReason.REQUEUED
        out.add(
            c.SlotReleased(
                agent_id=UUID(holder),
                channel=it.channel.value,  # type: ignore[arg-type]
                interaction_id=UUID(interaction_id),
                reason=reason,
            ),
            interaction_id,
        )
