"""Pure rules of after-call work: ending interactions, ACW modes, dispositions and notes.

Nothing here does I/O or reads a clock. Every command takes the current state and the time it happens
(an aware datetime) and returns the new state with a list of *decisions* the caller carries out in the
same transaction: events to put in the outbox, durable timers to schedule or cancel, and the agent slot
to give back to routing. A refusal is an :class:`AcwError` and leaves the caller's state untouched,
because the state objects are immutable.

Events from other services (customer left, call hung up, expiry timer fired, ...) are facts that may be
delivered more than once or late; their functions are idempotent and return no decisions when the
outcome is already settled. Agent commands, by contrast, refuse with a 409 so the console learns why.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

# The shared vocabulary is the contracts' own, re-exported so the domain reads as one module.
from switchboard.contracts.acw import AcwMode as AcwMode
from switchboard.contracts.acw import EndCause as EndCause
from switchboard.contracts.acw import NoteKind as NoteKind
from switchboard.contracts.common import Channel as Channel
from switchboard.contracts.common import Party as Party

# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


class AcwError(Exception):
    """A refusal of the ACW rules. ``slug`` is stable (it becomes the problem-details ``type``)."""

    slug: ClassVar[str] = "acw-error"
    status: ClassVar[int] = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NaiveDatetime(AcwError):
    slug = "naive-datetime"
    status = 422


class NotAssignedAgent(AcwError):
    slug = "not-assigned-agent"
    status = 403


class FirstReplyRequired(AcwError):
    # Routing refuses transfers with the same slug, so the console handles both alike.
    slug = "first-reply-required"
    status = 409


class EndNotRequested(AcwError):
    slug = "end-not-requested"
    status = 409


class AlreadyEnded(AcwError):
    slug = "already-ended"
    status = 409


class NotEnded(AcwError):
    slug = "not-ended"
    status = 409


class AlreadyClosed(AcwError):
    slug = "already-closed"
    status = 409


class InvalidTransfer(AcwError):
    slug = "invalid-transfer"
    status = 422


class InvalidInteraction(AcwError):
    slug = "invalid-interaction"
    status = 422


class InvalidEndCause(AcwError):
    slug = "invalid-end-cause"
    status = 422


class DispositionsIncomplete(AcwError):
    slug = "dispositions-incomplete"
    status = 422

    def __init__(self, missing_fields: Iterable[str]) -> None:
        self.missing_fields = tuple(missing_fields)
        super().__init__("required disposition fields not chosen: " + ", ".join(self.missing_fields))


class UnknownDispositionCode(AcwError):
    slug = "unknown-disposition-code"
    status = 422


class CodeNotInSet(AcwError):
    slug = "code-not-in-set"
    status = 422


class CodeNotInField(AcwError):
    slug = "code-not-in-field"
    status = 422


class RetiredDispositionCode(AcwError):
    slug = "disposition-code-retired"
    status = 422


class UnknownDispositionField(AcwError):
    slug = "unknown-disposition-field"
    status = 422


class DescriptionTooLong(AcwError):
    slug = "description-too-long"
    status = 422


class InvalidAcwConfig(AcwError):
    slug = "invalid-acw-config"
    status = 422


class InvalidDispositionCode(AcwError):
    slug = "invalid-disposition-code"
    status = 422


class InvalidDispositionLabel(AcwError):
    slug = "invalid-disposition-label"
    status = 422


class InvalidDispositionField(AcwError):
    slug = "invalid-disposition-field"
    status = 422


class InvalidDispositionSet(AcwError):
    slug = "invalid-disposition-set"
    status = 422


class DuplicateDispositionCode(AcwError):
    slug = "duplicate-disposition-code"
    status = 409


class DuplicateDispositionField(AcwError):
    slug = "duplicate-disposition-field"
    status = 409


class BuiltinDispositionLocked(AcwError):
    slug = "builtin-disposition-locked"
    status = 422


class RequiredFieldWithoutCodes(AcwError):
    slug = "required-field-without-codes"
    status = 422


class DispositionSetNotFound(AcwError):
    slug = "disposition-set-not-found"
    status = 404


class DispositionCodeNotFound(AcwError):
    slug = "disposition-code-not-found"
    status = 404


class DispositionFieldNotFound(AcwError):
    slug = "disposition-field-not-found"
    status = 404


class InvalidNote(AcwError):
    slug = "invalid-note"
    status = 422


class NotNoteAuthor(AcwError):
    slug = "not-note-author"
    status = 403


# ---------------------------------------------------------------------------------------------------
# Vocabulary and limits
# ---------------------------------------------------------------------------------------------------


class Status(StrEnum):
    LIVE = "live"
    ACW = "acw"
    CLOSED = "closed"


class ClosedBy(StrEnum):
    AGENT = "agent"
    SYSTEM = "system"


DEFAULT_ACW_TIMEOUT = timedelta(seconds=30)
MIN_ACW_TIMEOUT = timedelta(seconds=10)
MAX_ACW_TIMEOUT = timedelta(minutes=15)

MAX_DESCRIPTION_CHARS = 1_000
MAX_NOTE_CHARS = 2_000
MAX_LABEL_CHARS = 80
MAX_CODE_CHARS = 64
CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

STATUS_FIELD = "status"
BUILTIN_STATUS_CODES: tuple[tuple[str, str], ...] = (
    ("resolved", "Resolved"),
    ("abandoned", "Abandoned"),
    ("pending", "Pending"),
)
SYSTEM_GENERATED_CODE = "system-generated"
SYSTEM_GENERATED_LABEL = "System generated"
EXPIRY_MESSAGE = (
    "The time to add a disposition has run out. The interaction was closed and the empty required "
    "fields were filled with the system-generated code."
)

TIMER_ACW_EXPIRY = "acw_expiry"

EVENT_END_REQUESTED = "interaction.end_requested"
EVENT_INTERACTION_ENDED = "interaction.ended"
EVENT_ACW_STARTED = "acw.started"
EVENT_INTERACTION_CLOSED = "interaction.closed"
EVENT_ACW_EXPIRED = "acw.expired"
EVENT_NOTE_ADDED = "note.added"
EVENT_NOTE_EDITED = "note.edited"


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be timezone-aware (UTC), got {value.isoformat()}")
    return value.astimezone(UTC)


def _label(value: str, what: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_LABEL_CHARS:
        raise InvalidDispositionLabel(f"{what} must be 1 to {MAX_LABEL_CHARS} characters, got {len(cleaned)}")
    return cleaned


def _slug_like(value: str, what: str, error: type[AcwError]) -> None:
    if len(value) > MAX_CODE_CHARS or not CODE_PATTERN.match(value):
        raise error(
            f"{what} {value[:MAX_CODE_CHARS]!r} must be lowercase letters and digits separated by "
            f"single '-' or '_', at most {MAX_CODE_CHARS} characters"
        )


# ---------------------------------------------------------------------------------------------------
# Disposition sets (admin CRUD)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispositionCode:
    code: str
    label: str
    retired: bool = False
    builtin: bool = False

    def __post_init__(self) -> None:
        _slug_like(self.code, "disposition code", InvalidDispositionCode)
        if self.code == SYSTEM_GENERATED_CODE:
            raise InvalidDispositionCode(f"{SYSTEM_GENERATED_CODE!r} is reserved for the system")
        object.__setattr__(self, "label", _label(self.label, "disposition label"))


@dataclass(frozen=True)
class DispositionField:
    name: str
    label: str
    required: bool
    codes: tuple[DispositionCode, ...] = ()

    def __post_init__(self) -> None:
        _slug_like(self.name, "disposition field", InvalidDispositionField)
        object.__setattr__(self, "label", _label(self.label, "field label"))
        if self.required and not self.active_codes():
            # A required field nobody can fill would make an immediate-release interaction unclosable.
            raise RequiredFieldWithoutCodes(f"required field {self.name!r} has no selectable codes")

    def active_codes(self) -> tuple[DispositionCode, ...]:
        return tuple(code for code in self.codes if not code.retired)

    def code(self, code: str) -> DispositionCode | None:
        return next((c for c in self.codes if c.code == code), None)


@dataclass(frozen=True)
class DispositionSet:
    """Fields an agent fills at the end of an interaction; the ``status`` field always comes first."""

    set_id: str
    name: str
    fields: tuple[DispositionField, ...]

    def __post_init__(self) -> None:
        if not self.set_id.strip():
            raise InvalidDispositionSet("disposition set id must not be empty")
        object.__setattr__(self, "name", _label(self.name, "disposition set name"))
        if not self.fields or self.fields[0].name != STATUS_FIELD or not self.fields[0].required:
            raise InvalidDispositionSet(f"a disposition set starts with the required {STATUS_FIELD!r} field")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise DuplicateDispositionField(f"field names repeat in set {self.set_id!r}")
        seen: set[str] = set()
        for fld in self.fields:
            for code in fld.codes:
                if code.code in seen:
                    raise DuplicateDispositionCode(f"code {code.code!r} appears twice in set {self.set_id!r}")
                seen.add(code.code)
        builtins = {c.code for c in self.fields[0].codes if c.builtin}
        if builtins != {code for code, _ in BUILTIN_STATUS_CODES}:
            raise InvalidDispositionSet("the status field must keep the built-in statuses")

    def field(self, name: str) -> DispositionField | None:
        return next((f for f in self.fields if f.name == name), None)

    def find_code(self, code: str) -> tuple[DispositionField, DispositionCode] | None:
        for fld in self.fields:
            found = fld.code(code)
            if found is not None:
                return fld, found
        return None

    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


def new_disposition_set(set_id: str, name: str) -> DispositionSet:
    """A set holding only the required status field with the built-in statuses."""
    status = DispositionField(
        name=STATUS_FIELD,
        label="Status",
        required=True,
        codes=tuple(DispositionCode(code, label, builtin=True) for code, label in BUILTIN_STATUS_CODES),
    )
    return DispositionSet(set_id=set_id, name=name, fields=(status,))


def _field_or_404(dset: DispositionSet, name: str) -> DispositionField:
    found = dset.field(name)
    if found is None:
        raise DispositionFieldNotFound(f"set {dset.set_id!r} has no field {name!r}")
    return found


def _replace_field(dset: DispositionSet, new: DispositionField) -> DispositionSet:
    return replace(dset, fields=tuple(new if f.name == new.name else f for f in dset.fields))


def add_field(
    dset: DispositionSet,
    name: str,
    label: str,
    *,
    required: bool = False,
    codes: Iterable[tuple[str, str]] = (),
) -> DispositionSet:
    """Add a field; ``codes`` are (code, label) pairs. A required field needs at least one code."""
    if dset.field(name) is not None:
        raise DuplicateDispositionField(f"set {dset.set_id!r} already has a field {name!r}")
    new = DispositionField(
        name=name,
        label=label,
        required=required,
        codes=tuple(DispositionCode(code, code_label) for code, code_label in codes),
    )
    return replace(dset, fields=(*dset.fields, new))


def set_field_required(dset: DispositionSet, name: str, required: bool) -> DispositionSet:
    current = _field_or_404(dset, name)
    if name == STATUS_FIELD and not required:
        raise BuiltinDispositionLocked(f"the {STATUS_FIELD!r} field is always required")
    return _replace_field(dset, replace(current, required=required))


def relabel_field(dset: DispositionSet, name: str, label: str) -> DispositionSet:
    return _replace_field(dset, replace(_field_or_404(dset, name), label=label))


def add_code(dset: DispositionSet, field_name: str, code: str, label: str) -> DispositionSet:
    target = _field_or_404(dset, field_name)
    new = DispositionCode(code, label)
    # Retired codes count too: reusing one would give old interactions a new meaning.
    if dset.find_code(code) is not None:
        raise DuplicateDispositionCode(f"code {code!r} already exists in set {dset.set_id!r}")
    return _replace_field(dset, replace(target, codes=(*target.codes, new)))


def _code_or_404(dset: DispositionSet, code: str) -> tuple[DispositionField, DispositionCode]:
    found = dset.find_code(code)
    if found is None:
        raise DispositionCodeNotFound(f"set {dset.set_id!r} has no code {code!r}")
    return found


def _replace_code(dset: DispositionSet, fld: DispositionField, new: DispositionCode) -> DispositionSet:
    codes = tuple(new if c.code == new.code else c for c in fld.codes)
    return _replace_field(dset, replace(fld, codes=codes))


def relabel_code(dset: DispositionSet, code: str, label: str) -> DispositionSet:
    fld, current = _code_or_404(dset, code)
    return _replace_code(dset, fld, replace(current, label=label))


def retire_code(dset: DispositionSet, code: str) -> DispositionSet:
    """Codes are never deleted: a retired code stays readable on old interactions but can't be chosen."""
    fld, current = _code_or_404(dset, code)
    if current.builtin:
        raise BuiltinDispositionLocked(f"built-in status {code!r} cannot be retired")
    return _replace_code(dset, fld, replace(current, retired=True))


def restore_code(dset: DispositionSet, code: str) -> DispositionSet:
    fld, current = _code_or_404(dset, code)
    return _replace_code(dset, fld, replace(current, retired=False))


# ---------------------------------------------------------------------------------------------------
# Per-queue ACW configuration
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueAcwSettings:
    mode: AcwMode
    disposition_set_id: str
    timeout: timedelta = DEFAULT_ACW_TIMEOUT

    def __post_init__(self) -> None:
        # Validated whatever the mode, so switching a queue to timed release can't activate a bad value.
        if not MIN_ACW_TIMEOUT <= self.timeout <= MAX_ACW_TIMEOUT:
            raise InvalidAcwConfig(
                f"ACW timeout must be between {int(MIN_ACW_TIMEOUT.total_seconds())} s and "
                f"{int(MAX_ACW_TIMEOUT.total_seconds())} s, got {self.timeout.total_seconds():g} s"
            )


# A fixed UUID rather than a name: disposition set ids travel in events whose contracts expect UUIDs.
DEFAULT_SET_ID = "5b1f3f0e-6a8c-5d0e-9c35-0d3f1a7e2b00"


@dataclass(frozen=True)
class Catalogue:
    """Disposition sets and each queue's ACW settings, as the admin configured them.

    ``default`` applies to queues nobody configured yet: an interaction from a queue routing created a
    moment ago must still end cleanly rather than fail its event handler.
    """

    sets: Mapping[str, DispositionSet]
    queues: Mapping[str, QueueAcwSettings]
    default: QueueAcwSettings

    def __post_init__(self) -> None:
        object.__setattr__(self, "sets", MappingProxyType(dict(self.sets)))
        object.__setattr__(self, "queues", MappingProxyType(dict(self.queues)))
        for key, dset in self.sets.items():
            if key != dset.set_id:
                raise InvalidAcwConfig(f"set stored under {key!r} has id {dset.set_id!r}")
        for queue_id, settings in (*self.queues.items(), ("(default)", self.default)):
            if settings.disposition_set_id not in self.sets:
                raise DispositionSetNotFound(
                    f"queue {queue_id} uses unknown disposition set {settings.disposition_set_id!r}"
                )

    def settings_for(self, queue_id: str) -> QueueAcwSettings:
        return self.queues.get(queue_id, self.default)

    def disposition_set(self, set_id: str) -> DispositionSet:
        try:
            return self.sets[set_id]
        except KeyError:
            raise DispositionSetNotFound(f"no disposition set {set_id!r}") from None

    def with_set(self, dset: DispositionSet) -> Catalogue:
        return replace(self, sets={**self.sets, dset.set_id: dset})

    def with_queue(self, queue_id: str, settings: QueueAcwSettings) -> Catalogue:
        return replace(self, queues={**self.queues, queue_id: settings})


def default_catalogue() -> Catalogue:
    """Immediate release with only the status field: never closes anything behind the agent's back."""
    dset = new_disposition_set(DEFAULT_SET_ID, "Default")
    return Catalogue(
        sets={DEFAULT_SET_ID: dset},
        queues={},
        default=QueueAcwSettings(mode=AcwMode.IMMEDIATE, disposition_set_id=DEFAULT_SET_ID),
    )


# ---------------------------------------------------------------------------------------------------
# Decisions and event payloads
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChosenDisposition:
    """A disposition as it was at closing; the label is copied so later relabels don't rewrite history."""

    field: str
    code: str
    label: str
    system_generated: bool = False


# Payload field names follow the contracts' models (switchboard.contracts.acw), which ignore the extra
# fields, so a handler can validate ``Emit.data()`` straight into the registered payload model.


@dataclass(frozen=True)
class InteractionEndRequested:
    """The agent confirmed End: the channel's service hangs up the call or terminates the chat."""

    interaction_id: str
    agent_id: str
    channel: Channel


@dataclass(frozen=True)
class InteractionEnded:
    interaction_id: str
    channel: Channel
    ended_by: Party
    agent_id: str | None
    queue_id: str
    customer_id: str
    linked_interaction_id: str | None
    end_cause: EndCause
    ended_at: datetime


@dataclass(frozen=True)
class AcwStarted:
    """Tells the console which mode applies and, in timed release, the deadline to count down to."""

    interaction_id: str
    agent_id: str
    mode: AcwMode
    deadline: datetime | None
    disposition_set_id: str | None
    queue_id: str


@dataclass(frozen=True)
class InteractionClosed:
    interaction_id: str
    agent_id: str | None
    codes: tuple[ChosenDisposition, ...]
    description: str | None
    closed_by: ClosedBy
    handle_time_seconds: int
    acw_seconds: int
    customer_id: str
    queue_id: str
    channel: Channel
    linked_interaction_id: str | None
    end_cause: EndCause
    acw_mode: AcwMode
    ended_at: datetime
    closed_at: datetime


@dataclass(frozen=True)
class AcwExpired:
    interaction_id: str
    agent_id: str
    deadline: datetime
    expired_at: datetime
    system_generated_fields: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Note:
    note_id: str
    interaction_id: str
    customer_id: str
    author_id: str
    kind: NoteKind
    text: str
    created_at: datetime
    edited_at: datetime | None = None


EventPayload = InteractionEndRequested | InteractionEnded | AcwStarted | InteractionClosed | AcwExpired | Note


@dataclass(frozen=True)
class Emit:
    """An event for the outbox, keyed by interaction id so its consumers see it in order."""

    event_type: str
    key: str
    payload: EventPayload

    def data(self) -> dict[str, Any]:
        return dataclasses.asdict(self.payload)


@dataclass(frozen=True)
class ScheduleTimer:
    """Create or move the durable timer (kind, key): at most one exists per pair."""

    kind: str
    key: str
    due_at: datetime


@dataclass(frozen=True)
class CancelTimer:
    kind: str
    key: str


@dataclass(frozen=True)
class ReleaseSlot:
    """Tell routing, the single writer of capacity, that the agent's slot is free again."""

    agent_id: str
    interaction_id: str
    channel: Channel


Decision = Emit | ScheduleTimer | CancelTimer | ReleaseSlot


# ---------------------------------------------------------------------------------------------------
# Interaction state
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionAcw:
    """ACW's projection of one interaction, from assignment to closing.

    A call started from a chat is its own interaction pointing at the chat via
    ``linked_interaction_id``; every function here acts on one interaction, so closing one never
    closes the other.
    """

    interaction_id: str
    customer_id: str
    channel: Channel
    queue_id: str
    agent_id: str | None
    assigned_at: datetime
    auto_answer: bool = False
    agent_replied: bool = False
    linked_interaction_id: str | None = None
    consumes_slot: bool = True
    snoozes: tuple[tuple[datetime, datetime], ...] = ()
    end_requested_by: str | None = None
    end_requested_at: datetime | None = None
    status: Status = Status.LIVE
    end_cause: EndCause | None = None
    ended_by: Party | None = None
    ended_at: datetime | None = None
    acw_mode: AcwMode | None = None
    disposition_set_id: str | None = None
    acw_due_at: datetime | None = None
    slot_released: bool = False
    draft: tuple[tuple[str, str], ...] = ()
    draft_description: str | None = None
    closed_at: datetime | None = None
    closed_by: ClosedBy | None = None
    dispositions: tuple[ChosenDisposition, ...] = ()
    description: str | None = None
    handle_time: timedelta | None = None
    acw_time: timedelta | None = None

    @property
    def draft_choices(self) -> dict[str, str]:
        return dict(self.draft)

    def time_left(self, now: datetime) -> timedelta | None:
        """The countdown the console shows in timed release; None when there is no deadline."""
        if self.status is not Status.ACW or self.acw_due_at is None:
            return None
        return max(self.acw_due_at - _aware(now, "now"), timedelta(0))


Outcome = tuple[InteractionAcw, list[Decision]]


def open_interaction(
    *,
    interaction_id: str,
    customer_id: str,
    channel: Channel,
    queue_id: str,
    agent_id: str,
    assigned_at: datetime,
    auto_answer: bool = False,
    linked_interaction_id: str | None = None,
    consumes_slot: bool = True,
) -> InteractionAcw:
    """Start tracking an interaction when routing assigns it (``consumes_slot`` is False for voicemail)."""
    if linked_interaction_id == interaction_id:
        raise InvalidInteraction("an interaction cannot be linked to itself")
    return InteractionAcw(
        interaction_id=interaction_id,
        customer_id=customer_id,
        channel=channel,
        queue_id=queue_id,
        agent_id=agent_id,
        assigned_at=_aware(assigned_at, "assigned_at"),
        auto_answer=auto_answer,
        linked_interaction_id=linked_interaction_id,
        consumes_slot=consumes_slot,
    )


def _refuse_unless_live(ix: InteractionAcw) -> None:
    if ix.status is Status.CLOSED:
        raise AlreadyClosed(f"interaction {ix.interaction_id} is already closed")
    if ix.status is Status.ACW:
        raise AlreadyEnded(f"interaction {ix.interaction_id} has already ended")


def _check_can_end(ix: InteractionAcw, agent_id: str) -> None:
    if ix.agent_id is None or ix.agent_id != agent_id:
        raise NotAssignedAgent(f"only the assigned agent can end interaction {ix.interaction_id}")
    _refuse_unless_live(ix)
    if ix.auto_answer and not ix.agent_replied:
        raise FirstReplyRequired(
            f"interaction {ix.interaction_id} was auto-answered: send a first reply before ending it"
        )


def end_available(ix: InteractionAcw) -> bool:
    """Whether the console shows End: live, held by an agent, and past the first reply under auto-answer."""
    return ix.status is Status.LIVE and ix.agent_id is not None and (not ix.auto_answer or ix.agent_replied)


def record_agent_reply(ix: InteractionAcw, agent_id: str) -> Outcome:
    """A message from the agent arrived; only the assigned agent's reply unlocks End."""
    if ix.status is not Status.LIVE or ix.agent_id != agent_id or ix.agent_replied:
        return ix, []
    return replace(ix, agent_replied=True), []


def record_snooze(ix: InteractionAcw, started_at: datetime, ended_at: datetime) -> Outcome:
    """A snoozed period, subtracted from handle time. Late or repeated reports are harmless."""
    start, end = _aware(started_at, "started_at"), _aware(ended_at, "ended_at")
    if ix.status is Status.CLOSED or end <= start or (start, end) in ix.snoozes:
        return ix, []
    return replace(ix, snoozes=(*ix.snoozes, (start, end))), []


def request_end(ix: InteractionAcw, agent_id: str, now: datetime) -> Outcome:
    """The agent clicked End: remember the pending question, change nothing else."""
    at = _aware(now, "now")
    _check_can_end(ix, agent_id)
    return replace(ix, end_requested_by=agent_id, end_requested_at=at), []


def cancel_end(ix: InteractionAcw, agent_id: str) -> Outcome:
    """The agent answered No."""
    if ix.agent_id is None or ix.agent_id != agent_id:
        raise NotAssignedAgent(f"only the assigned agent can answer for interaction {ix.interaction_id}")
    if ix.end_requested_by is None:
        return ix, []
    return replace(ix, end_requested_by=None, end_requested_at=None), []


def confirm_end(ix: InteractionAcw, catalogue: Catalogue, agent_id: str, now: datetime) -> Outcome:
    """The agent answered Yes: the interaction ends and moves to ACW as its current queue says."""
    at = _aware(now, "now")
    # Rechecked: a transfer or a reassignment may have happened while the dialog was open.
    _check_can_end(ix, agent_id)
    if ix.end_requested_by != agent_id:
        raise EndNotRequested(f"confirm ending interaction {ix.interaction_id} only after requesting it")
    ended, decisions = _end(ix, catalogue, EndCause.AGENT, Party.AGENT, at)
    terminate = Emit(
        EVENT_END_REQUESTED,
        ix.interaction_id,
        InteractionEndRequested(ix.interaction_id, agent_id, ix.channel),
    )
    return ended, [terminate, *decisions]


_DEFAULT_ENDED_BY = {
    EndCause.CUSTOMER: Party.CUSTOMER,
    # An agent ends a call with the console's End button; a bare hang-up is the customer or the line.
    EndCause.HANG_UP: Party.CUSTOMER,
    EndCause.EXTERNAL_TRANSFER: Party.AGENT,
}


def end_from_event(
    ix: InteractionAcw,
    catalogue: Catalogue,
    cause: EndCause,
    at: datetime,
    *,
    ended_by: Party | None = None,
) -> Outcome:
    """The customer left, the call hung up, or the call went to an external contact (blind transfer).

    No confirmation is asked and the first-reply rule doesn't apply: the conversation is already over.
    ``ended_by`` is taken from the channel's event when it says who hung up.
    """
    when = _aware(at, "at")
    if cause is EndCause.AGENT:
        raise InvalidEndCause("an agent ends an interaction with request_end and confirm_end")
    if ix.status is not Status.LIVE:
        return ix, []
    return _end(ix, catalogue, cause, ended_by or _DEFAULT_ENDED_BY[cause], when)


def transfer(
    ix: InteractionAcw,
    now: datetime,
    *,
    to_queue_id: str | None = None,
    to_agent_id: str | None = None,
    auto_answer: bool = False,
) -> Outcome:
    """Routing moved the interaction. The queue it ends in decides its ACW mode and disposition set.

    Without ``to_agent_id`` the interaction waits in the queue with no agent until :func:`assign`.
    """
    at = _aware(now, "now")
    if to_queue_id is None and to_agent_id is None:
        raise InvalidTransfer("a transfer needs a destination queue, agent, or both")
    _refuse_unless_live(ix)
    new = replace(
        ix,
        queue_id=to_queue_id if to_queue_id is not None else ix.queue_id,
        end_requested_by=None,
        end_requested_at=None,
    )
    if to_agent_id is None:
        return replace(new, agent_id=None, agent_replied=False, auto_answer=False), []
    return _reassigned(new, to_agent_id, at, auto_answer), []


def assign(ix: InteractionAcw, agent_id: str, now: datetime, *, auto_answer: bool = False) -> Outcome:
    """A waiting (transferred) interaction was accepted by an agent. Repeats are harmless."""
    at = _aware(now, "now")
    _refuse_unless_live(ix)
    if ix.agent_id == agent_id:
        return ix, []
    return _reassigned(ix, agent_id, at, auto_answer), []


def _reassigned(ix: InteractionAcw, agent_id: str, at: datetime, auto_answer: bool) -> InteractionAcw:
    if ix.agent_id == agent_id:
        return ix
    # Handle time is the closing agent's: it starts when that agent got the interaction.
    return replace(
        ix,
        agent_id=agent_id,
        assigned_at=at,
        agent_replied=False,
        auto_answer=auto_answer,
        end_requested_by=None,
        end_requested_at=None,
    )


def _end(ix: InteractionAcw, catalogue: Catalogue, cause: EndCause, ended_by: Party, at: datetime) -> Outcome:
    settings = catalogue.settings_for(ix.queue_id)
    # Nobody to do the work when the customer leaves mid-transfer: the interaction just closes.
    mode = settings.mode if ix.agent_id is not None else AcwMode.DISABLED
    due_at = at + settings.timeout if mode is AcwMode.TIMED else None
    ended = replace(
        ix,
        status=Status.ACW,
        end_cause=cause,
        ended_by=ended_by,
        ended_at=at,
        acw_mode=mode,
        disposition_set_id=settings.disposition_set_id,
        acw_due_at=due_at,
        end_requested_by=None,
        end_requested_at=None,
    )
    decisions: list[Decision] = [
        Emit(
            EVENT_INTERACTION_ENDED,
            ix.interaction_id,
            InteractionEnded(
                interaction_id=ix.interaction_id,
                channel=ix.channel,
                ended_by=ended_by,
                agent_id=ix.agent_id,
                queue_id=ix.queue_id,
                customer_id=ix.customer_id,
                linked_interaction_id=ix.linked_interaction_id,
                end_cause=cause,
                ended_at=at,
            ),
        )
    ]
    if ix.agent_id is not None:
        started = AcwStarted(
            interaction_id=ix.interaction_id,
            agent_id=ix.agent_id,
            mode=mode,
            deadline=due_at,
            disposition_set_id=None if mode is AcwMode.DISABLED else settings.disposition_set_id,
            queue_id=ix.queue_id,
        )
        decisions.append(Emit(EVENT_ACW_STARTED, ix.interaction_id, started))
    if mode is AcwMode.TIMED:
        assert due_at is not None
        decisions.append(ScheduleTimer(TIMER_ACW_EXPIRY, ix.interaction_id, due_at))
        return ended, decisions
    ended, released = _release_slot(ended)
    decisions += released
    if mode is AcwMode.DISABLED:
        closed, closing = _close(ended, ClosedBy.SYSTEM, (), None, at)
        return closed, decisions + closing
    return ended, decisions


def _release_slot(ix: InteractionAcw) -> Outcome:
    if ix.slot_released or ix.agent_id is None or not ix.consumes_slot:
        return ix, []
    return replace(ix, slot_released=True), [ReleaseSlot(ix.agent_id, ix.interaction_id, ix.channel)]


def _handle_time(ix: InteractionAcw, ended_at: datetime) -> timedelta:
    start = ix.assigned_at
    if ix.agent_id is None or ended_at <= start:
        return timedelta(0)
    # Clip to the handled span and merge overlaps, so a snooze reported twice or spanning the end
    # is subtracted once and only for the part that was really inside the handle time.
    clipped = sorted((max(s, start), min(e, ended_at)) for s, e in ix.snoozes if e > start and s < ended_at)
    snoozed = timedelta(0)
    cursor = start
    for period_start, period_end in clipped:
        counted_from = max(period_start, cursor)
        if period_end > counted_from:
            snoozed += period_end - counted_from
            cursor = period_end
    return (ended_at - start) - snoozed


def _close(
    ix: InteractionAcw,
    closed_by: ClosedBy,
    dispositions: tuple[ChosenDisposition, ...],
    description: str | None,
    at: datetime,
) -> Outcome:
    assert ix.ended_at is not None
    assert ix.end_cause is not None
    assert ix.acw_mode is not None
    closed_at = max(at, ix.ended_at)
    handle_time = _handle_time(ix, ix.ended_at)
    acw_time = closed_at - ix.ended_at
    closed = replace(
        ix,
        status=Status.CLOSED,
        closed_at=closed_at,
        closed_by=closed_by,
        dispositions=dispositions,
        description=description,
        handle_time=handle_time,
        acw_time=acw_time,
        draft=(),
        draft_description=None,
    )
    event = InteractionClosed(
        interaction_id=ix.interaction_id,
        agent_id=ix.agent_id,
        codes=dispositions,
        description=description,
        closed_by=closed_by,
        handle_time_seconds=round(handle_time.total_seconds()),
        acw_seconds=round(acw_time.total_seconds()),
        customer_id=ix.customer_id,
        queue_id=ix.queue_id,
        channel=ix.channel,
        linked_interaction_id=ix.linked_interaction_id,
        end_cause=ix.end_cause,
        acw_mode=ix.acw_mode,
        ended_at=ix.ended_at,
        closed_at=closed_at,
    )
    return closed, [Emit(EVENT_INTERACTION_CLOSED, ix.interaction_id, event)]


# ---------------------------------------------------------------------------------------------------
# Dispositions during ACW
# ---------------------------------------------------------------------------------------------------


def _clean_description(description: str | None) -> str | None:
    if description is None or not description.strip():
        return None
    cleaned = description.strip()
    if len(cleaned) > MAX_DESCRIPTION_CHARS:
        raise DescriptionTooLong(
            f"description is {len(cleaned)} characters, at most {MAX_DESCRIPTION_CHARS} allowed"
        )
    return cleaned


def _validate_choices(
    dset: DispositionSet, catalogue: Catalogue, choices: Mapping[str, str]
) -> dict[str, DispositionCode]:
    unknown_fields = sorted(name for name in choices if dset.field(name) is None)
    if unknown_fields:
        raise UnknownDispositionField(
            f"set {dset.set_id!r} has no field(s): " + ", ".join(repr(n) for n in unknown_fields)
        )
    chosen: dict[str, DispositionCode] = {}
    for fld in dset.fields:
        if fld.name not in choices:
            continue
        code = choices[fld.name]
        found = dset.find_code(code)
        if found is None:
            if any(other.find_code(code) is not None for other in catalogue.sets.values()):
                raise CodeNotInSet(f"code {code!r} belongs to another queue's disposition set")
            raise UnknownDispositionCode(f"unknown disposition code {code[:MAX_CODE_CHARS]!r}")
        owner, entry = found
        if owner.name != fld.name:
            raise CodeNotInField(f"code {code!r} belongs to field {owner.name!r}, not {fld.name!r}")
        if entry.retired:
            raise RetiredDispositionCode(f"code {code!r} is retired and can no longer be chosen")
        chosen[fld.name] = entry
    return chosen


def _check_in_acw(ix: InteractionAcw, agent_id: str) -> None:
    if ix.agent_id is None or ix.agent_id != agent_id:
        raise NotAssignedAgent(f"only the assigned agent can dispose interaction {ix.interaction_id}")
    if ix.status is Status.CLOSED:
        raise AlreadyClosed(f"interaction {ix.interaction_id} is already closed")
    if ix.status is Status.LIVE:
        raise NotEnded(f"interaction {ix.interaction_id} is still live: end it first")


def save_draft(
    ix: InteractionAcw,
    catalogue: Catalogue,
    agent_id: str,
    choices: Mapping[str, str],
    description: str | None,
    now: datetime,
) -> Outcome:
    """Keep partial choices; an expiry keeps them and fills only what is still empty."""
    _aware(now, "now")
    _check_in_acw(ix, agent_id)
    assert ix.disposition_set_id is not None
    dset = catalogue.disposition_set(ix.disposition_set_id)
    merged = {**ix.draft_choices, **choices}
    _validate_choices(dset, catalogue, merged)
    cleaned = _clean_description(description) if description is not None else ix.draft_description
    return replace(ix, draft=tuple(merged.items()), draft_description=cleaned), []


def submit_dispositions(
    ix: InteractionAcw,
    catalogue: Catalogue,
    agent_id: str,
    choices: Mapping[str, str],
    description: str | None,
    now: datetime,
) -> Outcome:
    """Close: allowed once every required field holds a selectable code (choices override the draft)."""
    at = _aware(now, "now")
    _check_in_acw(ix, agent_id)
    assert ix.disposition_set_id is not None
    dset = catalogue.disposition_set(ix.disposition_set_id)
    merged = {**ix.draft_choices, **choices}
    chosen = _validate_choices(dset, catalogue, merged)
    missing = [name for name in dset.required_fields() if name not in chosen]
    if missing:
        raise DispositionsIncomplete(missing)
    cleaned = _clean_description(description) if description is not None else ix.draft_description
    dispositions = tuple(ChosenDisposition(name, code.code, code.label) for name, code in chosen.items())
    decisions: list[Decision] = []
    if ix.acw_mode is AcwMode.TIMED:
        decisions.append(CancelTimer(TIMER_ACW_EXPIRY, ix.interaction_id))
    released, release = _release_slot(ix)
    closed, closing = _close(released, ClosedBy.AGENT, dispositions, cleaned, at)
    return closed, decisions + release + closing


def _system_generated(field_name: str) -> ChosenDisposition:
    return ChosenDisposition(field_name, SYSTEM_GENERATED_CODE, SYSTEM_GENERATED_LABEL, system_generated=True)


def expire(ix: InteractionAcw, catalogue: Catalogue, now: datetime) -> Outcome:
    """The ACW timer fired. Idempotent: a second or late firing after closing changes nothing."""
    at = _aware(now, "now")
    if ix.status is not Status.ACW or ix.acw_mode is not AcwMode.TIMED or ix.acw_due_at is None:
        return ix, []
    if at < ix.acw_due_at:
        # Fired early (clock skew between pollers): put the timer back rather than lose the deadline.
        return ix, [ScheduleTimer(TIMER_ACW_EXPIRY, ix.interaction_id, ix.acw_due_at)]
    assert ix.disposition_set_id is not None
    assert ix.agent_id is not None
    # The timer handler must always be able to close, so it reads the set leniently: codes are never
    # deleted, and a draft code retired after it was picked is kept as the agent picked it.
    dset = catalogue.sets.get(ix.disposition_set_id)
    draft = ix.draft_choices
    dispositions: list[ChosenDisposition] = []
    filled: list[str] = []
    fields = dset.fields if dset is not None else ()
    for fld in fields:
        code = draft.get(fld.name)
        entry = fld.code(code) if code is not None else None
        if entry is not None:
            dispositions.append(ChosenDisposition(fld.name, entry.code, entry.label))
        elif fld.required:
            dispositions.append(_system_generated(fld.name))
            filled.append(fld.name)
    if dset is None:
        filled.append(STATUS_FIELD)
        dispositions.append(_system_generated(STATUS_FIELD))
    released, release = _release_slot(ix)
    closed, closing = _close(released, ClosedBy.SYSTEM, tuple(dispositions), ix.draft_description, at)
    expired = Emit(
        EVENT_ACW_EXPIRED,
        ix.interaction_id,
        AcwExpired(
            interaction_id=ix.interaction_id,
            agent_id=ix.agent_id,
            deadline=ix.acw_due_at,
            expired_at=at,
            system_generated_fields=tuple(filled),
            message=EXPIRY_MESSAGE,
        ),
    )
    return closed, [*release, *closing, expired]


# ---------------------------------------------------------------------------------------------------
# Notes
# ---------------------------------------------------------------------------------------------------


def _note_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidNote("a note needs some text")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise InvalidNote(f"a note is at most {MAX_NOTE_CHARS} characters, got {len(cleaned)}")
    return cleaned


def check_can_add_note(ix: InteractionAcw, author_id: str) -> None:
    """Notes are written by the agent holding the interaction, while it is live or in after-call work."""
    if ix.agent_id is None or ix.agent_id != author_id:
        raise NotAssignedAgent(f"only the assigned agent can add notes to interaction {ix.interaction_id}")
    if ix.status is Status.CLOSED:
        raise AlreadyClosed(f"interaction {ix.interaction_id} is closed; its notes are part of the record")


def add_note(
    *,
    note_id: str,
    interaction_id: str,
    customer_id: str,
    author_id: str,
    kind: NoteKind,
    text: str,
    now: datetime,
) -> tuple[Note, list[Decision]]:
    note = Note(
        note_id=note_id,
        interaction_id=interaction_id,
        customer_id=customer_id,
        author_id=author_id,
        kind=NoteKind(kind),
        text=_note_text(text),
        created_at=_aware(now, "now"),
    )
    return note, [Emit(EVENT_NOTE_ADDED, interaction_id, note)]


def edit_note(
    note: Note, editor_id: str, text: str, now: datetime, *, kind: NoteKind | None = None
) -> tuple[Note, list[Decision]]:
    """Only the author edits a note. There is deliberately no delete: notes are part of the record."""
    at = _aware(now, "now")
    if editor_id != note.author_id:
        raise NotNoteAuthor(f"only the author can edit note {note.note_id}")
    new_text = _note_text(text)
    new_kind = NoteKind(kind) if kind is not None else note.kind
    if new_text == note.text and new_kind is note.kind:
        return note, []
    edited = replace(note, text=new_text, kind=new_kind, edited_at=max(at, note.created_at))
    return edited, [Emit(EVENT_NOTE_EDITED, note.interaction_id, edited)]


def notes_for_interaction(notes: Iterable[Note], interaction_id: str, customer_id: str) -> list[Note]:
    """This interaction's notes plus those left on the same customer's other interactions, newest first."""
    selected = [n for n in notes if n.interaction_id == interaction_id or n.customer_id == customer_id]
    return sorted(selected, key=lambda n: (n.created_at, n.note_id), reverse=True)
