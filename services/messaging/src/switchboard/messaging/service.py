"""Messaging's operations: each one loads state, asks the domain, and writes state + events in one
transaction through the kit's outbox. The HTTP API (api*.py) and the Kafka handlers (handlers.py) call
these; the rules themselves live in ``domain``.

Logging: never the text of a message or of a form answer — ids, sequence numbers and lengths only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from switchboard.contracts.common import Party
from switchboard.contracts.envelope import make_envelope
from switchboard.contracts.messaging import (
    BotTurn,
    ChatMessageDelivered,
    ChatMessageNotDelivered,
    ChatMessageRead,
    ChatMessageSent,
    ChatMessageSentimentScored,
    ChatReactionChanged,
    ChatTyping,
    ConversationEnded,
    ConversationStarted,
    NotDeliveredReason,
    SenderRole,
)
from switchboard.messaging.blobstore import BlobStore
from switchboard.messaging.crypto import FormCipher
from switchboard.messaging.domain import (
    ConversationTerminated,
    DeliveryState,
    Message,
    Sender,
    TypingSignal,
    TypingState,
    accept_message,
    apply_delivery_state,
    decide_typing_publish,
    end_conversation,
    mark_read_up_to,
    resend_message,
    toggle_reaction,
    typing_expires_at,
    validate_emoji,
)
from switchboard.messaging.domain.policy import (
    Actor,
    ConversationNotFound,
    Role,
    RoleNotAllowed,
    Upload,
    authorize,
    check_attachments,
    check_recipient,
)
from switchboard.messaging.models import AttachmentRow, ConversationRow, MessageRow, ReactionRow
from switchboard.messaging.providers import ComposeProvider
from switchboard.messaging.settings import MessagingSettings
from switchboard.messaging.store import (
    apply_to_row,
    conversation_row,
    message_row,
    participants,
    to_conversation,
    to_message,
)
from switchboard.runtime.context import current_correlation_id
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime

log = get_logger(__name__)

SENTIMENT_MODEL = "vader-compound"
WRITE_ATTEMPTS = 4
T = TypeVar("T")


@dataclass
class TypingLimiter:
    """The last typing signal per sender, in memory only: typing is never stored (DESIGN.md §4)."""

    min_interval: timedelta
    ttl: timedelta
    max_entries: int = 50_000
    last: dict[tuple[str, str], TypingSignal] = field(default_factory=dict)

    def decide(self, conversation_id: str, sender_id: str, state: TypingState, now: datetime) -> bool:
        key = (conversation_id, sender_id)
        decision = decide_typing_publish(
            self.last.get(key), sender_id=sender_id, state=state, now=now, min_interval=self.min_interval
        )
        self.last[key] = decision.last
        if len(self.last) > self.max_entries:
            horizon = now - self.ttl
            self.last = {k: v for k, v in self.last.items() if v.at >= horizon}
        return decision.publish


@dataclass
class Messaging:
    runtime: ServiceRuntime
    settings: MessagingSettings
    blobs: BlobStore
    cipher: FormCipher
    compose: ComposeProvider
    typing: TypingLimiter
    sentiment: SentimentIntensityAnalyzer

    # -- plumbing ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def emit(self, session: AsyncSession, data: BaseModel, *, key: str) -> None:
        self.runtime.emit(session, data, key=key)

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction; a unique-constraint race (two writers inserting the same
        client id, the same seq) rolls back and runs again, when the winner's row is visible."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self.runtime.transaction() as session:
                    return await work(session)
            except IntegrityError as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise
                # The statement, never its parameters: those may hold message text.
                log.info(
                    "write lost a uniqueness race; retrying", attempt=attempt, error=type(exc.orig).__name__
                )
                await asyncio.sleep(0.005 * attempt)
        raise AssertionError("unreachable")

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.runtime.database.sessions() as session:
            return await work(session)

    # -- conversations -----------------------------------------------------------------------------

    async def start_conversation(
        self,
        actor: Actor,
        *,
        tenant: str,
        interaction_id: str | None,
        customer_name: str | None,
        intent: str | None,
        queue_hint: str | None,
        bot_transcript: Sequence[BotTurn],
    ) -> tuple[ConversationRow, bool]:
        if actor.role is not Role.CUSTOMER:
            raise RoleNotAllowed("a conversation is started by the customer's chat widget")
        conversation_id = interaction_id or str(uuid.uuid4())

        async def work(session: AsyncSession) -> tuple[ConversationRow, bool]:
            existing = await session.get(ConversationRow, conversation_id)
            if existing is not None:
                if existing.customer_id != actor.id:
                    raise ConversationNotFound(f"conversation {conversation_id} does not exist")
                return existing, False
            now = self.now()
            row = ConversationRow(
                id=conversation_id,
                tenant=tenant,
                customer_id=actor.id,
                customer_name=customer_name,
                intent=intent,
                queue_hint=queue_hint,
                started_at=now,
            )
            session.add(row)
            self.emit(
                session,
                ConversationStarted(
                    interaction_id=UUID(conversation_id),
                    customer_id=UUID(actor.id),
                    customer_name=customer_name,
                    intent=intent,
                    queue_hint=queue_hint,
                    bot_transcript=tuple(bot_transcript),
                ),
                key=conversation_id,
            )
            return row, True

        row, created = await self.write(work)
        if created:
            log.info("conversation started", conversation_id=row.id, bot_turns=len(bot_transcript))
        return row, created

    async def conversation_for(self, conversation_id: str, actor: Actor) -> tuple[ConversationRow, Sender]:
        async def work(session: AsyncSession) -> tuple[ConversationRow, Sender]:
            row = await conversation_row(session, conversation_id)
            return row, authorize(participants(row), actor)

        return await self.read(work)

    async def end_by_customer(self, conversation_id: str, actor: Actor) -> ConversationRow:
        if actor.role is not Role.CUSTOMER:
            raise RoleNotAllowed("agents end a conversation with End in the console (after-call work)")

        async def work(session: AsyncSession) -> ConversationRow:
            row = await conversation_row(session, conversation_id, lock=True)
            authorize(participants(row), actor)
            if self._end(row, Party.CUSTOMER):
                self.emit(
                    session,
                    ConversationEnded(interaction_id=UUID(row.id), ended_by=Party.CUSTOMER),
                    key=row.id,
                )
                log.info("conversation ended by the customer", conversation_id=row.id)
            return row

        return await self.write(work)

    def _end(self, row: ConversationRow, by: Party) -> bool:
        """Mark the conversation ended; False when it already was (duplicate events, retries)."""
        ended = end_conversation(to_conversation(row), now=self.now())
        if row.ended_at is not None or ended.ended_at is None:
            return False
        row.ended_at = ended.ended_at
        row.ended_by = by.value
        return True

    async def end_from_event(self, session: AsyncSession, conversation_id: str, by: Party) -> None:
        row = await session.get(ConversationRow, conversation_id, with_for_update=True)
        if row is None:
            log.info("end of an interaction messaging does not know", interaction_id=conversation_id)
            return
        if self._end(row, by):
            log.info("conversation terminated", conversation_id=row.id, ended_by=by.value)

    # -- messages ----------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: str,
        actor: Actor,
        *,
        client_id: str,
        text: str,
        attachment_ids: Sequence[str] = (),
    ) -> tuple[MessageRow, bool]:
        async def work(session: AsyncSession) -> tuple[MessageRow, bool]:
            row = await conversation_row(session, conversation_id, lock=True)
            sender = authorize(participants(row), actor)
            existing = await session.scalar(
                select(MessageRow).where(
                    col(MessageRow.conversation_id) == conversation_id, col(MessageRow.client_id) == client_id
                )
            )
            known = (to_message(existing),) if existing is not None else ()
            message_id = str(uuid.uuid4())
            now = self.now()
            accepted = accept_message(
                to_conversation(row, known),
                client_id,
                message_id=message_id,
                sender=sender,
                sender_id=actor.id,
                text=text,
                now=now,
                attachment_ids=attachment_ids,
                max_attachments=self.settings.max_attachments,
            )
            if not accepted.created:
                assert existing is not None
                return existing, False
            uploads: list[AttachmentRow] = []
            if attachment_ids:
                uploads = list(
                    (
                        await session.scalars(
                            select(AttachmentRow).where(col(AttachmentRow.id).in_(list(attachment_ids)))
                        )
                    ).all()
                )
                check_attachments(
                    list(attachment_ids),
                    [Upload(u.id, u.conversation_id, u.uploader_id, u.message_id) for u in uploads],
                    conversation_id=conversation_id,
                    sender_id=actor.id,
                )
            message = accepted.message
            if message.sender is Sender.AGENT:
                # Stored, and its event committed to the outbox with it: the server's "Sent".
                message = apply_delivery_state(message, DeliveryState.SENT, at=now).message
            stored = self.insert_message(session, row, message, kind="text")
            for upload in uploads:
                upload.message_id = message.id
            if message.sender is Sender.CUSTOMER:
                self._score(session, message)
            return stored, True

        stored, created = await self.write(work)
        if created:
            log.info(
                "chat message accepted",
                conversation_id=conversation_id,
                message_id=stored.id,
                seq=stored.seq,
                sender_role=stored.sender_role,
                chars=len(stored.text),
                attachments=len(attachment_ids),
            )
        return stored, created

    def insert_message(
        self, session: AsyncSession, conversation: ConversationRow, message: Message, *, kind: str
    ) -> MessageRow:
        stored = MessageRow(
            id=message.id,
            conversation_id=conversation.id,
            seq=message.seq,
            client_id=message.client_id,
            sender_role=message.sender.value,
            sender_id=message.sender_id,
            text=message.text,
            state=message.state.value,
            attempt=message.attempt,
            attachment_ids=json.dumps(list(message.attachment_ids)),
            kind=kind,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )
        session.add(stored)
        conversation.last_seq = message.seq
        self._emit_sent(session, message)
        return stored

    def _emit_sent(self, session: AsyncSession, message: Message) -> None:
        self.emit(
            session,
            ChatMessageSent(
                message_id=UUID(message.id),
                client_id=message.client_id,
                interaction_id=UUID(message.conversation_id),
                seq=message.seq,
                sender_role=SenderRole(message.sender.value),
                sender_id=UUID(message.sender_id),
                text=message.text,
                attachment_ids=tuple(UUID(a) for a in message.attachment_ids),
                sent_at=message.created_at,
                attempt=message.attempt,
            ),
            key=message.conversation_id,
        )

    def _score(self, session: AsyncSession, message: Message) -> None:
        if not message.text.strip():
            return
        compound = float(self.sentiment.polarity_scores(message.text)["compound"])
        self.emit(
            session,
            ChatMessageSentimentScored(
                interaction_id=UUID(message.conversation_id),
                message_id=UUID(message.id),
                score=max(-1.0, min(1.0, compound)),
                model=SENTIMENT_MODEL,
            ),
            key=message.conversation_id,
        )

    async def resend(self, conversation_id: str, message_id: str, actor: Actor) -> MessageRow:
        async def work(session: AsyncSession) -> MessageRow:
            row = await conversation_row(session, conversation_id, lock=True)
            sender = authorize(participants(row), actor)
            if sender is not Sender.AGENT:
                raise RoleNotAllowed(
                    "only the agent's console resends; the widget retries with its client id"
                )
            stored = await message_row(session, conversation_id, message_id, lock=True)
            resent = resend_message(to_conversation(row, (to_message(stored),)), message_id, now=self.now())
            message = apply_delivery_state(resent.message, DeliveryState.SENT, at=self.now()).message
            apply_to_row(stored, message)
            self._emit_sent(session, message)
            return stored

        stored = await self.write(work)
        log.info(
            "chat message resent",
            conversation_id=conversation_id,
            message_id=message_id,
            attempt=stored.attempt,
        )
        return stored

    async def acknowledge(
        self,
        conversation_id: str,
        message_id: str,
        actor: Actor,
        observed: DeliveryState,
        *,
        attempt: int | None = None,
        reason: NotDeliveredReason = NotDeliveredReason.RECIPIENT_DISCONNECTED,
    ) -> tuple[MessageRow, bool]:
        """Delivered or Not Delivered, reported by a channel; a duplicate or late report changes nothing."""

        async def work(session: AsyncSession) -> tuple[MessageRow, bool]:
            row = await conversation_row(session, conversation_id)
            side = authorize(participants(row), actor)
            stored = await message_row(session, conversation_id, message_id, lock=True)
            if observed is not DeliveryState.NOT_DELIVERED:
                check_recipient(Sender(stored.sender_role), side)
            change = apply_delivery_state(to_message(stored), observed, at=self.now(), attempt=attempt)
            if not change.changed:
                return stored, False
            apply_to_row(stored, change.message)
            key = conversation_id
            if observed is DeliveryState.DELIVERED:
                self.emit(
                    session,
                    ChatMessageDelivered(interaction_id=UUID(conversation_id), message_id=UUID(message_id)),
                    key=key,
                )
            elif observed is DeliveryState.NOT_DELIVERED:
                live = row.ended_at is None
                self.emit(
                    session,
                    ChatMessageNotDelivered(
                        interaction_id=UUID(conversation_id),
                        message_id=UUID(message_id),
                        client_id=stored.client_id,
                        reason=reason if live else NotDeliveredReason.CONVERSATION_TERMINATED,
                        resend_allowed=live,
                    ),
                    key=key,
                )
            return stored, True

        stored, changed = await self.write(work)
        if changed:
            log.info(
                "delivery state changed",
                conversation_id=conversation_id,
                message_id=message_id,
                state=stored.state,
            )
        return stored, changed

    async def mark_read(self, conversation_id: str, message_id: str, actor: Actor) -> tuple[MessageRow, int]:
        """A read receipt: every message of the other side up to this one is Read."""

        async def work(session: AsyncSession) -> tuple[MessageRow, int]:
            row = await conversation_row(session, conversation_id)
            reader = authorize(participants(row), actor)
            target = await message_row(session, conversation_id, message_id)
            check_recipient(Sender(target.sender_role), reader)
            unread = list(
                (
                    await session.scalars(
                        select(MessageRow)
                        .where(
                            col(MessageRow.conversation_id) == conversation_id,
                            col(MessageRow.seq) <= target.seq,
                            col(MessageRow.sender_role) != reader.value,
                            col(MessageRow.state) != DeliveryState.READ.value,
                        )
                        .with_for_update()
                    )
                ).all()
            )
            by_id = {m.id: m for m in unread}
            changes = mark_read_up_to(
                [to_message(m) for m in unread], up_to_seq=target.seq, reader=reader, at=self.now()
            )
            for change in changes:
                apply_to_row(by_id[change.message.id], change.message)
            if changes:
                self.emit(
                    session,
                    ChatMessageRead(
                        interaction_id=UUID(conversation_id),
                        message_id=UUID(target.id),
                        up_to_seq=target.seq,
                        reader_role=SenderRole(reader.value),
                    ),
                    key=conversation_id,
                )
            return target, len(changes)

        return await self.write(work)

    async def react(
        self, conversation_id: str, message_id: str, actor: Actor, *, emoji: str, add: bool
    ) -> tuple[MessageRow, list[ReactionRow], bool]:
        async def work(session: AsyncSession) -> tuple[MessageRow, list[ReactionRow], bool]:
            row = await conversation_row(session, conversation_id, lock=True)
            side = authorize(participants(row), actor)
            stored = await message_row(session, conversation_id, message_id)
            reactions = await self.reactions_of(session, [message_id])
            current = reactions.get(message_id, [])
            # The domain validates the emoji and refuses once the conversation ended.
            toggled = toggle_reaction(
                to_conversation(row, (to_message(stored, current),)),
                message_id,
                emoji=emoji,
                participant_id=actor.id,
            )
            chosen = validate_emoji(emoji)
            mine = next((r for r in current if r.emoji == chosen and r.participant_id == actor.id), None)
            if toggled.added != add:
                # Already as asked: adding twice or removing what is not there changes nothing.
                return stored, current, False
            if mine is None:
                mine = ReactionRow(
                    message_id=message_id,
                    emoji=chosen,
                    participant_id=actor.id,
                    participant_role=side.value,
                    created_at=self.now(),
                )
                session.add(mine)
                current = [*current, mine]
            else:
                await session.delete(mine)
                current = [r for r in current if r is not mine]
            self.emit(
                session,
                ChatReactionChanged(
                    interaction_id=UUID(conversation_id),
                    message_id=UUID(message_id),
                    emoji=chosen,
                    participant_role=SenderRole(side.value),
                    participant_id=UUID(actor.id),
                    added=add,
                ),
                key=conversation_id,
            )
            return stored, current, True

        return await self.write(work)

    @staticmethod
    async def reactions_of(session: AsyncSession, message_ids: Sequence[str]) -> dict[str, list[ReactionRow]]:
        if not message_ids:
            return {}
        rows = (
            await session.scalars(
                select(ReactionRow).where(col(ReactionRow.message_id).in_(list(message_ids)))
            )
        ).all()
        found: dict[str, list[ReactionRow]] = {}
        for reaction in rows:
            found.setdefault(reaction.message_id, []).append(reaction)
        return found

    # -- typing ------------------------------------------------------------------------------------

    async def typing_signal(
        self, conversation_id: str, actor: Actor, state: TypingState
    ) -> tuple[bool, datetime | None]:
        """Publish a rate-limited typing signal straight to the ephemeral topic (never to the database)."""
        row, side = await self.conversation_for(conversation_id, actor)
        if row.ended_at is not None:
            raise ConversationTerminated(f"conversation {conversation_id} has ended")
        now = self.now()
        if not self.typing.decide(conversation_id, actor.id, state, now):
            return False, None
        signal = TypingSignal(actor.id, state, now)
        expires_at = typing_expires_at(signal, ttl=self.typing.ttl) if state is TypingState.TYPING else now
        data = ChatTyping(
            interaction_id=UUID(conversation_id),
            role=SenderRole(side.value),
            sender_id=UUID(actor.id),
            expires_at=expires_at,
        )
        try:
            await self._publish_ephemeral(data, key=conversation_id)
        except Exception as exc:
            # Typing is best effort: a lost indicator is refreshed by the next keystroke.
            log.warning(
                "typing signal not published", conversation_id=conversation_id, error=type(exc).__name__
            )
            self.typing.last.pop((conversation_id, actor.id), None)
            return False, None
        return True, expires_at

    async def _publish_ephemeral(self, data: BaseModel, *, key: str) -> None:
        registry = self.runtime.registry
        spec = registry.event_for(type(data))
        topic = registry.topic_of(spec.type, spec.version)
        envelope = make_envelope(
            data,
            type=spec.type,
            version=spec.version,
            source=self.runtime.name,
            key=key,
            occurred_at=self.now(),
            correlation_id=current_correlation_id(),
        )
        await self.runtime.broker.publish(
            envelope.to_bytes(),
            self.settings.topic(topic.name),
            key=key.encode(),
            headers={"event-type": spec.name, "content-type": "application/json"},
        )


def message_view(row: MessageRow, reactions: Sequence[ReactionRow] = ()) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for reaction in reactions:
        counts[reaction.emoji] = counts.get(reaction.emoji, 0) + 1
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "seq": row.seq,
        "client_id": row.client_id,
        "kind": row.kind,
        "sender_role": row.sender_role,
        "sender_id": row.sender_id,
        "text": row.text,
        "state": row.state,
        "attempt": row.attempt,
        "attachment_ids": json.loads(row.attachment_ids),
        "reactions": [
            {"emoji": emoji, "count": count}
            for emoji, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        ],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
