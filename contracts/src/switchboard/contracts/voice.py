"""Payloads voice publishes: calls and voicemail. Each call is an interaction of its own, even when
started from a chat, so it is closed with its own disposition."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from switchboard.contracts.common import PhoneNumber
from switchboard.contracts.envelope import Payload


class CallDirection(StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStarted(Payload):
    """A call connected."""

    interaction_id: UUID = Field(description="The call's own interaction; also the partition key")
    call_id: UUID = Field(description="The call, as voice identifies it across provider call legs")
    direction: CallDirection = Field(description="Who placed the call")
    media: Literal["audio", "video"] = Field(default="audio", description="Video only for calls from chat")
    linked_interaction_id: UUID | None = Field(
        default=None, description="The chat this call was started from, if any"
    )
    caller_id: PhoneNumber | None = Field(
        default=None,
        description="Number presented as caller: the customer's when inbound, the chosen 'Calling from' "
        "number when outbound; absent for in-app calls from chat",
    )
    dialled_number: PhoneNumber | None = Field(
        default=None, description="Number called; absent for in-app calls from chat"
    )
    agent_id: UUID | None = Field(default=None, description="The agent, when an agent placed the call")
    customer_id: UUID | None = Field(default=None, description="The customer, when known")


class CallEndReason(StrEnum):
    """How the call finished. An external transfer is blind: for the agent the call simply ends."""

    HANGUP = "hangup"
    EXTERNAL_TRANSFER = "external_transfer"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class CallEnded(Payload):
    """The call is over."""

    interaction_id: UUID = Field(description="The call's interaction")
    call_id: UUID = Field(description="The call")
    ended_by: Literal["customer", "agent", "system"] = Field(description="Who hung up, or the system")
    reason: CallEndReason = Field(description="How the call finished")
    duration_seconds: int = Field(ge=0, description="Connected time")
    recording_id: UUID | None = Field(default=None, description="The recording, when the call was recorded")


class VoicemailReceived(Payload):
    """A customer left a voicemail; routing places it in a tray or offers it, taking no inbound slot."""

    interaction_id: UUID = Field(description="The voicemail's interaction")
    recording_id: UUID = Field(description="The recording, fetched from voice to play or download")
    transcript: str | None = Field(
        default=None, max_length=20_000, description="Transcript, when transcription succeeded"
    )
    duration_seconds: int = Field(ge=0, description="Length of the recording")
    caller_id: PhoneNumber | None = Field(default=None, description="Number to call back, when presented")
    customer_id: UUID | None = Field(default=None, description="The customer, when known")
