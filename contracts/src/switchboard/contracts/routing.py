"""Payloads routing publishes: agent status and sessions, and the life of an interaction in the queues.

Routing is the single writer of agent status and capacity (DESIGN.md §2, §5); every other service
learns about them only from these events.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from switchboard.contracts.common import MAX_SKILLS, Channel, DisplayName, Intent, PhoneNumber, SkillName
from switchboard.contracts.envelope import Payload


class AgentStatus(StrEnum):
    """An agent's routing status. ``away_idle`` is set by the system only, never chosen by an agent."""

    AVAILABLE = "available"
    AWAY = "away"
    AWAY_IDLE = "away_idle"
    OFFLINE = "offline"
    LOGIN_PREP = "login_prep"
    CUSTOM = "custom"


class CustomStatusTag(StrEnum):
    """What an administrator-defined custom status behaves like for routing (and for the Away warning)."""

    AVAILABLE = "available"
    AWAY = "away"


class StatusChangeReason(StrEnum):
    """Why the status changed; lets a console tell an agent's own choice from a system decision."""

    AGENT_CHOICE = "agent_choice"
    LOGIN = "login"
    LOGIN_PREP_ENDED = "login_prep_ended"
    MARK_AVAILABLE = "mark_available"
    KEEP_AWAY = "keep_away"
    UNANSWERED_OFFER = "unanswered_offer"
    UNANSWERED_REPLY = "unanswered_reply"
    LOGOUT = "logout"
    INACTIVITY = "inactivity"
    SUPERVISOR = "supervisor"


class AgentStatusChanged(Payload):
    """An agent's status changed. Login prep ending lands on ``away`` with reason ``login_prep_ended``,
    which is the console's cue to offer "Mark as Available / Keep Away"."""

    agent_id: UUID = Field(description="The agent whose status changed")
    status: AgentStatus = Field(description="The new status")
    custom_label: DisplayName | None = Field(
        default=None, description="Label of the custom status; present exactly when status is custom"
    )
    custom_tag: CustomStatusTag | None = Field(
        default=None, description="What the custom status counts as; present exactly when status is custom"
    )
    previous_status: AgentStatus | None = Field(
        default=None, description="The status before this change; absent on the first status of a session"
    )
    reason: StatusChangeReason = Field(description="Why the status changed")
    active_interactions: int = Field(
        default=0, ge=0, le=1000, description="Interactions the agent still holds when the change happened"
    )
    prompt: bool = Field(
        default=False,
        description="The 'Mark as Available / Keep Away' prompt is showing (after login prep ended)",
    )

    @model_validator(mode="after")
    def _custom_fields_match_status(self) -> Self:
        is_custom = self.status is AgentStatus.CUSTOM
        if is_custom != (self.custom_label is not None) or is_custom != (self.custom_tag is not None):
            raise ValueError("custom_label and custom_tag are required for, and only for, status 'custom'")
        return self


class AgentLoggedIn(Payload):
    """An agent logged in to the console and a routing session began."""

    agent_id: UUID = Field(description="The agent who logged in")
    session_id: UUID = Field(description="The console session; presence events carry the same id")
    agent_name: DisplayName = Field(description="Display name shown to customers and supervisors")
    login_prep_until: AwareDatetime | None = Field(
        default=None, description="End of the login-prep period, when login prep is enabled"
    )


class LogoutReason(StrEnum):
    """How the session ended. ``inactivity`` follows a sudden disconnect past the inactivity threshold."""

    AGENT = "agent"
    INACTIVITY = "inactivity"
    SUPERVISOR = "supervisor"


class AgentLoggedOut(Payload):
    """An agent's routing session ended; they hold no slots afterwards."""

    agent_id: UUID = Field(description="The agent who logged out")
    session_id: UUID = Field(description="The console session that ended")
    reason: LogoutReason = Field(description="How the session ended")
    requeued_interaction_ids: tuple[UUID, ...] = Field(
        default=(),
        max_length=1000,
        description="Interactions put back in their queues because the agent was gone (inactivity only)",
    )


class InteractionQueued(Payload):
    """An interaction entered a queue and waits for an agent with the required skills."""

    interaction_id: UUID = Field(description="The interaction; also the partition key")
    channel: Channel = Field(description="Medium the interaction arrived on")
    queue_id: UUID = Field(description="Queue it waits in")
    customer_id: UUID | None = Field(default=None, description="The customer, when known")
    intent: Intent | None = Field(default=None, description="The customer's primary purpose, when detected")
    required_skills: tuple[SkillName, ...] = Field(
        default=(), max_length=MAX_SKILLS, description="Skills an agent needs to be offered this interaction"
    )
    priority: int = Field(ge=1, le=10, description="1 is the lowest priority, 10 the highest")


class InteractionOffered(Payload):
    """An interaction was offered to one agent, who must accept before ``expires_at``."""

    interaction_id: UUID = Field(description="The interaction offered")
    agent_id: UUID = Field(description="The agent it is offered to")
    channel: Channel = Field(description="Medium of the interaction")
    queue_id: UUID = Field(description="Queue the offer comes from")
    expires_at: AwareDatetime = Field(description="When the offer times out and the agent goes Away (Idle)")
    consumes_slot: bool = Field(
        description="Whether accepting takes a capacity slot; voicemail offers do not"
    )
    transfer_from_agent_id: UUID | None = Field(
        default=None, description="The agent transferring it, when this offer is a transfer to an agent"
    )


class ArrivalSummary(Payload):
    """What the console shows when a conversation begins (seed: Arrival Summary)."""

    agent_name: DisplayName = Field(description="The agent handling the interaction")
    summary: str = Field(
        default="",
        max_length=4000,
        description="Conversation so far, including every earlier transfer; empty when there is none",
    )
    queue_name: DisplayName = Field(description="The queue the interaction was placed in")
    wait_time_seconds: int = Field(ge=0, description="How long the customer waited for an agent")
    intent: Intent | None = Field(default=None, description="The customer's primary purpose, when detected")
    avg_sentiment: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="Average customer sentiment so far, -1 to 1, when scored"
    )


class InteractionAssigned(Payload):
    """An agent holds the interaction: accepted, or auto-answered."""

    interaction_id: UUID = Field(description="The interaction assigned")
    agent_id: UUID = Field(description="The agent who now holds it")
    channel: Channel = Field(description="Medium of the interaction")
    queue_id: UUID = Field(description="Queue it was assigned from")
    auto_answer: bool = Field(
        description="Assigned without acceptance; Transfer and End stay hidden until the first agent message"
    )
    arrival: ArrivalSummary = Field(description="The arrival summary the console shows")
    first_reply_required: bool = Field(
        default=False,
        description="Transfer and End stay hidden until the agent's first message (auto-answered chat)",
    )


class InteractionOfferTimedOut(Payload):
    """The agent did not accept the offer in time; routing sets them Away (Idle) and offers elsewhere."""

    interaction_id: UUID = Field(description="The interaction whose offer expired")
    agent_id: UUID = Field(description="The agent who did not accept")
    queue_id: UUID = Field(description="Queue the offer came from")


class RequeueReason(StrEnum):
    """Why an interaction went back to its queue."""

    OFFER_TIMED_OUT = "offer_timed_out"
    AGENT_INACTIVE = "agent_inactive"
    REPLY_TIMED_OUT = "reply_timed_out"


class InteractionRequeued(Payload):
    """An interaction went back to a queue to be offered again."""

    interaction_id: UUID = Field(description="The interaction requeued")
    queue_id: UUID = Field(description="Queue it waits in again")
    previous_agent_id: UUID | None = Field(default=None, description="The agent it left, if any")
    reason: RequeueReason = Field(description="Why it was requeued")


class NoAgentsReason(StrEnum):
    """Why no agent will take the interaction."""

    MAX_WAIT = "max_wait"
    QUEUE_OFFLINE = "queue_offline"


class InteractionNoAgentsAvailable(Payload):
    """The queue's maximum wait passed with no agent matching the required skills (or the queue was
    outside its hours of operation when the interaction arrived); the interaction ends."""

    interaction_id: UUID = Field(description="The interaction that timed out")
    queue_id: UUID = Field(description="Queue it waited in")
    waited_seconds: int = Field(ge=0, description="How long it waited")
    required_skills: tuple[SkillName, ...] = Field(
        default=(), max_length=MAX_SKILLS, description="Skills no available agent had"
    )
    reason: NoAgentsReason | None = Field(
        default=None, description="Maximum wait passed, or the queue was closed on arrival"
    )


class TransferTarget(StrEnum):
    """Where a transfer goes. External contacts are a voice blind transfer, not a routing transfer."""

    QUEUE = "queue"
    AGENT = "agent"


class _TransferFields(Payload):
    interaction_id: UUID = Field(description="The interaction being transferred")
    transfer_id: UUID = Field(description="Identifies this transfer across requested/transferred/dropped")
    from_agent_id: UUID = Field(description="The agent handing the interaction over")
    target: TransferTarget = Field(description="Whether it goes to a queue or to an agent")
    to_queue_id: UUID | None = Field(
        default=None, description="Destination queue; present for a queue target"
    )
    to_agent_id: UUID | None = Field(
        default=None, description="Destination agent; present for an agent target"
    )
    required_skills: tuple[SkillName, ...] = Field(
        default=(),
        max_length=MAX_SKILLS,
        description="Skills required at the destination, after the agent added or deleted any",
    )

    @model_validator(mode="after")
    def _destination_matches_target(self) -> Self:
        if self.target is TransferTarget.QUEUE and (self.to_queue_id is None or self.to_agent_id is not None):
            raise ValueError("a queue transfer needs to_queue_id and no to_agent_id")
        if self.target is TransferTarget.AGENT and (self.to_agent_id is None or self.to_queue_id is not None):
            raise ValueError("an agent transfer needs to_agent_id and no to_queue_id")
        return self


class InteractionTransferRequested(_TransferFields):
    """An agent asked to transfer an interaction; the destination was open and valid at that moment."""


class InteractionTransferred(_TransferFields):
    """The transfer completed; the interaction now waits at, or is held by, the destination."""


class TransferDropReason(StrEnum):
    """Why a requested transfer did not complete."""

    CUSTOMER_ENDED = "customer_ended"
    NO_AGENTS_AVAILABLE = "no_agents_available"
    INTERACTION_ENDED = "interaction_ended"


class InteractionTransferDropped(Payload):
    """A requested transfer was abandoned; the interaction is assigned to no queue or agent."""

    interaction_id: UUID = Field(description="The interaction whose transfer was dropped")
    transfer_id: UUID = Field(description="The transfer that was dropped")
    reason: TransferDropReason = Field(description="Why it was dropped")


class InteractionSnoozed(Payload):
    """The agent snoozed the interaction: its slot is free and the handle-time clock is paused."""

    interaction_id: UUID = Field(description="The interaction snoozed")
    agent_id: UUID = Field(description="The agent who snoozed it")
    until: AwareDatetime = Field(description="When it wakes up on its own")


class UnsnoozeReason(StrEnum):
    """What woke a snoozed interaction."""

    TIMER_ELAPSED = "timer_elapsed"
    AGENT = "agent"
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_MESSAGE = "agent_message"
    SLOT_FREED = "slot_freed"


class InteractionUnsnoozed(Payload):
    """A snoozed interaction is live again: it retakes a slot and the handle-time clock resumes."""

    interaction_id: UUID = Field(description="The interaction woken")
    agent_id: UUID = Field(description="The agent who holds it")
    reason: UnsnoozeReason = Field(description="What woke it")


class SlotReleaseReason(StrEnum):
    """Why a capacity slot was freed."""

    ACW_IMMEDIATE = "acw_immediate"
    ACW_SUBMITTED = "acw_submitted"
    ACW_EXPIRED = "acw_expired"
    ACW_DISABLED = "acw_disabled"
    SNOOZED = "snoozed"
    TRANSFERRED = "transferred"
    REQUEUED = "requeued"
    LOGGED_OUT = "logged_out"


class SlotReleased(Payload):
    """One of an agent's capacity slots for a channel became free."""

    agent_id: UUID = Field(description="The agent whose slot was freed")
    channel: Literal["chat", "voice", "email"] = Field(
        description="Channel of the slot; voicemail never holds one"
    )
    interaction_id: UUID = Field(description="The interaction that held the slot")
    reason: SlotReleaseReason = Field(description="Why the slot was freed")


class OfferWithdrawReason(StrEnum):
    """Why a pending offer was taken back (an unanswered offer is ``interaction.offer_timed_out``)."""

    REJECTED = "rejected"
    AGENT_UNAVAILABLE = "agent_unavailable"
    PRESENCE_LOST = "presence_lost"
    ENDED = "ended"


class InteractionOfferWithdrawn(Payload):
    """A pending offer was taken back; the console removes it. Unless the interaction ended, it waits in
    its queue again (at the front) for the next agent."""

    interaction_id: UUID = Field(description="The interaction whose offer was withdrawn")
    agent_id: UUID = Field(description="The agent it had been offered to")
    queue_id: UUID = Field(description="Queue the offer came from")
    reason: OfferWithdrawReason = Field(description="Why the offer was withdrawn")


class InteractionSkillsChanged(Payload):
    """The agent changed the skills of a live interaction (skill modification on live interactions)."""

    interaction_id: UUID = Field(description="The interaction")
    agent_id: UUID = Field(description="The agent who changed them")
    required_skills: tuple[SkillName, ...] = Field(
        default=(), max_length=MAX_SKILLS, description="The interaction's own skills after the change"
    )


class InteractionFirstReplySent(Payload):
    """The assigned agent sent their first message: an auto-answered conversation shows Transfer and End
    from now on, and the first-reply clock stops."""

    interaction_id: UUID = Field(description="The interaction")
    agent_id: UUID = Field(description="The agent who replied")


class InteractionExternalTransferRequested(Payload):
    """An agent asked for a blind transfer of a call to an external contact. Voice carries it out; for
    the agent the call ends like any other and goes to after-call work."""

    interaction_id: UUID = Field(description="The call's interaction")
    agent_id: UUID = Field(description="The agent transferring it")
    contact_id: str = Field(min_length=1, max_length=200, description="The external contact chosen")
    contact_name: DisplayName = Field(description="The contact's display name")
    number: PhoneNumber = Field(description="Number to transfer the call to")
