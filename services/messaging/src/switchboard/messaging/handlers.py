"""Kafka subscribers: what messaging learns from routing and acw.

* routing's ``interaction.assigned`` / ``interaction.transferred`` / ``interaction.requeued`` say which agent
  may send in a chat conversation (and the agent's and queue's names for standard-response templates);
* acw's ``interaction.end_requested`` / ``interaction.ended`` terminate the conversation when the agent ended
  it (a customer's end comes through messaging's own API and is already recorded).

Each handler runs in one transaction with the kit's inbox row, so a redelivered event changes nothing.
Events about other channels, or about chats messaging never started, are ignored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import ACW_INTERACTIONS, ROUTING_INTERACTIONS
from switchboard.contracts.acw import InteractionEnded, InteractionEndRequested
from switchboard.contracts.common import Channel, Party
from switchboard.contracts.envelope import Envelope
from switchboard.contracts.routing import (
    InteractionAssigned,
    InteractionRequeued,
    InteractionTransferred,
    TransferTarget,
)
from switchboard.messaging.models import ConversationRow
from switchboard.messaging.service import Messaging
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)


def register_handlers(messaging: Messaging) -> None:
    runtime = messaging.runtime

    @runtime.handles(ROUTING_INTERACTIONS)
    async def on_routing(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, InteractionAssigned):
            if data.channel is not Channel.CHAT:
                return
            row = await _conversation(session, str(data.interaction_id))
            if row is None:
                return
            row.agent_id = str(data.agent_id)
            row.agent_name = data.arrival.agent_name
            row.queue_name = data.arrival.queue_name
            log.info("conversation assigned", conversation_id=row.id, agent_id=row.agent_id)
        elif isinstance(data, InteractionTransferred):
            row = await _conversation(session, str(data.interaction_id))
            if row is None:
                return
            # To a queue: nobody may answer until routing assigns it again.
            row.agent_id = str(data.to_agent_id) if data.target is TransferTarget.AGENT else None
            log.info("conversation transferred", conversation_id=row.id, agent_id=row.agent_id)
        elif isinstance(data, InteractionRequeued):
            row = await _conversation(session, str(data.interaction_id))
            if row is None:
                return
            row.agent_id = None
            log.info("conversation requeued", conversation_id=row.id)

    @runtime.handles(ACW_INTERACTIONS)
    async def on_acw(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, InteractionEnded) and data.channel is Channel.CHAT:
            await messaging.end_from_event(session, str(data.interaction_id), data.ended_by)
        elif isinstance(data, InteractionEndRequested) and data.channel is Channel.CHAT:
            await messaging.end_from_event(session, str(data.interaction_id), Party.AGENT)


async def _conversation(session: AsyncSession, conversation_id: str) -> ConversationRow | None:
    row = await session.get(ConversationRow, conversation_id, with_for_update=True)
    if row is None:
        log.info("event about a chat messaging does not know", interaction_id=conversation_id)
    return row
