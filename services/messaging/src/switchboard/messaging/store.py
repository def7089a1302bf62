"""Rows ↔ domain objects, and the few queries every operation shares."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.messaging.domain import (
    Conversation,
    DeliveryState,
    Message,
    MessageNotFound,
    Reaction,
    Sender,
)
from switchboard.messaging.domain.policy import ConversationNotFound, Participants
from switchboard.messaging.models import ConversationRow, MessageRow, ReactionRow


async def conversation_row(
    session: AsyncSession, conversation_id: str, *, lock: bool = False
) -> ConversationRow:
    """The conversation, row-locked on PostgreSQL when ``lock`` (SQLite writers are serialised anyway)."""
    query = select(ConversationRow).where(col(ConversationRow.id) == conversation_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise ConversationNotFound(f"conversation {conversation_id} does not exist")
    return row


async def message_row(
    session: AsyncSession, conversation_id: str, message_id: str, *, lock: bool = False
) -> MessageRow:
    query = select(MessageRow).where(
        col(MessageRow.id) == message_id, col(MessageRow.conversation_id) == conversation_id
    )
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise MessageNotFound(f"message {message_id} is not in conversation {conversation_id}")
    return row


def participants(row: ConversationRow) -> Participants:
    return Participants(conversation_id=row.id, customer_id=row.customer_id, agent_id=row.agent_id)


def attachment_ids(row: MessageRow) -> tuple[str, ...]:
    return tuple(json.loads(row.attachment_ids))


def to_message(row: MessageRow, reactions: Iterable[ReactionRow] = ()) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        client_id=row.client_id,
        sender=Sender(row.sender_role),
        sender_id=row.sender_id,
        text=row.text,
        created_at=row.created_at,
        state=DeliveryState(row.state),
        updated_at=row.updated_at,
        attempt=row.attempt,
        attachment_ids=attachment_ids(row),
        reactions=frozenset(Reaction(r.emoji, r.participant_id) for r in reactions),
    )


def to_conversation(row: ConversationRow, messages: Iterable[Message] = ()) -> Conversation:
    return Conversation(id=row.id, last_seq=row.last_seq, ended_at=row.ended_at, messages=tuple(messages))


def apply_to_row(row: MessageRow, message: Message) -> None:
    row.state = message.state.value
    row.attempt = message.attempt
    row.updated_at = message.updated_at
