"""Runtime state of agents and interactions, plus the ordered indexes dispatch relies on.

These are mutable records owned by :class:`~switchboard.routing.domain.router.Router`; callers read
them (for persistence and queries) but change them only through router commands.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from switchboard.routing.domain.config import Agent, Channel

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KeyT = TypeVar("KeyT", bound=tuple[Any, ...])


class SortedKeys(Generic[KeyT]):
    """A list kept sorted with bisect; keys end with the entity id, so they are unique.

    Insert and remove are O(log n) to find plus a memmove, which for the few hundred entries a
    queue holds is faster than any tree in pure Python.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[KeyT] = []

    def add(self, key: KeyT) -> None:
        bisect.insort(self._items, key)

    def discard(self, key: KeyT) -> None:
        i = bisect.bisect_left(self._items, key)
        if i < len(self._items) and self._items[i] == key:
            del self._items[i]

    def index(self, key: KeyT) -> int:
        i = bisect.bisect_left(self._items, key)
        if i < len(self._items) and self._items[i] == key:
            return i
        raise KeyError(key)

    def __iter__(self) -> Iterator[KeyT]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


# (ready since, last routed at, agent id): the head is the longest-available agent.
ReadyKey = tuple[datetime, datetime, str]
# (0 = requeued at the front / 1 = normal, -priority, age timestamp, sequence, interaction id)
WaitKey = tuple[int, int, datetime, int, str]


class StatusKind(StrEnum):
    OFFLINE = "offline"
    LOGIN_PREP = "login-prep"
    AVAILABLE = "available"
    AWAY = "away"
    AWAY_IDLE = "away-idle"


@dataclass(frozen=True)
class AgentStatus:
    """Built-in kind plus, for custom statuses, the custom id; custom statuses act as their tag's kind."""

    kind: StatusKind
    custom_id: str | None = None

    @property
    def id(self) -> str:
        return self.custom_id or self.kind.value

    @property
    def logged_in(self) -> bool:
        return self.kind is not StatusKind.OFFLINE

    @property
    def available(self) -> bool:
        return self.kind is StatusKind.AVAILABLE

    @property
    def away(self) -> bool:
        return self.kind in (StatusKind.AWAY, StatusKind.AWAY_IDLE)


OFFLINE = AgentStatus(StatusKind.OFFLINE)


@dataclass(slots=True)
class AgentState:
    config: Agent
    status: AgentStatus = OFFLINE
    status_since: datetime | None = None
    prompt_pending: bool = False
    connected: bool = False
    available_since: datetime = EPOCH
    last_routed_at: datetime | None = None
    used: dict[Channel, int] = field(default_factory=dict)
    # Live or snoozed conversations owned by the agent (what blocks a logout).
    conversations: set[str] = field(default_factory=set)
    # Interactions whose slot the agent holds: offers, live conversations, ended-but-in-ACW.
    held: set[str] = field(default_factory=set)
    offers: set[str] = field(default_factory=set)
    # Snoozed conversations whose wake-up found no free slot, oldest first.
    pending_wakes: list[str] = field(default_factory=list)
    ready_key: ReadyKey | None = None
    ready_entries: list[tuple[str, Channel]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.config.id

    def free_slots(self, channel: Channel) -> int:
        if channel is Channel.VOICEMAIL:
            return 1
        return self.config.slots(channel) - self.used.get(channel, 0)


class InteractionStatus(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    SNOOZED = "snoozed"
    ENDED = "ended"


class EndReason(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    NO_AGENTS_AVAILABLE = "no_agents_available"
    QUEUE_OFFLINE = "queue_offline"
    EXTERNAL_TRANSFER = "external_transfer"


@dataclass(frozen=True)
class Hop:
    """One leg of the interaction's journey; ``summary`` is what the bot or the previous agent wrote."""

    queue_id: str
    agent_id: str | None
    summary: str
    at: datetime


@dataclass(frozen=True)
class Offer:
    agent_id: str
    offered_at: datetime
    expires_at: datetime
    transfer_from: str | None = None


@dataclass(slots=True)
class InteractionState:
    id: str
    channel: Channel
    queue_id: str
    customer_id: str
    intent: str | None
    bot_context: Mapping[str, Any]
    required_skills: dict[str, int]
    priority: int
    created_at: datetime
    seq: int
    status: InteractionStatus = InteractionStatus.QUEUED
    entered_queue_at: datetime | None = None
    front: bool = False
    wait_key: WaitKey | None = None
    wait_deadline: datetime | None = None
    excluded: set[str] = field(default_factory=set)
    offer: Offer | None = None
    agent_id: str | None = None
    slot_holder: str | None = None
    assigned_at: datetime | None = None
    auto_answered: bool = False
    first_reply_sent: bool = False
    reply_due_since: datetime | None = None
    snoozed_at: datetime | None = None
    snooze_until: datetime | None = None
    wake_pending: bool = False
    transfer_pending: bool = False
    hops: list[Hop] = field(default_factory=list)
    wait_total: timedelta = timedelta(0)
    waiting_since: datetime | None = None
    handle_total: timedelta = timedelta(0)
    handling_since: datetime | None = None
    sentiment_sum: float = 0.0
    sentiment_count: int = 0
    end_reason: EndReason | None = None
    ended_at: datetime | None = None

    @property
    def first_reply_required(self) -> bool:
        """Auto-answered conversations hide Transfer/End until the agent's first message."""
        return self.auto_answered and not self.first_reply_sent and self.channel is not Channel.VOICEMAIL

    def wait_time(self, now: datetime) -> timedelta:
        running = now - self.waiting_since if self.waiting_since is not None else timedelta(0)
        return self.wait_total + max(running, timedelta(0))

    def handle_time(self, now: datetime) -> timedelta:
        running = now - self.handling_since if self.handling_since is not None else timedelta(0)
        return self.handle_total + max(running, timedelta(0))

    @property
    def average_sentiment(self) -> float | None:
        return self.sentiment_sum / self.sentiment_count if self.sentiment_count else None
