"""Conversations, messages, delivery states, idempotent acceptance, resend and emoji reactions.

Delivery states of an agent message, in the order they can be reached within one send attempt::

    Sending(0) → Sent(1) → Not Delivered(2) → Delivered(3) → Read(4)

A state only ever moves to a higher rank, so an observation that arrives late or twice is ignored rather
than refused: the gateway and the customer's widget acknowledge at least once and out of order. Not
Delivered ranks above Sent (a failure report outranks "handed to the channel") and below Delivered (proof
that the customer received the message outranks a failure report). The only way down is an explicit resend
of a Not Delivered message, which starts a new attempt at Sending; progress is therefore the pair
``(attempt, rank)``, which strictly increases on every change.

A Not Delivered report tagged with an older attempt is stale and ignored — it describes a send that has been
superseded. A success report from any attempt is accepted: the content is the same, so the customer has it.

Customer messages exist here only once the service accepted them, so they start at Sent; Delivered and Read
then say that the agent's console received and displayed them. They are never Sending nor Not Delivered and
cannot be resent (the widget retries with the same client id instead).

``seq`` numbers messages gap-free from 1 per conversation. The service keeps client-id uniqueness and seq
order in its database; ``accept_message`` states the rule it enforces. ``Conversation.messages`` may be a
partial view: acceptance only needs the message carrying the incoming client id, if there is one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from switchboard.messaging.domain._time import as_utc
from switchboard.messaging.domain.attachments import DEFAULT_MAX_ATTACHMENTS, check_attachment_count
from switchboard.messaging.domain.errors import (
    ClientIdConflict,
    ConversationTerminated,
    InvalidClientId,
    InvalidReaction,
    InvalidStateTransition,
    MessageEmpty,
    MessageNotFound,
)
from switchboard.messaging.domain.text import DEFAULT_MAX_MESSAGE_LENGTH, prepare_text

MAX_CLIENT_ID_LENGTH = 100
MAX_REACTION_CODE_POINTS = 16


class Sender(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


class DeliveryState(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    NOT_DELIVERED = "not_delivered"
    DELIVERED = "delivered"
    READ = "read"


STATE_RANK: dict[DeliveryState, int] = {
    DeliveryState.SENDING: 0,
    DeliveryState.SENT: 1,
    DeliveryState.NOT_DELIVERED: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.READ: 4,
}

# States an acknowledgement may report, per sender side.
OBSERVABLE_STATES: dict[Sender, frozenset[DeliveryState]] = {
    Sender.AGENT: frozenset(
        {DeliveryState.SENT, DeliveryState.NOT_DELIVERED, DeliveryState.DELIVERED, DeliveryState.READ}
    ),
    Sender.CUSTOMER: frozenset({DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.READ}),
}

INITIAL_STATE: dict[Sender, DeliveryState] = {
    Sender.AGENT: DeliveryState.SENDING,
    Sender.CUSTOMER: DeliveryState.SENT,
}


def progress(state: DeliveryState, attempt: int) -> tuple[int, int]:
    """The ordering key that never decreases over a message's life."""
    return (attempt, STATE_RANK[state])


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    client_id: str
    sender: Sender
    sender_id: str
    text: str
    created_at: datetime
    state: DeliveryState
    updated_at: datetime
    attempt: int = 1
    attachment_ids: tuple[str, ...] = ()
    reactions: frozenset[Reaction] = field(default_factory=frozenset)

    @property
    def resendable(self) -> bool:
        return self.sender is Sender.AGENT and self.state is DeliveryState.NOT_DELIVERED


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    last_seq: int = 0
    ended_at: datetime | None = None
    messages: tuple[Message, ...] = ()

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def find(self, message_id: str) -> Message:
        for message in self.messages:
            if message.id == message_id:
                return message
        raise MessageNotFound(f"message {message_id} is not in conversation {self.id}")

    def find_by_client_id(self, client_id: str) -> Message | None:
        for message in self.messages:
            if message.client_id == client_id:
                return message
        return None

    def with_message(self, message: Message) -> Conversation:
        """Replace the message with the same id, or append it."""
        if any(m.id == message.id for m in self.messages):
            return replace(self, messages=tuple(message if m.id == message.id else m for m in self.messages))
        return replace(self, messages=(*self.messages, message))


@dataclass(frozen=True, slots=True)
class Accepted:
    """Result of :func:`accept_message`; ``created`` is False when the client id was already known."""

    conversation: Conversation
    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class StateChange:
    """Result of a state update; ``changed`` False means a duplicate or stale observation was ignored."""

    message: Message
    changed: bool
    previous: DeliveryState


def validate_client_id(client_id: str) -> str:
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidClientId(f"client id must be 1 to {MAX_CLIENT_ID_LENGTH} characters")
    if not client_id.isascii() or not client_id.isprintable() or client_id != client_id.strip():
        raise InvalidClientId("client id must be printable ASCII without surrounding spaces")
    return client_id


def accept_message(
    conversation: Conversation,
    client_id: str,
    *,
    message_id: str,
    sender: Sender,
    sender_id: str,
    text: str,
    now: datetime,
    attachment_ids: Sequence[str] = (),
    max_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
) -> Accepted:
    """Accept a new message, or return the one already accepted under the same client id.

    A retried request (same client id, same content) gets the original message back — even after the
    conversation ended, because the original was accepted while it was live. The same client id with
    different content is a client bug and refused (``client-id-conflict``). Text is cleaned and card numbers
    masked before anything else sees it.
    """
    validate_client_id(client_id)
    attachments = tuple(attachment_ids)
    check_attachment_count(len(attachments), max_attachments)
    prepared = prepare_text(text, max_length=max_length, allow_empty=bool(attachments))
    if not prepared and not attachments:
        raise MessageEmpty("a message needs text or at least one attachment")

    existing = conversation.find_by_client_id(client_id)
    if existing is not None:
        same = (
            existing.sender is sender
            and existing.sender_id == sender_id
            and existing.text == prepared
            and existing.attachment_ids == attachments
        )
        if not same:
            raise ClientIdConflict(f"client id {client_id!r} was already used for a different message")
        return Accepted(conversation, existing, created=False)

    if not conversation.live:
        raise ConversationTerminated(f"conversation {conversation.id} has ended; no new messages")

    at = as_utc(now)
    seq = conversation.last_seq + 1
    message = Message(
        id=message_id,
        conversation_id=conversation.id,
        seq=seq,
        client_id=client_id,
        sender=sender,
        sender_id=sender_id,
        text=prepared,
        created_at=at,
        state=INITIAL_STATE[sender],
        updated_at=at,
        attachment_ids=attachments,
    )
    updated = replace(conversation, last_seq=seq, messages=(*conversation.messages, message))
    return Accepted(updated, message, created=True)


def apply_delivery_state(
    message: Message, observed: DeliveryState, *, at: datetime, attempt: int | None = None
) -> StateChange:
    """Apply an acknowledgement idempotently: only a move forward changes anything.

    ``attempt`` is the send attempt the acknowledgement is about, when the reporter knows it. A report about
    an attempt that never happened, or a state that side can never report, is refused: that is a bug in the
    reporter, not a race.
    """
    moment = as_utc(at, "at")
    if observed not in OBSERVABLE_STATES[message.sender]:
        raise InvalidStateTransition(f"a {message.sender} message cannot be reported as {observed}")
    if attempt is not None and not 1 <= attempt <= message.attempt:
        raise InvalidStateTransition(f"message {message.id} has no send attempt {attempt}")
    unchanged = StateChange(message, changed=False, previous=message.state)
    stale_failure = (
        observed is DeliveryState.NOT_DELIVERED and attempt is not None and attempt < message.attempt
    )
    if stale_failure or STATE_RANK[observed] <= STATE_RANK[message.state]:
        return unchanged
    return StateChange(
        replace(message, state=observed, updated_at=moment), changed=True, previous=message.state
    )


def mark_read_up_to(
    messages: Iterable[Message], *, up_to_seq: int, reader: Sender, at: datetime
) -> list[StateChange]:
    """A read receipt covers every message of the other side up to ``up_to_seq`` (only changes returned)."""
    changes: list[StateChange] = []
    for message in messages:
        if message.seq <= up_to_seq and message.sender is not reader:
            change = apply_delivery_state(message, DeliveryState.READ, at=at)
            if change.changed:
                changes.append(change)
    return changes


@dataclass(frozen=True, slots=True)
class Resent:
    conversation: Conversation
    message: Message  # back at Sending, with the next attempt number


def resend_message(conversation: Conversation, message_id: str, *, now: datetime) -> Resent:
    """Start a new send attempt of a Not Delivered agent message.

    Refused once the conversation ended (the console hides the Resend icon then), and for any message that
    is not Not Delivered: a duplicate resend finds it already Sending or beyond and gets a 409, after which
    the console shows the current state.
    """
    message = conversation.find(message_id)
    if not conversation.live:
        raise ConversationTerminated(f"conversation {conversation.id} has ended; messages cannot be resent")
    if not message.resendable:
        raise InvalidStateTransition(
            f"message {message_id} is {message.state}; only not-delivered agent messages can be resent"
        )
    resent = replace(
        message, state=DeliveryState.SENDING, attempt=message.attempt + 1, updated_at=as_utc(now)
    )
    return Resent(conversation.with_message(resent), resent)


def end_conversation(conversation: Conversation, *, now: datetime) -> Conversation:
    """End the conversation; ending twice keeps the first end time (handlers see duplicate events)."""
    if conversation.ended_at is not None:
        return conversation
    return replace(conversation, ended_at=as_utc(now))


def visible_after_reload(message: Message) -> bool:
    """The seed: after a page refresh, undelivered messages do not appear in the transcript."""
    return message.state is not DeliveryState.NOT_DELIVERED


# Code points an emoji (including ZWJ sequences, flags, keycaps, skin tones, tag sequences) is made of.
_EMOJI_JOINERS = frozenset("\u200d\ufe0f\ufe0e\u20e3")


def validate_emoji(emoji: str) -> str:
    """Accept one emoji or emoji sequence; letters, digits alone, spaces and controls are refused."""
    value = unicodedata.normalize("NFC", emoji)
    if not value or len(value) > MAX_REACTION_CODE_POINTS:
        raise InvalidReaction("a reaction is a single emoji")
    pictographic = False
    for char in value:
        category = unicodedata.category(char)
        if category == "So":
            pictographic = True
        elif not (
            char in _EMOJI_JOINERS
            or category == "Sk"  # skin-tone modifiers
            or 0xE0020 <= ord(char) <= 0xE007F  # tag characters of subdivision flags
            or char in "0123456789#*"  # keycap bases
        ):
            raise InvalidReaction(f"U+{ord(char):04X} is not part of an emoji")
    if not pictographic and "\u20e3" not in value:
        raise InvalidReaction("a reaction is a single emoji")
    return value


@dataclass(frozen=True, slots=True)
class ReactionToggle:
    conversation: Conversation
    message: Message
    added: bool


def toggle_reaction(
    conversation: Conversation, message_id: str, *, emoji: str, participant_id: str
) -> ReactionToggle:
    """Add the participant's reaction with this emoji, or take it away if it is there (one per emoji)."""
    message = conversation.find(message_id)
    if not conversation.live:
        raise ConversationTerminated(f"conversation {conversation.id} has ended; reactions are closed")
    reaction = Reaction(validate_emoji(emoji), participant_id)
    if reaction in message.reactions:
        updated = replace(message, reactions=message.reactions - {reaction})
        added = False
    else:
        updated = replace(message, reactions=message.reactions | {reaction})
        added = True
    return ReactionToggle(conversation.with_message(updated), updated, added)


def reaction_counts(message: Message) -> list[tuple[str, int]]:
    """Emoji with how many participants chose each, most popular first, then by emoji for stability."""
    counts: dict[str, int] = {}
    for reaction in message.reactions:
        counts[reaction.emoji] = counts.get(reaction.emoji, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
