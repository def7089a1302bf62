"""HTTP commands and queries of the chat itself: conversations, messages, receipts, reactions, typing.

Who is acting comes from the request (``X-Actor-Role: agent|customer|admin`` and ``X-Actor-Id: <uuid>``;
the gateway will set them from its JWT) and is enforced on every conversation: only its customer and its
currently assigned agent act on it (``domain.policy``). ``X-Tenant-Id`` picks the tenant for the library
and feature flags (``default`` when absent).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.contracts.common import DisplayName, Intent
from switchboard.contracts.messaging import MAX_MESSAGE_CHARS, BotTurn, NotDeliveredReason
from switchboard.messaging.domain import (
    DeliveryState,
    MessagingError,
    TypingState,
    layout_transcript,
    prepare_text,
    visible_after_reload,
)
from switchboard.messaging.domain.policy import Actor, Role, authorize
from switchboard.messaging.models import ConversationRow, MessageRow
from switchboard.messaging.service import Messaging, message_view
from switchboard.messaging.store import conversation_row, participants, to_message
from switchboard.runtime.errors import Problem

_TENANT = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_PAGE = 200


def actor_from_headers(
    x_actor_role: Annotated[str | None, Header(max_length=20)] = None,
    x_actor_id: Annotated[str | None, Header(max_length=100)] = None,
) -> Actor:
    if not x_actor_role or not x_actor_id:
        raise Problem(
            401, "unauthenticated", detail="X-Actor-Role and X-Actor-Id say who is acting; both are required."
        )
    try:
        role = Role(x_actor_role)
        actor_id = str(UUID(x_actor_id))
    except ValueError:
        raise Problem(
            401, "unauthenticated", detail="X-Actor-Role must be agent, customer or admin; X-Actor-Id a UUID."
        ) from None
    return Actor(role, actor_id)


def tenant_from_headers(x_tenant_id: Annotated[str | None, Header(max_length=100)] = None) -> str:
    tenant = x_tenant_id or "default"
    if not _TENANT.fullmatch(tenant):
        raise Problem(422, "invalid-tenant", detail="X-Tenant-Id is 1-100 letters, digits, '.', '_' or '-'.")
    return tenant


ActorDep = Annotated[Actor, Depends(actor_from_headers)]
TenantDep = Annotated[str, Depends(tenant_from_headers)]


class StartConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interaction_id: UUID | None = Field(
        default=None, description="Chosen by the widget to make a retried start idempotent"
    )
    customer_name: DisplayName | None = None
    intent: Intent | None = None
    queue_hint: str | None = Field(default=None, min_length=1, max_length=200)
    bot_transcript: list[BotTurn] = Field(default_factory=list, max_length=500)


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=200, description="Idempotency key chosen by the client")
    # The domain enforces the real limit (message-too-long); this bound only keeps hostile input out.
    text: str = Field(default="", max_length=4 * MAX_MESSAGE_CHARS)
    attachment_ids: list[UUID] = Field(default_factory=list, max_length=50)


class NotDeliveredReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt: int | None = Field(default=None, ge=1, le=1000, description="The send attempt that failed")
    reason: NotDeliveredReason = NotDeliveredReason.RECIPIENT_DISCONNECTED


class DeliveredReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt: int | None = Field(default=None, ge=1, le=1000)


class ReactionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emoji: str = Field(min_length=1, max_length=64)
    added: bool = True


class TypingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: TypingState = TypingState.TYPING


def conversation_view(row: ConversationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "intent": row.intent,
        "agent_id": row.agent_id,
        "live": row.ended_at is None,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "ended_by": row.ended_by,
        "last_seq": row.last_seq,
    }


def _clean_bot_transcript(turns: list[BotTurn]) -> list[BotTurn]:
    """The bot's lines go through the same text rules as chat messages: masked before storage or topics."""
    cleaned = []
    for index, turn in enumerate(turns):
        try:
            text = prepare_text(turn.text, max_length=MAX_MESSAGE_CHARS, allow_empty=True)
        except MessagingError as exc:
            raise Problem(exc.status, exc.slug, detail=f"bot_transcript[{index}]: {exc.detail}") from exc
        cleaned.append(BotTurn(role=turn.role, text=text, at=turn.at))
    return cleaned


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(422, "invalid-time-zone", detail=f"{name!r} is not an IANA time zone") from None


def create_router(m: Messaging) -> APIRouter:
    router = APIRouter(tags=["chat"])

    @router.post("/conversations", status_code=status.HTTP_201_CREATED, summary="Start a chat (customer)")
    async def start(
        body: StartConversation, actor: ActorDep, tenant: TenantDep, response: Response
    ) -> dict[str, Any]:
        row, created = await m.start_conversation(
            actor,
            tenant=tenant,
            interaction_id=str(body.interaction_id) if body.interaction_id else None,
            customer_name=body.customer_name,
            intent=body.intent,
            queue_hint=body.queue_hint,
            bot_transcript=_clean_bot_transcript(body.bot_transcript),
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return conversation_view(row)

    @router.get("/conversations/{conversation_id}", summary="A conversation's participants and state")
    async def get_conversation(conversation_id: UUID, actor: ActorDep) -> dict[str, Any]:
        row, _ = await m.conversation_for(str(conversation_id), actor)
        return conversation_view(row)

    @router.post("/conversations/{conversation_id}/end", summary="The customer ends the chat")
    async def end(conversation_id: UUID, actor: ActorDep) -> dict[str, Any]:
        return conversation_view(await m.end_by_customer(str(conversation_id), actor))

    @router.post(
        "/conversations/{conversation_id}/messages",
        status_code=status.HTTP_201_CREATED,
        summary="Send a message; the same client id always yields the same message",
    )
    async def send(
        conversation_id: UUID, body: SendMessage, actor: ActorDep, response: Response
    ) -> dict[str, Any]:
        stored, created = await m.send(
            str(conversation_id),
            actor,
            client_id=body.client_id,
            text=body.text,
            attachment_ids=[str(a) for a in body.attachment_ids],
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return message_view(stored)

    @router.get("/conversations/{conversation_id}/messages", summary="The transcript, paged by sequence")
    async def transcript(
        conversation_id: UUID,
        actor: ActorDep,
        after: Annotated[int, Query(ge=0, description="Only messages with a larger seq")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        tz: Annotated[str, Query(max_length=64, description="Viewer's IANA zone for clock minutes")] = "UTC",
    ) -> dict[str, Any]:
        zone = _zone(tz)

        async def work(session: AsyncSession) -> dict[str, Any]:
            row = await conversation_row(session, str(conversation_id))
            viewer = authorize(participants(row), actor)
            # One message either side of the page decides its first stack and its last read status.
            before = await _visible(session, row.id, seq_max=after, newest_first=True, limit=1)
            page = await _visible(session, row.id, seq_min=after + 1, limit=limit + 1)
            has_more = len(page) > limit
            window = [*before, *page]
            rows = layout_transcript(
                [to_message(r) for r in window],
                viewer=viewer,
                tz=zone,
                conversation_live=row.ended_at is None,
            )
            shown = page[:limit]
            layout = {r.message_id: r for r in rows}
            reactions = await m.reactions_of(session, [r.id for r in shown])
            items = []
            for stored in shown:
                display = layout[stored.id]
                items.append(
                    {
                        **message_view(stored, reactions.get(stored.id, [])),
                        "display": {
                            "stack_id": display.stack_id,
                            "show_timestamp": display.show_timestamp,
                            "show_read_status": display.show_read_status,
                            "show_resend": display.show_resend,
                            "local_time": display.local_time.isoformat(),
                        },
                    }
                )
            return {
                "conversation_id": row.id,
                "live": row.ended_at is None,
                "messages": items,
                "next_after": shown[-1].seq if shown else after,
                "has_more": has_more,
            }

        return await m.read(work)

    @router.post(
        "/conversations/{conversation_id}/messages/{message_id}/resend",
        summary="Resend a Not Delivered message",
    )
    async def resend(conversation_id: UUID, message_id: UUID, actor: ActorDep) -> dict[str, Any]:
        return message_view(await m.resend(str(conversation_id), str(message_id), actor))

    @router.post(
        "/conversations/{conversation_id}/messages/{message_id}/delivered", summary="The recipient got it"
    )
    async def delivered(
        conversation_id: UUID, message_id: UUID, actor: ActorDep, body: DeliveredReport | None = None
    ) -> dict[str, Any]:
        stored, changed = await m.acknowledge(
            str(conversation_id),
            str(message_id),
            actor,
            DeliveryState.DELIVERED,
            attempt=body.attempt if body else None,
        )
        return {**message_view(stored), "changed": changed}

    @router.post(
        "/conversations/{conversation_id}/messages/{message_id}/not-delivered",
        summary="A channel reports that the message did not arrive",
    )
    async def not_delivered(
        conversation_id: UUID, message_id: UUID, actor: ActorDep, body: NotDeliveredReport | None = None
    ) -> dict[str, Any]:
        report = body or NotDeliveredReport()
        stored, changed = await m.acknowledge(
            str(conversation_id),
            str(message_id),
            actor,
            DeliveryState.NOT_DELIVERED,
            attempt=report.attempt,
            reason=report.reason,
        )
        return {**message_view(stored), "changed": changed}

    @router.post(
        "/conversations/{conversation_id}/messages/{message_id}/read",
        summary="Read receipt: this message and every earlier one of the other side",
    )
    async def read(conversation_id: UUID, message_id: UUID, actor: ActorDep) -> dict[str, Any]:
        stored, count = await m.mark_read(str(conversation_id), str(message_id), actor)
        return {"message_id": stored.id, "up_to_seq": stored.seq, "newly_read": count}

    @router.post(
        "/conversations/{conversation_id}/messages/{message_id}/reactions",
        summary="Add or take back an emoji",
    )
    async def react(
        conversation_id: UUID, message_id: UUID, body: ReactionBody, actor: ActorDep
    ) -> dict[str, Any]:
        stored, reactions, changed = await m.react(
            str(conversation_id), str(message_id), actor, emoji=body.emoji, add=body.added
        )
        return {**message_view(stored, reactions), "changed": changed}

    @router.post("/conversations/{conversation_id}/typing", summary="Typing indicator (ephemeral)")
    async def typing(conversation_id: UUID, body: TypingBody, actor: ActorDep) -> dict[str, Any]:
        published, expires_at = await m.typing_signal(str(conversation_id), actor, body.state)
        return {"published": published, "expires_at": expires_at.isoformat() if expires_at else None}

    return router


async def _visible(
    session: AsyncSession,
    conversation_id: str,
    *,
    seq_min: int | None = None,
    seq_max: int | None = None,
    newest_first: bool = False,
    limit: int,
) -> list[MessageRow]:
    """Messages shown after a reload, in seq order (Not Delivered ones are not, as the seed says)."""
    found: list[MessageRow] = []
    cursor_min, cursor_max = seq_min, seq_max
    # Hidden messages are rare; reading in batches keeps the page full without a second query shape.
    while len(found) < limit:
        query = select(MessageRow).where(col(MessageRow.conversation_id) == conversation_id)
        if cursor_min is not None:
            query = query.where(col(MessageRow.seq) >= cursor_min)
        if cursor_max is not None:
            query = query.where(col(MessageRow.seq) <= cursor_max)
        order = col(MessageRow.seq).desc() if newest_first else col(MessageRow.seq)
        batch = list((await session.scalars(query.order_by(order).limit(limit))).all())
        found.extend(r for r in batch if visible_after_reload(to_message(r)))
        if len(batch) < limit:
            break
        if newest_first:
            cursor_max = batch[-1].seq - 1
        else:
            cursor_min = batch[-1].seq + 1
    found = found[:limit]
    return sorted(found, key=lambda r: r.seq)


__all__ = ["ActorDep", "TenantDep", "actor_from_headers", "create_router", "tenant_from_headers"]
