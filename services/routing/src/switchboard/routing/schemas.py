"""The HTTP API's documents and their translation to the domain's value objects.

Admin documents are strict (unknown fields refused, every number bounded) because they are stored as
they are and rebuilt into domain objects on every load. Durations are whole seconds on the wire.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from switchboard.contracts.common import Intent, SkillName
from switchboard.routing.domain import (
    Agent,
    AgentSettings,
    Channel,
    CustomStatus,
    ExternalContact,
    HoursOfOperation,
    Queue,
    SkillModification,
    StatusTag,
    TransferDestinations,
    VoicemailMode,
    WeeklyWindow,
)

DAY = 24 * 3600
# Printable text only: a NUL or control character is never a name (and PostgreSQL refuses NUL).
PRINTABLE = r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
StatusId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Summary = Annotated[str, Field(max_length=4000), AfterValidator(lambda text: text.replace("\x00", ""))]
SkillLevel = Annotated[int, Field(ge=1, le=10)]
SlottedChannel = Literal["chat", "voice", "email"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------- admin documents


class WindowSpec(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: time = Field(description="Local opening time")
    end: time = Field(description="Local closing time, exclusive; 00:00 means end of day")


class HoursSpec(Strict):
    time_zone: str = Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Paris")
    windows: list[WindowSpec] = Field(default_factory=list, max_length=100)
    holidays: list[date] = Field(default_factory=list, max_length=400, description="Closed local days")


class QueueSpec(Strict):
    name: Name
    channels: list[Channel] = Field(min_length=1, max_length=4)
    required_skills: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=50)
    hours: HoursSpec | None = Field(default=None, description="Hours of operation; absent = always open")
    max_wait_seconds: int = Field(default=600, gt=0, le=7 * DAY)
    priority: int = Field(default=5, ge=1, le=10, description="10 is the most urgent")
    acw_mode: Literal["immediate", "timed", "disabled"] | None = None
    overdue_threshold_seconds: int = Field(default=300, gt=0, le=7 * DAY)
    auto_answer: bool = False
    voicemail_mode: VoicemailMode = VoicemailMode.MANUAL
    enforce_skill_match: bool | None = Field(default=None, description="Absent = the agent settings decide")
    default_handle_time_seconds: int = Field(default=300, gt=0, le=7 * DAY)
    intents: list[Intent] = Field(
        default_factory=list, max_length=200, description="Intents routed here when no queue is hinted"
    )
    default: bool = Field(default=False, description="Default queue for its channels")


class QueueOut(QueueSpec):
    id: UUID


def clean(text: str | None) -> str | None:
    """Text from other services goes into VARCHAR columns: PostgreSQL refuses NUL characters."""
    return None if text is None else text.replace("\x00", "")


class SkillSpec(Strict):
    description: str = Field(default="", max_length=1000)


class SkillOut(SkillSpec):
    name: str


class AgentSpec(Strict):
    name: Name
    skills: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=100)
    capacity: dict[SlottedChannel, int] = Field(
        default_factory=dict, description="Slots per channel (0-25); missing channels take the default"
    )
    queues: list[UUID] = Field(default_factory=list, max_length=5000, description="Queue memberships")

    @field_validator("capacity")
    @classmethod
    def _bounded(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, slots in value.items():
            if not 0 <= slots <= 25:
                raise ValueError(f"capacity of {channel} must be 0-25")
        return value


class AgentOut(AgentSpec):
    id: UUID


class StatusSpec(Strict):
    name: Name
    tag: StatusTag = Field(description="What the status counts as: available or away")


class StatusOut(StatusSpec):
    id: str


class ContactSpec(Strict):
    name: Name
    number: str = Field(min_length=3, max_length=32, description="Phone number; stored as E.164")

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"not a phone number: {exc}") from exc
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("not a valid phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class ContactOut(ContactSpec):
    id: str


class SettingsSpec(Strict):
    login_prep_seconds: int = Field(default=30, ge=0, le=DAY)
    offer_timeout_seconds: int = Field(default=30, gt=0, le=DAY)
    reply_timeout_seconds: int | None = Field(default=120, gt=0, le=DAY)
    inactivity_threshold_seconds: int = Field(default=120, gt=0, le=DAY)
    snooze_presets_seconds: list[int] = Field(default=[300, 900, 1800, 3600], max_length=20)
    custom_snooze: bool = True
    snooze_max_seconds: int = Field(default=DAY, gt=0, le=30 * DAY)
    transfer_destinations: TransferDestinations = TransferDestinations.BOTH
    enforce_skill_match: bool = False
    skill_modification: SkillModification = SkillModification.OFF
    external_transfer: bool = False


class ImportSpec(Strict):
    """Bulk configuration (seeding a tenant): applied in one transaction, skills first."""

    skills: dict[SkillName, SkillSpec] = Field(default_factory=dict, max_length=10_000)
    queues: dict[UUID, QueueSpec] = Field(default_factory=dict, max_length=5_000)
    agents: dict[UUID, AgentSpec] = Field(default_factory=dict, max_length=2_000)


# ----------------------------------------------------------------------------------- commands


class StatusChange(Strict):
    status: StatusId = Field(description="available, away, or a custom status id")


class SnoozeRequest(Strict):
    duration_seconds: int = Field(gt=0, le=30 * DAY, description="A preset or, when allowed, any duration")


class SkillsChange(Strict):
    add: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=50)
    remove: list[SkillName] = Field(default_factory=list, max_length=50)


class QueueTransfer(Strict):
    to: Literal["queue"]
    queue_id: UUID
    summary: Summary = ""
    add_skills: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=50)
    remove_skills: list[SkillName] = Field(default_factory=list, max_length=50)


class AgentTransfer(Strict):
    to: Literal["agent"]
    agent_id: UUID
    summary: Summary = ""


class ExternalTransfer(Strict):
    to: Literal["external"]
    contact_id: str = Field(min_length=1, max_length=200)


TransferRequest = Annotated[QueueTransfer | AgentTransfer | ExternalTransfer, Field(discriminator="to")]


# ----------------------------------------------------------------------------------- to the domain


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


def queue_from_spec(queue_id: str, spec: QueueSpec) -> Queue:
    hours = None
    if spec.hours is not None:
        hours = HoursOfOperation(
            time_zone=spec.hours.time_zone,
            windows=tuple(WeeklyWindow(w.weekday, w.start, w.end) for w in spec.hours.windows),
            holidays=frozenset(spec.hours.holidays),
        )
    return Queue(
        id=queue_id,
        name=spec.name,
        channels=frozenset(spec.channels),
        required_skills=dict(spec.required_skills),
        hours=hours,
        max_wait=_seconds(spec.max_wait_seconds),
        priority=spec.priority,
        acw_mode=spec.acw_mode,
        overdue_threshold=_seconds(spec.overdue_threshold_seconds),
        auto_answer=spec.auto_answer,
        voicemail_mode=spec.voicemail_mode,
        enforce_skill_match=spec.enforce_skill_match,
        default_handle_time=_seconds(spec.default_handle_time_seconds),
    )


def agent_from_spec(agent_id: str, spec: AgentSpec) -> Agent:
    return Agent(
        id=agent_id,
        name=spec.name,
        skills=dict(spec.skills),
        capacity={Channel(c): slots for c, slots in spec.capacity.items()},
        queues=frozenset(str(q) for q in spec.queues),
    )


def status_from_spec(status_id: str, spec: StatusSpec) -> CustomStatus:
    return CustomStatus(status_id, spec.name, spec.tag)


def settings_from_spec(spec: SettingsSpec, contacts: dict[str, ContactSpec]) -> AgentSettings:
    return AgentSettings(
        login_prep=_seconds(spec.login_prep_seconds),
        offer_timeout=_seconds(spec.offer_timeout_seconds),
        reply_timeout=None if spec.reply_timeout_seconds is None else _seconds(spec.reply_timeout_seconds),
        inactivity_threshold=_seconds(spec.inactivity_threshold_seconds),
        snooze_presets=tuple(_seconds(s) for s in spec.snooze_presets_seconds),
        custom_snooze=spec.custom_snooze,
        snooze_max=_seconds(spec.snooze_max_seconds),
        transfer_destinations=spec.transfer_destinations,
        enforce_skill_match=spec.enforce_skill_match,
        skill_modification=spec.skill_modification,
        external_transfer=spec.external_transfer,
        external_contacts=tuple(
            ExternalContact(contact_id, c.name, c.number) for contact_id, c in sorted(contacts.items())
        ),
    )


# Domain field names → the API's, so a 422 points at what the client sent.
API_FIELDS: dict[str, str] = {
    "max_wait": "max_wait_seconds",
    "overdue_threshold": "overdue_threshold_seconds",
    "default_handle_time": "default_handle_time_seconds",
    "login_prep": "login_prep_seconds",
    "offer_timeout": "offer_timeout_seconds",
    "reply_timeout": "reply_timeout_seconds",
    "inactivity_threshold": "inactivity_threshold_seconds",
    "snooze_max": "snooze_max_seconds",
    "start": "hours.windows.start",
    "end": "hours.windows.end",
    "weekday": "hours.windows.weekday",
}


def api_field(domain_field: str) -> str:
    if domain_field.startswith("snooze_presets["):
        return "snooze_presets_seconds" + domain_field[len("snooze_presets") :]
    return API_FIELDS.get(domain_field, domain_field)


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def jsonable(value: Any) -> Any:
    """Problem extensions must be JSON: the domain's details already are, bar the odd datetime."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
