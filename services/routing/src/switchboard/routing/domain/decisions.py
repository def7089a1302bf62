"""What a command decided, for the I/O layer to carry out in the same transaction as the state change.

The domain never publishes or schedules anything itself: it returns an :class:`Outcome` whose
``decisions`` the handler turns into outbox rows (:class:`Emit`) and durable-timer rows
(:class:`ScheduleTimer` / :class:`CancelTimer`), in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Event types routing emits. Agent events are keyed by agent id, interaction events by interaction id.

    Where a contract event exists (``switchboard.contracts.routing``) the value is its type, so the
    domain and the public topics speak the same names; the rest are internal facts the service folds
    into contract events (login prep ended → a status change with the prompt, presence → nothing).
    """

    AGENT_LOGGED_IN = "agent.logged_in"
    AGENT_LOGGED_OUT = "agent.logged_out"
    AGENT_STATUS_CHANGED = "agent.status.changed"
    AGENT_LOGIN_PREP_ENDED = "agent.login_prep_ended"
    AGENT_PRESENCE_LOST = "agent.presence_lost"
    AGENT_PRESENCE_RESTORED = "agent.presence_restored"
    INTERACTION_QUEUED = "interaction.queued"
    INTERACTION_OFFERED = "interaction.offered"
    INTERACTION_OFFER_WITHDRAWN = "interaction.offer_withdrawn"
    INTERACTION_OFFER_TIMED_OUT = "interaction.offer_timed_out"
    INTERACTION_ASSIGNED = "interaction.assigned"
    INTERACTION_REQUEUED = "interaction.requeued"
    INTERACTION_TRANSFER_REQUESTED = "interaction.transfer_requested"
    INTERACTION_TRANSFER_DROPPED = "interaction.transfer_dropped"
    INTERACTION_SKILLS_CHANGED = "interaction.skills_changed"
    INTERACTION_FIRST_REPLY = "interaction.first_reply_sent"
    INTERACTION_SNOOZED = "interaction.snoozed"
    INTERACTION_UNSNOOZED = "interaction.unsnoozed"
    INTERACTION_ENDED = "interaction.ended"
    INTERACTION_SLOT_RELEASED = "slot.released"
    INTERACTION_NO_AGENTS_AVAILABLE = "interaction.no_agents_available"


class TimerKind(StrEnum):
    """Durable timers. Agent timers are keyed by agent id, interaction timers by interaction id;
    at most one timer of a kind exists per key, so scheduling one replaces any earlier one."""

    LOGIN_PREP = "login_prep"
    INACTIVITY = "inactivity"
    OFFER_TIMEOUT = "offer_timeout"
    FIRST_REPLY = "first_reply"
    SNOOZE_WAKE = "snooze_wake"
    MAX_WAIT = "max_wait"


@dataclass(frozen=True)
class Emit:
    type: EventType
    key: str
    occurred_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ScheduleTimer:
    kind: TimerKind
    key: str
    due_at: datetime


@dataclass(frozen=True)
class CancelTimer:
    kind: TimerKind
    key: str


Decision = Emit | ScheduleTimer | CancelTimer


@dataclass(frozen=True)
class ActiveInteractionsWarning:
    """Going Away while conversations are open is allowed, but the console must say so."""

    code: str
    interaction_ids: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """Result of one command.

    ``agents`` and ``interactions`` name every entity the command changed, so the persistence
    layer writes only those rows (and bumps their optimistic versions).
    """

    decisions: tuple[Decision, ...] = ()
    warnings: tuple[ActiveInteractionsWarning, ...] = ()
    agents: frozenset[str] = frozenset()
    interactions: frozenset[str] = frozenset()

    @property
    def events(self) -> tuple[Emit, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Emit))

    @property
    def timers(self) -> tuple[ScheduleTimer | CancelTimer, ...]:
        return tuple(d for d in self.decisions if not isinstance(d, Emit))


@dataclass
class OutcomeBuilder:
    """Accumulates decisions while a command runs; internal to the domain."""

    decisions: list[Decision] = field(default_factory=list)
    warnings: list[ActiveInteractionsWarning] = field(default_factory=list)
    agents: set[str] = field(default_factory=set)
    interactions: set[str] = field(default_factory=set)

    def emit(self, type: EventType, key: str, occurred_at: datetime, **data: Any) -> None:
        self.decisions.append(Emit(type, key, occurred_at, data))

    def schedule(self, kind: TimerKind, key: str, due_at: datetime) -> None:
        self.decisions.append(ScheduleTimer(kind, key, due_at))

    def cancel(self, kind: TimerKind, key: str) -> None:
        self.decisions.append(CancelTimer(kind, key))

    def build(self) -> Outcome:
        return Outcome(
            tuple(self.decisions), tuple(self.warnings), frozenset(self.agents), frozenset(self.interactions)
        )
