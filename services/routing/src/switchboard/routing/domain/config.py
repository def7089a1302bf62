"""Configuration value objects: queues, agent settings, agents, custom statuses, external contacts.

They are immutable and validate themselves on construction; a broken rule raises
:class:`InvalidConfig` naming the offending field, so an admin API can point at it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.contracts.common import Channel as Channel  # the contracts' vocabulary, re-exported
from switchboard.routing.domain.errors import InvalidConfig

MIN_CAPACITY = 0
MAX_CAPACITY = 25
MIN_PRIORITY = 1
MAX_PRIORITY = 10
MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 10
MAX_ID_LENGTH = 200
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(dict[K, V]):
    """A read-only dict: unlike ``MappingProxyType`` it survives ``copy.deepcopy`` and pickling,
    which persistence and tests rely on."""

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("configuration mappings are read-only")

    __setitem__ = _readonly
    __delitem__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly
    __ior__ = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


# Voicemail is deliberately absent: the seed says accepting one consumes no inbound slot.
SLOTTED_CHANNELS: tuple[Channel, ...] = (Channel.VOICE, Channel.CHAT, Channel.EMAIL)
DEFAULT_CAPACITY: Mapping[Channel, int] = FrozenMap({Channel.VOICE: 1, Channel.CHAT: 4, Channel.EMAIL: 1})


class VoicemailMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class TransferDestinations(StrEnum):
    QUEUE = "queue"
    AGENT = "agent"
    BOTH = "both"


class SkillModification(StrEnum):
    OFF = "off"
    LIVE_INTERACTION = "live-interaction"
    TRANSFER = "transfer"


class StatusTag(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


def _require_id(field_name: str, value: str) -> None:
    if not value or len(value) > MAX_ID_LENGTH or value != value.strip():
        raise InvalidConfig(field_name, f"must be 1-{MAX_ID_LENGTH} characters without surrounding spaces")


def _require_positive(field_name: str, value: timedelta) -> None:
    if value <= timedelta(0):
        raise InvalidConfig(field_name, "must be a positive duration")


def _require_not_negative(field_name: str, value: timedelta) -> None:
    if value < timedelta(0):
        raise InvalidConfig(field_name, "must not be negative")


def freeze_skills(field_name: str, skills: Mapping[str, int] | Iterable[str]) -> Mapping[str, int]:
    """Normalise skills to ``{name: level}``; a bare name means level 1 (the minimum)."""
    pairs = skills.items() if isinstance(skills, Mapping) else ((name, MIN_SKILL_LEVEL) for name in skills)
    frozen: dict[str, int] = {}
    for name, level in pairs:
        _require_id(f"{field_name}[{name!r}]", name)
        if isinstance(level, bool) or not isinstance(level, int):
            raise InvalidConfig(f"{field_name}[{name!r}]", "level must be an integer")
        if not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL:
            raise InvalidConfig(
                f"{field_name}[{name!r}]", f"level must be {MIN_SKILL_LEVEL}-{MAX_SKILL_LEVEL}"
            )
        frozen[name] = level
    return FrozenMap(frozen)


def has_skills(skills: Mapping[str, int], required: Mapping[str, int]) -> bool:
    return all(skills.get(name, 0) >= level for name, level in required.items())


@dataclass(frozen=True)
class WeeklyWindow:
    """One opening window in the queue's local time. ``weekday`` is 0 = Monday … 6 = Sunday.

    ``end`` is exclusive; ``time(0, 0)`` as ``end`` means midnight at the end of the day, so a
    24-hour day is ``WeeklyWindow(d, time(0), time(0))``. Windows never cross midnight: an
    overnight shift is two windows, which keeps ``is_open`` a single lookup per day.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidConfig("weekday", "must be 0 (Monday) to 6 (Sunday)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidConfig("start", "window times are local to the queue's time zone")
        if self.end != time(0) and self.end <= self.start:
            raise InvalidConfig("end", "must be after start (use 00:00 for end of day)")

    def contains(self, local: time) -> bool:
        after_start = local >= self.start
        return after_start and (self.end == time(0) or local < self.end)


@dataclass(frozen=True)
class HoursOfOperation:
    time_zone: str
    windows: tuple[WeeklyWindow, ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidConfig("hours.time_zone", f"unknown IANA time zone {self.time_zone!r}") from exc
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    def is_open(self, now: datetime) -> bool:
        """Holidays are whole local days; the local date decides, so DST shifts are handled by zoneinfo."""
        local = now.astimezone(ZoneInfo(self.time_zone))
        if local.date() in self.holidays:
            return False
        weekday = local.weekday()
        wall = local.time().replace(tzinfo=None)
        return any(w.weekday == weekday and w.contains(wall) for w in self.windows)


@dataclass(frozen=True)
class Queue:
    """A routing queue. ``priority`` 10 is the most urgent, 1 the least.

    ``hours=None`` means always open. ``enforce_skill_match=None`` inherits the agent-settings
    switch. ``default_handle_time`` seeds the wait estimate until real handle times arrive.
    """

    id: str
    name: str
    channels: frozenset[Channel]
    required_skills: Mapping[str, int] = field(default_factory=dict)
    hours: HoursOfOperation | None = None
    max_wait: timedelta = timedelta(minutes=10)
    priority: int = 5
    acw_mode: str | None = None
    overdue_threshold: timedelta = timedelta(minutes=5)
    auto_answer: bool = False
    voicemail_mode: VoicemailMode = VoicemailMode.MANUAL
    enforce_skill_match: bool | None = None
    default_handle_time: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        if not self.name.strip() or len(self.name) > MAX_ID_LENGTH:
            raise InvalidConfig("name", f"must be 1-{MAX_ID_LENGTH} characters")
        channels = frozenset(Channel(c) for c in self.channels)
        if not channels:
            raise InvalidConfig("channels", "a queue serves at least one channel")
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "required_skills", freeze_skills("required_skills", self.required_skills))
        _require_positive("max_wait", self.max_wait)
        if isinstance(self.priority, bool) or not MIN_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise InvalidConfig("priority", f"must be {MIN_PRIORITY}-{MAX_PRIORITY}")
        if self.acw_mode is not None:
            _require_id("acw_mode", self.acw_mode)
        _require_positive("overdue_threshold", self.overdue_threshold)
        _require_positive("default_handle_time", self.default_handle_time)
        object.__setattr__(self, "voicemail_mode", VoicemailMode(self.voicemail_mode))

    def is_open(self, now: datetime) -> bool:
        return self.hours is None or self.hours.is_open(now)


def is_open(queue: Queue, now: datetime) -> bool:
    return queue.is_open(now)


@dataclass(frozen=True)
class ExternalContact:
    """A voice blind-transfer destination. The service layer may re-check numbers with phonenumbers."""

    id: str
    name: str
    number: str

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        if not self.name.strip():
            raise InvalidConfig("name", "must not be empty")
        if not E164.match(self.number):
            raise InvalidConfig("number", "must be an E.164 number such as +14155550100")


@dataclass(frozen=True)
class AgentSettings:
    """Tenant-wide agent settings.

    ``login_prep=0`` disables login preparation: login goes straight to the Away prompt.
    ``reply_timeout=None`` disables the first-reply clock (it only ever runs for chat, where a
    customer is typing live; email and voicemail are asynchronous, voice is answered by the call).
    """

    login_prep: timedelta = timedelta(seconds=30)
    offer_timeout: timedelta = timedelta(seconds=30)
    reply_timeout: timedelta | None = timedelta(seconds=120)
    inactivity_threshold: timedelta = timedelta(seconds=120)
    snooze_presets: tuple[timedelta, ...] = (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
    )
    custom_snooze: bool = True
    snooze_max: timedelta = timedelta(hours=24)
    transfer_destinations: TransferDestinations = TransferDestinations.BOTH
    enforce_skill_match: bool = False
    skill_modification: SkillModification = SkillModification.OFF
    external_transfer: bool = False
    external_contacts: tuple[ExternalContact, ...] = ()

    def __post_init__(self) -> None:
        _require_not_negative("login_prep", self.login_prep)
        _require_positive("offer_timeout", self.offer_timeout)
        if self.reply_timeout is not None:
            _require_positive("reply_timeout", self.reply_timeout)
        _require_positive("inactivity_threshold", self.inactivity_threshold)
        _require_positive("snooze_max", self.snooze_max)
        presets = tuple(self.snooze_presets)
        for i, preset in enumerate(presets):
            _require_positive(f"snooze_presets[{i}]", preset)
            if preset > self.snooze_max:
                raise InvalidConfig(f"snooze_presets[{i}]", "must not exceed snooze_max")
        object.__setattr__(self, "snooze_presets", presets)
        object.__setattr__(self, "transfer_destinations", TransferDestinations(self.transfer_destinations))
        object.__setattr__(self, "skill_modification", SkillModification(self.skill_modification))
        contacts = tuple(self.external_contacts)
        ids = [c.id for c in contacts]
        if len(set(ids)) != len(ids):
            raise InvalidConfig("external_contacts", "contact ids must be unique")
        object.__setattr__(self, "external_contacts", contacts)

    @property
    def allows_queue_transfer(self) -> bool:
        return self.transfer_destinations in (TransferDestinations.QUEUE, TransferDestinations.BOTH)

    @property
    def allows_agent_transfer(self) -> bool:
        return self.transfer_destinations in (TransferDestinations.AGENT, TransferDestinations.BOTH)

    def external_contact(self, contact_id: str) -> ExternalContact | None:
        return next((c for c in self.external_contacts if c.id == contact_id), None)


@dataclass(frozen=True)
class Agent:
    """An agent's configuration. ``capacity`` lists slots per channel; missing channels take the default."""

    id: str
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[Channel, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        if not self.name.strip() or len(self.name) > MAX_ID_LENGTH:
            raise InvalidConfig("name", f"must be 1-{MAX_ID_LENGTH} characters")
        object.__setattr__(self, "skills", freeze_skills("skills", self.skills))
        capacity = dict(DEFAULT_CAPACITY)
        for raw_channel, slots in self.capacity.items():
            try:
                channel = Channel(raw_channel)
            except ValueError as exc:
                raise InvalidConfig(f"capacity[{raw_channel!r}]", "unknown channel") from exc
            if channel not in SLOTTED_CHANNELS:
                raise InvalidConfig(f"capacity[{channel.value}]", "voicemail consumes no slot")
            if isinstance(slots, bool) or not isinstance(slots, int):
                raise InvalidConfig(f"capacity[{channel.value}]", "must be an integer")
            if not MIN_CAPACITY <= slots <= MAX_CAPACITY:
                raise InvalidConfig(f"capacity[{channel.value}]", f"must be {MIN_CAPACITY}-{MAX_CAPACITY}")
            capacity[channel] = slots
        object.__setattr__(self, "capacity", FrozenMap(capacity))
        queues = frozenset(self.queues)
        for queue_id in queues:
            _require_id("queues", queue_id)
        object.__setattr__(self, "queues", queues)

    def slots(self, channel: Channel) -> int:
        return self.capacity.get(channel, 0)


RESERVED_STATUS_IDS = frozenset({"available", "away", "away-idle", "offline", "login-prep"})


@dataclass(frozen=True)
class CustomStatus:
    """An admin-defined status such as "Lunch" (Away) or "Email only" (Available)."""

    id: str
    name: str
    tag: StatusTag

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        if self.id in RESERVED_STATUS_IDS:
            raise InvalidConfig("id", f"{self.id!r} is a built-in status")
        if not self.name.strip():
            raise InvalidConfig("name", "must not be empty")
        object.__setattr__(self, "tag", StatusTag(self.tag))
