"""Read-side answers for the console: tray, arrival summary, queue position and wait estimate,
transfer destinations. Pure functions of the router state and ``now``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.routing.domain.config import Agent, Channel, Queue, freeze_skills, has_skills
from switchboard.routing.domain.router import Router, utc
from switchboard.routing.domain.state import Hop, InteractionStatus


@dataclass(frozen=True)
class TrayItem:
    """One conversation in the agent's tray.

    ``engaged`` (blue dot): live and not overdue. ``overdue`` (red dot): a reply has been due
    for the queue's overdue threshold. ``new_email``: an email the agent has not answered yet.
    ``first_reply_required``: Transfer and End stay hidden (auto-answer, no agent message yet).
    """

    interaction_id: str
    channel: Channel
    queue_id: str
    snoozed: bool
    wake_pending: bool
    snooze_remaining: timedelta | None
    engaged: bool
    overdue: bool
    new_email: bool
    reply_due: bool
    first_reply_required: bool
    handle_time: timedelta
    wait_time: timedelta


@dataclass(frozen=True)
class Tray:
    items: tuple[TrayItem, ...]
    snoozed_count: int


@dataclass(frozen=True)
class ArrivalSummary:
    agent_name: str | None
    hops: tuple[Hop, ...]
    queue_id: str
    queue_name: str | None
    wait_time: timedelta
    intent: str | None
    average_sentiment: float | None


@dataclass(frozen=True)
class QueueEstimate:
    interaction_id: str
    position: int
    estimated_wait: timedelta | None


def tray(router: Router, agent_id: str, now: datetime) -> Tray:
    """The agent's live and snoozed conversations, oldest assignment first."""
    now = utc(now)
    a = router.agent(agent_id)
    items: list[TrayItem] = []
    conversations = sorted((router.interactions[i] for i in a.conversations), key=lambda it: it.seq)
    for it in conversations:
        snoozed = it.status is InteractionStatus.SNOOZED
        overdue = router.is_overdue(it, now)
        remaining = None
        if snoozed and it.snooze_until is not None:
            remaining = max(it.snooze_until - now, timedelta(0))
        items.append(
            TrayItem(
                interaction_id=it.id,
                channel=it.channel,
                queue_id=it.queue_id,
                snoozed=snoozed,
                wake_pending=it.wake_pending,
                snooze_remaining=remaining,
                engaged=not snoozed and not overdue,
                overdue=overdue,
                new_email=it.channel is Channel.EMAIL and not it.first_reply_sent,
                reply_due=it.reply_due_since is not None,
                first_reply_required=it.first_reply_required,
                handle_time=it.handle_time(now),
                wait_time=it.wait_time(now),
            )
        )
    return Tray(tuple(items), sum(1 for item in items if item.snoozed))


def arrival_summary(router: Router, interaction_id: str, now: datetime) -> ArrivalSummary:
    """Shown when an agent accepts: every earlier hop's summary, queue, wait, intent, sentiment."""
    now = utc(now)
    it = router.interaction(interaction_id)
    agent = router.agents.get(it.agent_id) if it.agent_id else None
    queue = router.queues.get(it.queue_id)
    return ArrivalSummary(
        agent_name=agent.config.name if agent else None,
        hops=tuple(it.hops),
        queue_id=it.queue_id,
        queue_name=queue.name if queue else None,
        wait_time=it.wait_time(now),
        intent=it.intent,
        average_sentiment=it.average_sentiment,
    )


def queue_position(router: Router, interaction_id: str) -> int | None:
    """1-based place among interactions of the same channel waiting in the same queue; O(log n)."""
    it = router.interaction(interaction_id)
    if it.status is not InteractionStatus.QUEUED or it.wait_key is None:
        return None
    return router.waiting_keys(it.queue_id, it.channel).index(it.wait_key) + 1


def estimated_wait(router: Router, interaction_id: str, now: datetime) -> timedelta | None:
    """``position * average handle time / staffed slots``.

    Average handle time is the mean of the queue's last 20 agent legs on that channel (the queue's
    ``default_handle_time`` before any); staffed slots is the channel capacity summed over the
    queue's logged-in members (voicemail counts one per agent). ``None`` when nobody is logged in,
    because then no honest estimate exists.
    """
    utc(now)
    position = queue_position(router, interaction_id)
    if position is None:
        return None
    it = router.interaction(interaction_id)
    staffed = router.staffed_slots(it.queue_id, it.channel)
    if staffed <= 0:
        return None
    return router.average_handle_time(it.queue_id, it.channel) * position / staffed


def waiting(router: Router, queue_id: str, channel: Channel, now: datetime) -> list[QueueEstimate]:
    """Every waiting interaction of the queue and channel in service order, with its estimate."""
    utc(now)
    router.queue(queue_id)
    staffed = router.staffed_slots(queue_id, channel)
    aht = router.average_handle_time(queue_id, channel)
    return [
        QueueEstimate(key[-1], position, aht * position / staffed if staffed > 0 else None)
        for position, key in enumerate(router.waiting_keys(queue_id, channel), start=1)
    ]


def transfer_target_queues(router: Router, agent_id: str, interaction_id: str, now: datetime) -> list[Queue]:
    """Queues the agent may transfer this conversation to: open now, taking its channel, not the
    current queue. Scans the tenant's queues (O(queues)); it answers a dialog, not routing."""
    now = utc(now)
    it = router.live_interaction(interaction_id, agent_id)
    if not router.settings.allows_queue_transfer:
        return []
    return sorted(
        (
            q
            for q in router.queues.values()
            if q.id != it.queue_id and it.channel in q.channels and q.is_open(now)
        ),
        key=lambda q: (q.name, q.id),
    )


def transfer_target_agents(router: Router, agent_id: str, interaction_id: str) -> list[Agent]:
    """Available agents with a free slot for the conversation's channel (O(agents), a dialog query)."""
    it = router.live_interaction(interaction_id, agent_id)
    if not router.settings.allows_agent_transfer:
        return []
    return sorted(
        (
            a.config
            for a in router.agents.values()
            if a.id != agent_id and it.channel in router.ready_channels(a.id)
        ),
        key=lambda agent: (agent.name, agent.id),
    )


def skilled_agents(
    router: Router, queue_id: str, skills: Mapping[str, int] | Iterable[str] = ()
) -> list[Agent]:
    """Logged-in members of the queue who have the queue's and the given skills, as the transfer
    dialog lists them."""
    queue = router.queue(queue_id)
    required = dict(queue.required_skills)
    for name, level in freeze_skills("skills", skills).items():
        required[name] = max(level, required.get(name, 0))
    members = (router.agents[agent_id] for agent_id in router.members(queue_id))
    return sorted(
        (a.config for a in members if a.status.logged_in and has_skills(a.config.skills, required)),
        key=lambda agent: (agent.name, agent.id),
    )
