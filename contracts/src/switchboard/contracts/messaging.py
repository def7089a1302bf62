"""Payloads messaging publishes: chat conversations, their messages and delivery states, typing."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from switchboard.contracts.common import MAX_ATTACHMENTS, DisplayName, Intent, Party
from switchboard.contracts.envelope import Payload

MAX_MESSAGE_CHARS = 10_000


class BotTurn(Payload):
    """One line of the bot conversation that preceded the hand-off to a live agent."""

    role: Literal["bot", "customer"] = Field(description="Who wrote the line")
    text: str = Field(max_length=MAX_MESSAGE_CHARS, description="What was written, card numbers masked")
    at: AwareDatetime = Field(description="When it was written")


class ConversationStarted(Payload):
    """A customer asked for a live agent in chat; routing queues the interaction from this."""

    interaction_id: UUID = Field(description="The new chat interaction")
    customer_id: UUID = Field(description="The customer")
    customer_name: DisplayName | None = Field(
        default=None, description="Display name, when the customer gave one"
    )
    channel: Literal["chat"] = Field(default="chat", description="Always chat on this topic")
    intent: Intent | None = Field(default=None, description="The customer's primary purpose, when detected")
    queue_hint: str | None = Field(
        default=None, min_length=1, max_length=200, description="Queue suggested by the bot or entry point"
    )
    bot_transcript: tuple[BotTurn, ...] = Field(
        default=(), max_length=500, description="The bot conversation before the hand-off, oldest first"
    )


class ConversationEnded(Payload):
    """The chat conversation is over; no message can be sent or resent afterwards."""

    interaction_id: UUID = Field(description="The chat interaction that ended")
    ended_by: Party = Field(description="Who ended it")


class SenderRole(StrEnum):
    """Which side of the conversation wrote a message."""

    AGENT = "agent"
    CUSTOMER = "customer"


class ChatMessageSent(Payload):
    """A chat message was accepted and stored; it is in the transcript from now on."""

    message_id: UUID = Field(description="The message, assigned by messaging")
    client_id: str = Field(
        min_length=1,
        max_length=100,
        description="Idempotency key the sender's client chose; a resend carries the same one",
    )
    interaction_id: UUID = Field(description="The chat interaction")
    seq: int = Field(ge=1, description="Position in the transcript, gap-free from 1")
    sender_role: SenderRole = Field(description="Which side wrote it")
    sender_id: UUID = Field(description="The agent or customer who wrote it")
    text: str = Field(
        default="", max_length=MAX_MESSAGE_CHARS, description="The message text, card numbers already masked"
    )
    attachment_ids: tuple[UUID, ...] = Field(
        default=(), max_length=MAX_ATTACHMENTS, description="Attachments uploaded to messaging beforehand"
    )
    sent_at: AwareDatetime = Field(
        description="When messaging accepted it; the console stacks timestamps on this"
    )
    attempt: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Send attempt: 1 when first sent, one more on each resend of a Not Delivered message",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.text.strip() and not self.attachment_ids:
            raise ValueError("a message needs text or at least one attachment")
        return self


class ChatMessageDelivered(Payload):
    """The recipient's client received the message ("Sent" in the console)."""

    interaction_id: UUID = Field(description="The chat interaction")
    message_id: UUID = Field(description="The message delivered")


class NotDeliveredReason(StrEnum):
    """Why a message did not reach the recipient."""

    RECIPIENT_DISCONNECTED = "recipient_disconnected"
    CONVERSATION_TERMINATED = "conversation_terminated"


class ChatMessageNotDelivered(Payload):
    """The message could not be delivered; it stays out of the transcript unless resent successfully."""

    interaction_id: UUID = Field(description="The chat interaction")
    message_id: UUID = Field(description="The message that was not delivered")
    client_id: str = Field(min_length=1, max_length=100, description="Idempotency key to resend it with")
    reason: NotDeliveredReason = Field(description="Why it was not delivered")
    resend_allowed: bool = Field(description="False once the conversation is terminated")


class ChatMessageRead(Payload):
    """The recipient read every message up to and including ``up_to_seq``."""

    interaction_id: UUID = Field(description="The chat interaction")
    message_id: UUID = Field(description="The newest message read; the console shows the read status on it")
    up_to_seq: int = Field(ge=1, description="Sequence number of that message")
    reader_role: SenderRole = Field(description="Which side read it")


class ChatMessageSentimentScored(Payload):
    """A customer message was scored for sentiment; routing averages these for the arrival summary."""

    interaction_id: UUID = Field(description="The chat interaction")
    message_id: UUID = Field(description="The customer message scored")
    score: float = Field(ge=-1.0, le=1.0, description="-1 very negative, 0 neutral, 1 very positive")
    model: str = Field(min_length=1, max_length=100, description="Which sentiment model produced the score")


class ChatTyping(Payload):
    """Someone is typing. Ephemeral: never stored, and meaningless after ``expires_at``."""

    interaction_id: UUID = Field(description="The chat interaction")
    role: SenderRole = Field(description="Which side is typing")
    sender_id: UUID = Field(description="The agent or customer typing")
    expires_at: AwareDatetime = Field(description="Hide the indicator after this unless refreshed")


class ChatReactionChanged(Payload):
    """A participant added or took back an emoji reaction on a message."""

    interaction_id: UUID = Field(description="The chat interaction")
    message_id: UUID = Field(description="The message reacted to")
    emoji: str = Field(min_length=1, max_length=16, description="One emoji or emoji sequence")
    participant_role: SenderRole = Field(description="Which side reacted")
    participant_id: UUID = Field(description="The agent or customer who reacted")
    added: bool = Field(description="True when the reaction was added, False when it was taken back")


class ChatFormRequested(Payload):
    """The agent sent the customer a secure form. The form's single-use token never travels on a topic:
    the customer's widget fetches it from messaging with the customer's own credentials."""

    interaction_id: UUID = Field(description="The chat interaction")
    form_request_id: UUID = Field(description="This request of the form")
    form_id: UUID = Field(description="The form definition sent")
    title: str = Field(min_length=1, max_length=100, description="The form's title, shown in the chat")
    requested_by: UUID = Field(description="The agent who sent it")
    expires_at: AwareDatetime = Field(description="When the form can no longer be submitted")


class ChatFormSubmitted(Payload):
    """The customer submitted a secure form. The answers are stored encrypted by messaging and never
    published; the transcript shows them masked in the message ``message_id``."""

    interaction_id: UUID = Field(description="The chat interaction")
    form_request_id: UUID = Field(description="The request that was answered; its token is now spent")
    message_id: UUID = Field(description="The transcript message that shows the masked answers")
    field_names: tuple[str, ...] = Field(
        default=(), max_length=30, description="Names of the fields answered (never their values)"
    )
