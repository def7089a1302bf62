"""Kafka subscribers and durable-timer handlers: a fact or a deadline in → the domain → state, events
and timers in the caller's one transaction (the kit's inbox transaction or the timer's).

Facts from other services are never refused: a stale or repeated one (a message on a conversation
that has ended, a heartbeat from an old console session, an ACW release for a slot already free) is
logged and dropped instead of raised, so it does not retry three times into the dead-letter topic.
Only a real failure (the database, a bug) raises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import (
    ACW_INTERACTIONS,
    EMAIL_MESSAGES,
    GATEWAY_PRESENCE,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    VOICE_CALLS,
    acw,
    email,
    gateway,
    messaging,
    voice,
)
from switchboard.contracts.common import Party
from switchboard.contracts.envelope import Envelope
from switchboard.contracts.routing import SlotReleaseReason
from switchboard.routing.domain import (
    Channel,
    EndReason,
    Outcome,
    Router,
    RoutingError,
    TimerKind,
    UnknownQueue,
)
from switchboard.routing.schemas import clean
from switchboard.routing.store import Command, LockBusy, Routing
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.timers import Timer

log = get_logger(__name__)

# The bot transcript rides along in the interaction's context; a bound keeps a chatty bot's history
# from bloating every row and every arrival summary.
TRANSCRIPT_TURNS = 50
TURN_CHARS = 1000
SUMMARY_CHARS = 2000


def merge(*outcomes: Outcome) -> Outcome:
    """Several domain commands applied in one transaction, as one outcome (decisions in order)."""
    return Outcome(
        decisions=tuple(d for o in outcomes for d in o.decisions),
        warnings=tuple(w for o in outcomes for w in o.warnings),
        agents=frozenset().union(*(o.agents for o in outcomes)),
        interactions=frozenset().union(*(o.interactions for o in outcomes)),
    )


def ended_reason(party: Party | str) -> EndReason:
    return EndReason.CUSTOMER if str(party) == Party.CUSTOMER.value else EndReason.AGENT


def bot_summary(transcript: tuple[messaging.BotTurn, ...], intent: str | None) -> tuple[str, dict[str, Any]]:
    """The arrival summary's first leg: the bot conversation before the hand-off, newest turns kept."""
    turns = transcript[-TRANSCRIPT_TURNS:]
    lines = [f"{t.role}: {t.text[:TURN_CHARS]}" for t in turns if t.text.strip()]
    summary = "\n".join(lines)
    if len(summary) > SUMMARY_CHARS:
        summary = "…" + summary[-(SUMMARY_CHARS - 1) :]
    context = {
        "intent": intent,
        "transcript": [{"role": t.role, "text": t.text[:TURN_CHARS], "at": t.at.isoformat()} for t in turns],
    }
    return summary, context


def register(runtime: ServiceRuntime, routing: Routing) -> None:
    async def fact(
        session: AsyncSession,
        envelope: Envelope[Any],
        command: Command,
        *,
        release_reason: SlotReleaseReason | None = None,
    ) -> None:
        try:
            await routing.apply(session, command, causation=envelope, release_reason=release_reason)
        except RoutingError as exc:
            log.info(
                "fact ignored by routing",
                event_type=envelope.type,
                key=envelope.key,
                refusal=exc.slug,
                reason=exc.message,
            )

    def enqueue(
        interaction_id: str,
        channel: Channel,
        customer_id: str,
        *,
        hint: str | None = None,
        intent: str | None = None,
        summary: str = "",
        context: dict[str, Any] | None = None,
        customer_name: str | None = None,
    ) -> Command:
        def command(router: Router, now: datetime) -> Outcome:
            queue_id = routing.resolve_queue(router, hint, intent, channel)
            if queue_id is None:
                raise UnknownQueue(
                    "no queue for this interaction: configure a default queue for the channel",
                    channel=channel.value,
                    hint=hint,
                    intent=intent,
                )
            outcome = router.enqueue(
                interaction_id,
                queue_id,
                channel,
                customer_id,
                now,
                intent=intent,
                bot_context=context,
                summary=summary,
            )
            if outcome.interactions and customer_name:
                routing.ledger.meta(interaction_id).customer_name = customer_name
            return outcome

        return command

    # ------------------------------------------------------------------ messaging

    @runtime.handles(MESSAGING_CONVERSATIONS)
    async def on_conversation(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, messaging.ConversationStarted):
            summary, context = bot_summary(data.bot_transcript, data.intent)
            await fact(
                session,
                envelope,
                enqueue(
                    str(data.interaction_id),
                    Channel.CHAT,
                    str(data.customer_id),
                    hint=clean(data.queue_hint),
                    intent=clean(data.intent),
                    summary=summary,
                    context=context,
                    customer_name=clean(data.customer_name),
                ),
            )
        elif isinstance(data, messaging.ConversationEnded):
            iid, reason = str(data.interaction_id), ended_reason(data.ended_by)
            await fact(session, envelope, lambda r, now: r.customer_ended(iid, now, reason=reason))

    @runtime.handles(MESSAGING_MESSAGES)
    async def on_message(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, messaging.ChatMessageSent):
            iid, sender = str(data.interaction_id), str(data.sender_id)
            if data.sender_role is messaging.SenderRole.AGENT:
                await fact(session, envelope, lambda r, now: r.agent_message(iid, sender, now))
            else:
                await fact(session, envelope, lambda r, now: r.customer_message(iid, now))
        elif isinstance(data, messaging.ChatMessageSentimentScored):
            iid, score = str(data.interaction_id), data.score
            await fact(session, envelope, lambda r, now: r.record_sentiment(iid, score, now))

    # ------------------------------------------------------------------ after-call work

    @runtime.handles(ACW_INTERACTIONS)
    async def on_acw(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, acw.InteractionEnded):
            iid, reason = str(data.interaction_id), ended_reason(data.ended_by)
            await fact(session, envelope, lambda r, now: r.customer_ended(iid, now, reason=reason))
        elif isinstance(data, acw.AcwStarted):
            if data.mode is acw.AcwMode.TIMED:
                return  # the slot waits for the disposition or the deadline (interaction.closed / acw.expired)
            release = (
                SlotReleaseReason.ACW_IMMEDIATE
                if data.mode is acw.AcwMode.IMMEDIATE
                else SlotReleaseReason.ACW_DISABLED
            )
            await fact(session, envelope, end_and_release(str(data.interaction_id)), release_reason=release)
        elif isinstance(data, acw.AcwExpired):
            await fact(
                session,
                envelope,
                end_and_release(str(data.interaction_id)),
                release_reason=SlotReleaseReason.ACW_EXPIRED,
            )
        elif isinstance(data, acw.InteractionClosed):
            release = (
                SlotReleaseReason.ACW_EXPIRED
                if data.closed_by == "system"
                else SlotReleaseReason.ACW_SUBMITTED
            )
            await fact(session, envelope, end_and_release(str(data.interaction_id)), release_reason=release)

    def end_and_release(interaction_id: str) -> Command:
        # ACW may speak of an interaction whose end routing has not heard (or never will): the release
        # implies it ended, so end it (a no-op when already ended) before freeing the slot.
        def command(router: Router, now: datetime) -> Outcome:
            ended = router.customer_ended(interaction_id, now, reason=EndReason.AGENT)
            return merge(ended, router.release_slot(interaction_id, now))

        return command

    # ------------------------------------------------------------------ console presence

    @runtime.handles(GATEWAY_PRESENCE)
    async def on_presence(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if not isinstance(data, gateway.PresenceHeartbeat | gateway.PresenceDisconnected):
            return
        agent_id, session_id = str(data.agent_id), str(data.session_id)
        heartbeat = isinstance(data, gateway.PresenceHeartbeat)
        if heartbeat and await routing.token_is_current(session):
            router = routing.router
            agent = router.agents.get(agent_id) if router is not None else None
            # The common case, a console that is alive and known to be: no lock, no write.
            if agent is not None and agent.connected and routing.ledger.sessions.get(agent_id) == session_id:
                return

        def command(router: Router, now: datetime) -> Outcome:
            if routing.ledger.sessions.get(agent_id) != session_id:
                return Outcome()  # an older console session: its presence says nothing about this one
            if heartbeat:
                return router.presence_restored(agent_id, now)
            return router.presence_lost(agent_id, now)

        await fact(session, envelope, command)

    # ------------------------------------------------------------------ voice and email

    @runtime.handles(VOICE_CALLS)
    async def on_call(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        if isinstance(data, voice.VoicemailReceived):
            transcript = (data.transcript or "")[:SUMMARY_CHARS]
            await fact(
                session,
                envelope,
                enqueue(
                    str(data.interaction_id),
                    Channel.VOICEMAIL,
                    str(data.customer_id or ""),
                    summary=transcript,
                    context={"recording_id": str(data.recording_id), "caller_id": data.caller_id},
                ),
            )
        elif isinstance(data, voice.CallStarted):
            # Only calls that come in need an agent; an agent's own outbound call is theirs already.
            if data.direction is voice.CallDirection.INBOUND and data.agent_id is None:
                await fact(
                    session,
                    envelope,
                    enqueue(
                        str(data.interaction_id),
                        Channel.VOICE,
                        str(data.customer_id or ""),
                        context={"caller_id": data.caller_id, "dialled_number": data.dialled_number},
                    ),
                )
        elif isinstance(data, voice.CallEnded):
            iid, reason = str(data.interaction_id), ended_reason(data.ended_by)
            await fact(session, envelope, lambda r, now: r.customer_ended(iid, now, reason=reason))

    @runtime.handles(EMAIL_MESSAGES)
    async def on_email(session: AsyncSession, envelope: Envelope[Any]) -> None:
        data = envelope.data
        iid = str(data.interaction_id)
        if isinstance(data, email.EmailReceived):
            if data.new_thread:
                await fact(
                    session,
                    envelope,
                    enqueue(
                        iid,
                        Channel.EMAIL,
                        "",  # email knows the sender's address, not a customer id
                        summary=f"{data.subject}\n{data.snippet}".strip(),
                        context={"subject": data.subject},
                    ),
                )
            else:
                await fact(session, envelope, lambda r, now: r.customer_message(iid, now))
        elif isinstance(data, email.EmailSent):
            agent_id = str(data.agent_id)
            await fact(session, envelope, lambda r, now: r.agent_message(iid, agent_id, now))

    # ------------------------------------------------------------------ durable timers

    def on_timer(kind: TimerKind) -> None:
        @runtime.on_timer(kind.value)
        async def fire(session: AsyncSession, timer: Timer) -> None:
            try:
                await routing.apply(
                    session, lambda r, now: r.fire_timer(kind, timer.key, now), from_timer=True
                )
            except LockBusy:
                # Let go of this timer's row rather than hold it while waiting: a command holding the
                # routing lock may be about to move it. Re-armed as it was, it fires on the next poll.
                await runtime.schedule(session, timer.kind, timer.key, timer.due_at, timer.payload)
            except RoutingError as exc:
                log.info("timer ignored by routing", kind=kind.value, key=timer.key, refusal=exc.slug)

    for kind in TimerKind:
        on_timer(kind)
