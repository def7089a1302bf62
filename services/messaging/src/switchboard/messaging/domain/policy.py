"""Who may act on a conversation, which uploads a message may carry, and how a submitted form reads.

Participants: a conversation has one customer and, once routing assigned it, one agent (the one routing
names in the latest ``interaction.assigned`` / ``interaction.transferred``). Only those two act on it:

* a customer who is not the conversation's customer is told it does not exist (``conversation-not-found``,
  404), so customer tokens cannot probe other people's conversation ids;
* an agent who does not hold it gets ``not-assigned-agent`` (403): agents are staff, and the console must
  learn that the conversation moved on (transfer, requeue);
* administrators manage the library and flags but do not take part in conversations (``role-not-allowed``).

Receipts: "delivered" and "read" are reported by the side that received a message; "not delivered" may
come from either side's channel (the widget failing to receive, or the console losing its network).

Attachments: a message may carry only files uploaded to the same conversation by its own sender and not
yet attached to another message; repeating an id in one message is refused too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from switchboard.messaging.domain.errors import MessagingError
from switchboard.messaging.domain.messages import Sender
from switchboard.messaging.domain.text import mask_card_numbers


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    id: str

    @property
    def sender(self) -> Sender:
        if self.role is Role.ADMIN:
            raise RoleNotAllowed("administrators do not take part in conversations")
        return Sender(self.role.value)


class ConversationNotFound(MessagingError):
    slug = "conversation-not-found"
    status = 404


class NotAssignedAgent(MessagingError):
    slug = "not-assigned-agent"
    status = 403


class RoleNotAllowed(MessagingError):
    slug = "role-not-allowed"
    status = 403


class NotRecipient(MessagingError):
    slug = "not-recipient"
    status = 403


class AttachmentNotUsable(MessagingError):
    slug = "attachment-not-usable"
    status = 422


class AttachmentInUse(MessagingError):
    slug = "attachment-in-use"
    status = 409


@dataclass(frozen=True, slots=True)
class Participants:
    conversation_id: str
    customer_id: str
    agent_id: str | None


def authorize(participants: Participants, actor: Actor) -> Sender:
    """The side ``actor`` acts for in this conversation, or the refusal described in the module doc."""
    if actor.role is Role.CUSTOMER:
        if actor.id != participants.customer_id:
            raise ConversationNotFound(f"conversation {participants.conversation_id} does not exist")
        return Sender.CUSTOMER
    if actor.role is Role.AGENT:
        if participants.agent_id is None or actor.id != participants.agent_id:
            raise NotAssignedAgent(
                f"conversation {participants.conversation_id} is not assigned to agent {actor.id}"
            )
        return Sender.AGENT
    raise RoleNotAllowed("administrators do not take part in conversations")


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise RoleNotAllowed(f"only {allowed} may do this")


def check_recipient(message_sender: Sender, acting_side: Sender) -> None:
    """Delivered and read receipts come from the side that received the message, never its sender."""
    if message_sender is acting_side:
        raise NotRecipient(f"a {acting_side} cannot acknowledge its own message")


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    conversation_id: str
    uploader_id: str
    message_id: str | None


def check_attachments(
    requested: Sequence[str], uploads: Iterable[Upload], *, conversation_id: str, sender_id: str
) -> None:
    """Refuse attachment ids the sender may not put on a new message (see the module docstring)."""
    if len(set(requested)) != len(requested):
        raise AttachmentNotUsable("an attachment is listed twice")
    known = {u.id: u for u in uploads}
    for attachment_id in requested:
        upload = known.get(attachment_id)
        if upload is None or upload.conversation_id != conversation_id or upload.uploader_id != sender_id:
            raise AttachmentNotUsable(
                f"attachment {attachment_id} was not uploaded by you to this conversation"
            )
        if upload.message_id is not None:
            raise AttachmentInUse(f"attachment {attachment_id} is already on another message")


class AttachmentNotFound(MessagingError):
    slug = "attachment-not-found"
    status = 404


def check_download(upload: Upload, *, conversation_id: str, actor_id: str) -> None:
    """A participant downloads what was sent in the conversation, and their own pending uploads; the other
    side's upload that was never sent stays private (it may have been picked by mistake)."""
    visible = upload.conversation_id == conversation_id and (
        upload.message_id is not None or upload.uploader_id == actor_id
    )
    if not visible:
        raise AttachmentNotFound(f"attachment {upload.id} is not in conversation {conversation_id}")


def form_transcript_text(title: str, lines: Iterable[tuple[str, str]]) -> str:
    """The transcript's view of a submitted secure form: the title, then ``label: value`` per answer.

    Values come from the form's storage view (CVV dropped, card fields reduced to the last four); any
    card number typed into a free-text field is masked here as well, like in a chat message.
    """
    body = "\n".join(f"{label}: {value}" for label, value in lines)
    text = f"Secure form submitted: {title}" + (f"\n{body}" if body else "")
    return mask_card_numbers(text).text
