"""Events ACW consumes, and the ACW expiry timer.

Each handler runs in one transaction with its inbox row: load the interaction, call the pure domain,
write the state back and carry out the decisions (outbox events, timers) before the commit.

Facts come from several topics (routing, messaging, voice), so they arrive in any order: what is heard
before routing's assignment opens the interaction (the customer, the chat a call was started from, an
agent's first reply, an early end) is kept on the row and applied when it opens. A domain refusal of a
stale fact (a transfer after the end, a reassignment of a closed interaction) is logged and ignored:
retrying it would never succeed, so it must not end up in the dead-letter topic. Anything else raises
and is retried, then dead-lettered by the kit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from switchboard.acw import domain
from switchboard.acw.domain import AcwError, Channel, EndCause, InteractionAcw, Outcome, Party
from switchboard.acw.models import InteractionRow, NoteRow
from switchboard.acw.store import (
    add_replied_agent,
    carry_out,
    get_or_create,
    load_catalogue,
    lock_interaction,
    replied_agents,
    save_interaction,
    to_domain,
)
from switchboard.contracts import (
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    ROUTING_INTERACTIONS,
    VOICE_CALLS,
)
from switchboard.contracts.envelope import Envelope
from switchboard.contracts.messaging import (
    ChatMessageSent,
    ConversationEnded,
    ConversationStarted,
    SenderRole,
)
from switchboard.contracts.routing import (
    InteractionAssigned,
    InteractionQueued,
    InteractionRequeued,
    InteractionSnoozed,
    InteractionTransferred,
    InteractionUnsnoozed,
)
from switchboard.contracts.voice import CallEnded, CallEndReason, CallStarted, VoicemailReceived
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.timers import Timer

log = get_logger(__name__)

Event = Envelope[Any]


class AcwHandlers:
    """The consumers and the timer handler of one runtime."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        self.runtime.subscribe(ROUTING_INTERACTIONS, self.on_routing)
        self.runtime.subscribe(MESSAGING_CONVERSATIONS, self.on_conversation)
        self.runtime.subscribe(MESSAGING_MESSAGES, self.on_message)
        self.runtime.subscribe(VOICE_CALLS, self.on_call)
        self.runtime.on_timer(domain.TIMER_ACW_EXPIRY)(self.on_expiry)

    # -- topics ----------------------------------------------------------------------------------

    async def on_routing(self, session: AsyncSession, event: Event) -> None:
        data = event.data
        if isinstance(data, InteractionQueued):
            await self._learn(session, str(data.interaction_id), customer_id=data.customer_id)
        elif isinstance(data, InteractionAssigned):
            await self._assigned(session, event, data)
        elif isinstance(data, InteractionTransferred):
            await self._step(
                session,
                event,
                str(data.interaction_id),
                lambda ix, now: domain.transfer(
                    ix,
                    now,
                    to_queue_id=_str(data.to_queue_id),
                    to_agent_id=_str(data.to_agent_id),
                ),
            )
        elif isinstance(data, InteractionRequeued):
            # The agent no longer holds it; it waits in its queue for the next assignment.
            await self._step(
                session,
                event,
                str(data.interaction_id),
                lambda ix, now: domain.transfer(ix, now, to_queue_id=str(data.queue_id)),
            )
        elif isinstance(data, InteractionSnoozed):
            await self._snoozed(session, str(data.interaction_id), event.occurred_at)
        elif isinstance(data, InteractionUnsnoozed):
            await self._unsnoozed(session, event, str(data.interaction_id))

    async def on_conversation(self, session: AsyncSession, event: Event) -> None:
        data = event.data
        if isinstance(data, ConversationStarted):
            await self._learn(
                session, str(data.interaction_id), customer_id=data.customer_id, channel=Channel.CHAT
            )
        elif isinstance(data, ConversationEnded):
            # The chat is over on the customer's side (or messaging's): ACW starts without confirmation.
            # An agent's End reaches ACW first, so that interaction is already in ACW and this is a no-op.
            await self._ended(
                session, event, str(data.interaction_id), EndCause.CUSTOMER, Party(data.ended_by.value)
            )

    async def on_message(self, session: AsyncSession, event: Event) -> None:
        data = event.data
        if not isinstance(data, ChatMessageSent) or data.sender_role is not SenderRole.AGENT:
            return
        interaction_id, agent_id = str(data.interaction_id), str(data.sender_id)
        row = await get_or_create(session, interaction_id, self.now)
        add_replied_agent(row, agent_id)
        if row.tracked:
            await self._apply(session, event, row, lambda ix, _: domain.record_agent_reply(ix, agent_id))
        row.updated_at = self.now

    async def on_call(self, session: AsyncSession, event: Event) -> None:
        data = event.data
        if isinstance(data, CallStarted):
            await self._call_started(session, event, data)
        elif isinstance(data, CallEnded):
            # A blind transfer to an external contact ends the call for the agent like any other end.
            cause = EndCause.EXTERNAL_TRANSFER if data.reason is CallEndReason.EXTERNAL_TRANSFER else None
            by = Party(data.ended_by)
            if cause is None:
                cause = EndCause.HANG_UP
            elif data.ended_by == "customer":
                by = Party.AGENT  # the agent transferred it away, whatever the provider reports
            await self._ended(session, event, str(data.interaction_id), cause, by)
        elif isinstance(data, VoicemailReceived):
            await self._learn(
                session, str(data.interaction_id), customer_id=data.customer_id, channel=Channel.VOICEMAIL
            )

    async def on_expiry(self, session: AsyncSession, timer: Timer) -> None:
        row = await lock_interaction(session, timer.key)
        if row is None or not row.tracked:
            log.warning("ACW expiry for an unknown interaction", interaction_id=timer.key)
            return
        catalogue = await load_catalogue(session)
        await self._apply(session, None, row, lambda ix, now: domain.expire(ix, catalogue, now))

    # -- steps -----------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    async def _apply(
        self,
        session: AsyncSession,
        event: Event | None,
        row: InteractionRow,
        command: Callable[[InteractionAcw, datetime], Outcome],
        *,
        state: InteractionAcw | None = None,
    ) -> InteractionAcw | None:
        """Run one domain command on the row's state; a refusal of a stale fact changes nothing."""
        now = self.now
        try:
            ix, decisions = command(state if state is not None else to_domain(row), now)
        except AcwError as refusal:
            log.info(
                "stale fact ignored",
                interaction_id=row.interaction_id,
                event_type=event.type if event else "timer",
                refusal=refusal.slug,
                detail=refusal.detail,
            )
            return None
        save_interaction(row, ix, now)
        await carry_out(self.runtime, session, decisions, causation=event)
        return ix

    async def _step(
        self,
        session: AsyncSession,
        event: Event,
        interaction_id: str,
        command: Callable[[InteractionAcw, datetime], Outcome],
    ) -> None:
        row = await lock_interaction(session, interaction_id)
        if row is None or not row.tracked:
            log.info(
                "event for an interaction not assigned yet", interaction_id=interaction_id, type=event.type
            )
            return
        await self._apply(session, event, row, command)

    async def _learn(
        self,
        session: AsyncSession,
        interaction_id: str,
        *,
        customer_id: Any = None,
        channel: Channel | None = None,
        linked_interaction_id: str | None = None,
    ) -> InteractionRow:
        """Record facts other events will need; a customer learnt late also reaches earlier notes."""
        row = await get_or_create(session, interaction_id, self.now)
        if customer_id is not None and row.customer_id is None:
            row.customer_id = str(customer_id)
            await session.execute(
                sa.update(NoteRow)
                .where(col(NoteRow.interaction_id) == interaction_id, col(NoteRow.customer_id).is_(None))
                .values(customer_id=row.customer_id)
            )
        if channel is not None and row.channel is None:
            row.channel = channel.value
        if linked_interaction_id is not None and row.linked_interaction_id is None:
            row.linked_interaction_id = linked_interaction_id
        row.updated_at = self.now
        return row

    async def _open(
        self,
        session: AsyncSession,
        event: Event,
        row: InteractionRow,
        *,
        channel: Channel,
        queue_id: str,
        agent_id: str,
        auto_answer: bool,
    ) -> None:
        try:
            ix = domain.open_interaction(
                interaction_id=row.interaction_id,
                customer_id=row.customer_id or "",
                channel=channel,
                queue_id=queue_id,
                agent_id=agent_id,
                assigned_at=min(event.occurred_at, self.now),
                # Only chat has a first agent message for ACW to wait for; voice, voicemail and email
                # interactions are ended by the agent as soon as they hold them.
                auto_answer=auto_answer and channel is Channel.CHAT,
                linked_interaction_id=row.linked_interaction_id,
                consumes_slot=channel is not Channel.VOICEMAIL,
            )
        except AcwError as refusal:
            log.info("assignment refused", interaction_id=row.interaction_id, refusal=refusal.slug)
            return
        if agent_id in replied_agents(row):
            ix, _ = domain.record_agent_reply(ix, agent_id)
        opened = await self._apply(session, event, row, lambda state, _: (state, []), state=ix)
        if opened is not None and row.pending_end is not None:
            # The conversation ended before the assignment reached ACW.
            pending = json.loads(row.pending_end)
            row.pending_end = None
            await self._end_now(session, event, row, EndCause(pending["cause"]), Party(pending["by"]))

    async def _assigned(self, session: AsyncSession, event: Event, data: InteractionAssigned) -> None:
        row = await get_or_create(session, str(data.interaction_id), self.now)
        agent_id, queue_id = str(data.agent_id), str(data.queue_id)
        channel = Channel(data.channel.value)
        if not row.tracked:
            await self._open(
                session,
                event,
                row,
                channel=channel,
                queue_id=queue_id,
                agent_id=agent_id,
                auto_answer=data.auto_answer,
            )
            return
        auto_answer = data.auto_answer and channel is Channel.CHAT

        def reassign(ix: InteractionAcw, now: datetime) -> Outcome:
            if ix.queue_id != queue_id:
                ix, _ = domain.transfer(
                    ix, now, to_queue_id=queue_id, to_agent_id=agent_id, auto_answer=auto_answer
                )
            else:
                ix, _ = domain.assign(ix, agent_id, now, auto_answer=auto_answer)
            if agent_id in replied_agents(row):
                ix, _ = domain.record_agent_reply(ix, agent_id)
            return ix, []

        await self._apply(session, event, row, reassign)

    async def _call_started(self, session: AsyncSession, event: Event, data: CallStarted) -> None:
        linked = _str(data.linked_interaction_id)
        row = await self._learn(
            session,
            str(data.interaction_id),
            customer_id=data.customer_id,
            channel=Channel.VOICE,
            linked_interaction_id=linked,
        )
        if row.tracked or data.agent_id is None:
            return  # inbound calls are opened by routing's assignment
        # A call the agent placed (from a chat, or outbound) is an interaction of its own, held by that
        # agent from the start; a call from a chat follows the chat's queue for its ACW settings.
        queue_id = ""
        if linked is not None:
            chat = await lock_interaction(session, linked)
            if chat is not None:
                queue_id = chat.queue_id or ""
                if row.customer_id is None and chat.customer_id is not None:
                    await self._learn(session, row.interaction_id, customer_id=chat.customer_id)
        await self._open(
            session,
            event,
            row,
            channel=Channel.VOICE,
            queue_id=queue_id,
            agent_id=str(data.agent_id),
            auto_answer=False,
        )

    async def _ended(
        self, session: AsyncSession, event: Event, interaction_id: str, cause: EndCause, by: Party
    ) -> None:
        row = await get_or_create(session, interaction_id, self.now)
        if not row.tracked:
            if row.pending_end is None:
                row.pending_end = json.dumps({"cause": cause.value, "by": by.value})
            return
        await self._end_now(session, event, row, cause, by)

    async def _end_now(
        self, session: AsyncSession, event: Event, row: InteractionRow, cause: EndCause, by: Party
    ) -> None:
        catalogue = await load_catalogue(session)
        since = row.snoozed_since
        row.snoozed_since = None

        def end(ix: InteractionAcw, now: datetime) -> Outcome:
            if since is not None and since < now:
                # Ended while snoozed: the snoozed stretch up to the end is not handle time.
                ix, _ = domain.record_snooze(ix, since, now)
            return domain.end_from_event(ix, catalogue, cause, now, ended_by=by)

        await self._apply(session, event, row, end)

    async def _snoozed(self, session: AsyncSession, interaction_id: str, at: datetime) -> None:
        row = await get_or_create(session, interaction_id, self.now)
        if row.snoozed_since is None:
            row.snoozed_since = min(at, self.now)
        row.updated_at = self.now

    async def _unsnoozed(self, session: AsyncSession, event: Event, interaction_id: str) -> None:
        row = await lock_interaction(session, interaction_id)
        if row is None or row.snoozed_since is None:
            return
        since, until = row.snoozed_since, min(event.occurred_at, self.now)
        row.snoozed_since = None
        if row.tracked:
            await self._apply(session, event, row, lambda ix, _: domain.record_snooze(ix, since, until))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def register_handlers(runtime: ServiceRuntime) -> AcwHandlers:
    handlers = AcwHandlers(runtime)
    handlers.register()
    return handlers
