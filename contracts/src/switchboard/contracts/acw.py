"""Payloads acw publishes: ending an interaction, after-call work, dispositions and notes."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from switchboard.contracts.common import Channel, Party
from switchboard.contracts.envelope import Payload


class InteractionEndRequested(Payload):
    """An agent confirmed End; the channel's service terminates the conversation or call."""

    interaction_id: UUID = Field(description="The interaction to end")
    agent_id: UUID = Field(description="The agent who confirmed")
    channel: Channel = Field(description="Medium of the interaction, so only its service acts")


class EndCause(StrEnum):
    """What ended the interaction: the agent's confirmed End, the customer leaving, a hang-up, or a
    blind transfer of the call to an external contact (which ends it for the agent like any other)."""

    AGENT = "agent"
    CUSTOMER = "customer"
    HANG_UP = "hang_up"
    EXTERNAL_TRANSFER = "external_transfer"


class InteractionEnded(Payload):
    """The customer-facing part of the interaction is over; after-call work may follow."""

    interaction_id: UUID = Field(description="The interaction that ended")
    channel: Channel = Field(description="Medium of the interaction")
    ended_by: Party = Field(description="Who ended it")
    agent_id: UUID | None = Field(default=None, description="The agent who held it, if any")
    queue_id: UUID | None = Field(
        default=None, description="The final queue, whose ACW mode applies after transfers"
    )
    customer_id: UUID | None = Field(default=None, description="The customer, when known")
    linked_interaction_id: UUID | None = Field(
        default=None, description="The chat a call was started from; each is closed separately"
    )
    end_cause: EndCause | None = Field(default=None, description="What ended it")
    ended_at: AwareDatetime | None = Field(default=None, description="When it ended")


class AcwMode(StrEnum):
    """The final queue's after-call-work mode."""

    IMMEDIATE = "immediate"
    TIMED = "timed"
    DISABLED = "disabled"


class AcwStarted(Payload):
    """After-call work began. ``immediate`` frees the slot now; ``timed`` frees it on submit or at the
    deadline; ``disabled`` closes the interaction at once with no disposition."""

    interaction_id: UUID = Field(description="The interaction in after-call work")
    agent_id: UUID = Field(description="The agent doing the work")
    mode: AcwMode = Field(description="How the slot is released and whether a deadline applies")
    deadline: AwareDatetime | None = Field(
        default=None, description="When timed ACW expires; present exactly when mode is timed"
    )
    disposition_set_id: UUID | None = Field(
        default=None, description="Disposition set to fill; absent when ACW is disabled"
    )
    queue_id: UUID | None = Field(
        default=None, description="The final queue, whose mode and disposition set apply"
    )

    @model_validator(mode="after")
    def _deadline_matches_mode(self) -> Self:
        if (self.mode is AcwMode.TIMED) != (self.deadline is not None):
            raise ValueError("deadline is required for, and only for, mode 'timed'")
        return self


class AcwExpired(Payload):
    """The timed ACW deadline passed; empty fields get the system-generated code and the slot is freed."""

    interaction_id: UUID = Field(description="The interaction whose ACW expired")
    agent_id: UUID = Field(description="The agent who did not submit in time")
    deadline: AwareDatetime = Field(description="The deadline that passed")
    expired_at: AwareDatetime | None = Field(default=None, description="When the expiry was handled")
    system_generated_fields: tuple[str, ...] = Field(
        default=(), max_length=50, description="Required fields that were empty and got the system code"
    )
    message: str | None = Field(
        default=None, max_length=1000, description="The message the console shows the agent"
    )


class DispositionCode(Payload):
    """One chosen code for one field of the disposition set."""

    field: str = Field(min_length=1, max_length=100, description="Disposition field, e.g. status")
    code: str = Field(min_length=1, max_length=100, description="Chosen code, e.g. resolved")
    system_generated: bool = Field(
        default=False, description="Filled by the system because the field was empty at expiry"
    )
    label: str | None = Field(
        default=None, max_length=200, description="The code's label when it was chosen, for reports"
    )


class InteractionClosed(Payload):
    """The interaction is closed for good, with its disposition. Emitted exactly once per interaction."""

    interaction_id: UUID = Field(description="The interaction closed")
    agent_id: UUID | None = Field(default=None, description="The agent who held it, if any")
    codes: tuple[DispositionCode, ...] = Field(
        default=(), max_length=50, description="Disposition codes; empty when ACW was disabled"
    )
    description: str | None = Field(
        default=None, max_length=2000, description="The agent's reason for the disposition"
    )
    closed_by: Literal["agent", "system"] = Field(description="The agent submitting, or the system at expiry")
    handle_time_seconds: int = Field(ge=0, description="Time handled, snoozed periods excluded")
    acw_seconds: int = Field(ge=0, description="Time spent in after-call work")
    customer_id: UUID | None = Field(default=None, description="The customer, when known")
    queue_id: UUID | None = Field(default=None, description="The final queue")
    channel: Channel | None = Field(default=None, description="Medium of the interaction")
    linked_interaction_id: UUID | None = Field(
        default=None, description="The chat a call was started from; each is closed separately"
    )
    end_cause: EndCause | None = Field(default=None, description="What ended it")
    acw_mode: AcwMode | None = Field(default=None, description="The final queue's ACW mode")
    ended_at: AwareDatetime | None = Field(default=None, description="When the interaction ended")
    closed_at: AwareDatetime | None = Field(default=None, description="When it was closed")


class NoteKind(StrEnum):
    """What a note records (seed: customer feedback, key points, next action, suggestions)."""

    CUSTOMER_FEEDBACK = "customer_feedback"
    KEY_POINTS = "key_points"
    NEXT_ACTION = "next_action"
    SUGGESTION = "suggestion"
    GENERAL = "general"


class NoteAdded(Payload):
    """An agent saved a note on an interaction; it is shown again on the customer's later interactions."""

    note_id: UUID = Field(description="The note")
    interaction_id: UUID = Field(description="The interaction it was written on")
    customer_id: UUID | None = Field(default=None, description="The customer, so later interactions find it")
    author_id: UUID = Field(description="The agent who wrote it")
    text: str = Field(min_length=1, max_length=5000, description="The note")
    kind: NoteKind | None = Field(default=None, description="What the note records")
    created_at: AwareDatetime | None = Field(default=None, description="When it was saved")


class NoteEdited(Payload):
    """The author changed a note's text or kind. Notes are never deleted: they are part of the record."""

    note_id: UUID = Field(description="The note")
    interaction_id: UUID = Field(description="The interaction it was written on")
    customer_id: UUID | None = Field(default=None, description="The customer, when known")
    author_id: UUID = Field(description="The agent who wrote it, the only one who may edit it")
    text: str = Field(min_length=1, max_length=5000, description="The note as it reads now")
    kind: NoteKind = Field(description="What the note records")
    created_at: AwareDatetime = Field(description="When it was first saved")
    edited_at: AwareDatetime = Field(description="When it was edited")
