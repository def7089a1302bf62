"""The single writer: one in-memory :class:`Router` kept equal to the database, one command at a time.

Every command — HTTP, event or timer — runs in one transaction that

1. serialises routing: ``SELECT … FOR UPDATE`` on the one ``routing_lock`` row on PostgreSQL (two
   replicas queue up there); on SQLite the kit's ``BEGIN IMMEDIATE`` already lets one writer in;
2. compares the row's token with the token the in-memory router was built from, and reloads the
   router from the tables when another replica (or a failed commit of ours) moved it on;
3. applies the domain command;
4. writes the changed agent and interaction rows, emits the contract events through the outbox and
   schedules or cancels the durable timers, then stores a fresh token;
5. commits (the caller's transaction).

A failure anywhere discards the router; the token makes a commit that failed after step 4 look like
someone else's change, so the next command reloads in that case too.

Lock order matters on PostgreSQL: the timer poller locks its timer row before calling us, while a
command holding the routing lock may need to move that very row. A timer therefore waits for the
routing lock only briefly and, if it is busy, re-arms itself and lets go (:class:`LockBusy`), so the
two can never wait on each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.contracts import routing as contract
from switchboard.contracts.envelope import Envelope
from switchboard.routing.domain import (
    AgentState,
    AgentStatus,
    CancelTimer,
    Channel,
    EndReason,
    Hop,
    InteractionState,
    InteractionStatus,
    Offer,
    Outcome,
    Router,
    RoutingError,
    ScheduleTimer,
    StatusKind,
    StatusTag,
)
from switchboard.routing.events import InteractionMeta, Ledger, translate
from switchboard.routing.models import (
    AgentRow,
    AgentStateRow,
    CustomStatusRow,
    ExternalContactRow,
    InteractionRow,
    MembershipRow,
    QueueRow,
    RoutingLockRow,
    SettingsRow,
    SkillRow,
)
from switchboard.routing.schemas import (
    AgentSpec,
    ContactSpec,
    QueueSpec,
    SettingsSpec,
    StatusSpec,
    agent_from_spec,
    queue_from_spec,
    settings_from_spec,
    status_from_spec,
)
from switchboard.runtime.errors import Problem
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime

log = get_logger(__name__)

Command = Callable[[Router, datetime], Outcome]

LOCK_ROW = 1
_LOCKED = "routing.locked"
# How long a timer waits for the routing lock before re-arming itself (PostgreSQL only).
TIMER_LOCK_WAIT_MS = 250
# Ended interactions stay in memory this long (late facts, friendly 409s), then only in the table.
RETENTION = timedelta(hours=24)
SWEEP_EVERY = timedelta(minutes=1)
CHUNK = 500  # rows per multi-row upsert: SQLite caps bound parameters per statement


class LockBusy(Exception):
    """The routing lock stayed busy while a timer held its own row; the timer re-arms itself."""


def _lock_timeout(exc: DBAPIError) -> bool:
    orig: Any = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if getattr(candidate, "sqlstate", None) == "55P03" or getattr(candidate, "pgcode", None) == "55P03":
            return True
    return "lock timeout" in str(exc).lower()


class Routing:
    """Owns the router of this process and every transaction that changes it."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.router: Router | None = None
        self.token: str | None = None
        self.ledger = Ledger()
        self.queue_specs: dict[str, QueueSpec] = {}
        self.skills: set[str] = set()
        self.reloads = 0
        self._swept_at: datetime | None = None

    @property
    def postgres(self) -> bool:
        return self.runtime.database.dialect == "postgresql"

    def discard(self) -> None:
        self.router = None
        self.token = None

    # ------------------------------------------------------------------ transactions

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A command's transaction for HTTP; discards the router on anything but a domain refusal."""
        try:
            async with self.runtime.transaction() as session:
                yield session
        except (RoutingError, Problem):
            raise  # refusals change nothing; a refusal after a change is caught by the token
        except BaseException:
            self.discard()
            raise

    async def acquire(self, session: AsyncSession, *, from_timer: bool = False) -> Router:
        """Lock routing for this transaction and return a router equal to the database."""
        if session.info.get(_LOCKED) and self.router is not None:
            return self.router
        token = await self._lock(session, from_timer=from_timer)
        if self.router is None or token != self.token:
            await self._load(session)
            self.token = token
        session.info[_LOCKED] = True
        assert self.router is not None
        return self.router

    async def read(self) -> Router:
        """A router current as of now, for queries: no lock unless it has to reload."""
        async with self.runtime.database.sessions() as session:
            token = await session.scalar(
                select(RoutingLockRow.token).where(col(RoutingLockRow.id) == LOCK_ROW)
            )
        if self.router is not None and token is not None and token == self.token:
            return self.router
        async with self.transaction() as session:
            return await self.acquire(session)

    async def token_is_current(self, session: AsyncSession) -> bool:
        token = await session.scalar(select(RoutingLockRow.token).where(col(RoutingLockRow.id) == LOCK_ROW))
        return self.router is not None and token is not None and token == self.token

    async def apply(
        self,
        session: AsyncSession,
        command: Command,
        *,
        causation: Envelope[Any] | None = None,
        release_reason: contract.SlotReleaseReason | None = None,
        from_timer: bool = False,
        config_changed: bool = False,
    ) -> Outcome:
        """Run one domain command and write what it decided into ``session``'s transaction."""
        router = await self.acquire(session, from_timer=from_timer)
        now = self.runtime.clock.now()
        try:
            outcome = command(router, now)
        except RoutingError:
            raise  # the domain validates before it mutates: nothing to undo
        except BaseException:
            self.discard()
            raise
        try:
            await self._record(session, router, outcome, now, causation, release_reason, config_changed)
            self._sweep(router, now)
        except BaseException:
            self.discard()
            raise
        return outcome

    # ------------------------------------------------------------------ the lock

    async def _lock(self, session: AsyncSession, *, from_timer: bool) -> str:
        query = select(RoutingLockRow.token).where(col(RoutingLockRow.id) == LOCK_ROW)
        if not self.postgres:
            token = await session.scalar(query)
        elif not from_timer:
            token = await session.scalar(query.with_for_update())
        else:
            try:
                async with session.begin_nested():
                    await session.execute(sa.text(f"SET LOCAL lock_timeout = '{TIMER_LOCK_WAIT_MS}ms'"))
                    token = await session.scalar(query.with_for_update())
            except DBAPIError as exc:
                if _lock_timeout(exc):
                    raise LockBusy from exc
                raise
            await session.execute(sa.text("SET LOCAL lock_timeout = 0"))
        if token is None:
            token = await self._create_lock_row(session, query)
        return token

    async def _create_lock_row(self, session: AsyncSession, query: Any) -> str:
        table = RoutingLockRow.__table__  # type: ignore[attr-defined]
        values = {"id": LOCK_ROW, "token": uuid4().hex, "counter": 0}
        insert = (postgresql.insert if self.postgres else sqlite.insert)(table).values(values)
        await session.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        token = await session.scalar(query.with_for_update() if self.postgres else query)
        assert token is not None
        return str(token)

    async def _bump(self, session: AsyncSession) -> None:
        token = uuid4().hex
        await session.execute(
            sa.update(RoutingLockRow)
            .where(col(RoutingLockRow.id) == LOCK_ROW)
            .values(token=token, counter=col(RoutingLockRow.counter) + 1)
        )
        # Set before the commit: if the commit fails, the database keeps the old token and the next
        # command sees a mismatch and reloads.
        self.token = token

    # ------------------------------------------------------------------ loading

    async def _load(self, session: AsyncSession) -> None:
        self.discard()
        now = self.runtime.clock.now()
        settings_row = await session.get(SettingsRow, 1)
        settings_spec = SettingsSpec.model_validate(settings_row.spec) if settings_row else SettingsSpec()
        contacts = {
            r.id: ContactSpec.model_construct(name=r.name, number=r.number)
            for r in await session.scalars(select(ExternalContactRow))
        }
        queue_specs = {
            r.id: QueueSpec.model_validate(r.spec) for r in await session.scalars(select(QueueRow))
        }
        members: dict[str, list[str]] = {}
        for m in await session.scalars(select(MembershipRow)):
            members.setdefault(m.agent_id, []).append(m.queue_id)
        agents = []
        for r in await session.scalars(select(AgentRow)):
            spec = AgentSpec.model_validate({**r.spec, "queues": members.get(r.id, [])})
            agents.append(agent_from_spec(r.id, spec))
        statuses = [
            status_from_spec(r.id, StatusSpec.model_construct(name=r.name, tag=StatusTag(r.tag)))
            for r in await session.scalars(select(CustomStatusRow))
        ]
        router = Router(
            settings_from_spec(settings_spec, contacts),
            queues=[queue_from_spec(qid, spec) for qid, spec in queue_specs.items()],
            agents=agents,
            statuses=statuses,
        )
        ledger = Ledger()
        states = []
        for s in await session.scalars(select(AgentStateRow)):
            if s.agent_id not in router.agents:
                continue
            states.append(_agent_state(router, s))
            if s.session_id:
                ledger.sessions[s.agent_id] = s.session_id
        rows = await session.scalars(
            select(InteractionRow).where(
                sa.or_(
                    col(InteractionRow.status) != InteractionStatus.ENDED.value,
                    col(InteractionRow.slot_holder).is_not(None),
                    col(InteractionRow.ended_at) >= now - RETENTION,
                )
            )
        )
        interactions = []
        for row in rows:
            interactions.append(_interaction_state(row))
            ledger.interactions[row.id] = InteractionMeta(
                customer_name=row.customer_name,
                transfer_id=row.transfer_id,
                transfer_target=row.transfer_target,
                transfer_target_id=row.transfer_target_id,
                persisted_slot_holder=row.slot_holder,
                persisted_status=row.status,
            )
        router.restore(states, interactions)
        self.router = router
        self.ledger = ledger
        self.queue_specs = queue_specs
        self.skills = set(await session.scalars(select(SkillRow.name)))
        self.reloads += 1
        log.info(
            "router loaded", agents=len(router.agents), queues=len(router.queues), open=len(interactions)
        )

    # ------------------------------------------------------------------ writing

    async def _record(
        self,
        session: AsyncSession,
        router: Router,
        outcome: Outcome,
        now: datetime,
        causation: Envelope[Any] | None,
        release_reason: contract.SlotReleaseReason | None,
        config_changed: bool,
    ) -> None:
        if not (outcome.decisions or outcome.agents or outcome.interactions or config_changed):
            return
        translation = translate(outcome, router, self.ledger, now, release_reason=release_reason)
        await self._upsert(
            session,
            AgentStateRow,
            [self._agent_row(router.agents[a]) for a in sorted(outcome.agents) if a in router.agents],
            ["agent_id"],
        )
        rows = []
        for interaction_id in sorted(outcome.interactions):
            it = router.interactions.get(interaction_id)
            if it is None:
                continue
            meta = self.ledger.meta(interaction_id)
            rows.append(_interaction_row(it, meta))
            meta.persisted_slot_holder = it.slot_holder
            meta.persisted_status = it.status.value
        await self._upsert(session, InteractionRow, rows, ["id"])
        for payload, key in translation.events:
            self.runtime.emit(session, payload, key=key, causation=causation)
        for decision in outcome.timers:
            if isinstance(decision, ScheduleTimer):
                await self.runtime.schedule(session, decision.kind.value, decision.key, decision.due_at)
            elif isinstance(decision, CancelTimer):
                await self.runtime.cancel_timer(session, decision.kind.value, decision.key)
        await self._bump(session)

    def _agent_row(self, a: AgentState) -> dict[str, Any]:
        return {
            "agent_id": a.id,
            "status_kind": a.status.kind.value,
            "custom_status_id": a.status.custom_id,
            "status_since": a.status_since,
            "prompt_pending": a.prompt_pending,
            "connected": a.connected,
            "available_since": a.available_since,
            "last_routed_at": a.last_routed_at,
            "session_id": self.ledger.sessions.get(a.id),
        }

    async def _upsert(
        self, session: AsyncSession, model: type[Any], rows: list[dict[str, Any]], keys: list[str]
    ) -> None:
        if not rows:
            return
        table = model.__table__
        insert = postgresql.insert if self.postgres else sqlite.insert
        for start in range(0, len(rows), CHUNK):
            statement = insert(table).values(rows[start : start + CHUNK])
            update = {name: statement.excluded[name] for name in rows[0] if name not in keys}
            if update:
                await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=update))
            else:  # a row that is all key (a membership) exists or not; nothing to update
                await session.execute(statement.on_conflict_do_nothing(index_elements=keys))

    async def write_config(
        self, session: AsyncSession, model: type[Any], rows: Iterable[dict[str, Any]]
    ) -> None:
        keys = [c.name for c in model.__table__.primary_key.columns]
        await self._upsert(session, model, list(rows), keys)

    def _sweep(self, router: Router, now: datetime) -> None:
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        cutoff = now - RETENTION
        stale = [
            it.id
            for it in router.interactions.values()
            if it.status is InteractionStatus.ENDED and it.ended_at is not None and it.ended_at < cutoff
        ]
        for interaction_id in stale:
            if router.forget(interaction_id):
                self.ledger.interactions.pop(interaction_id, None)

    # ------------------------------------------------------------------ lookups for commands

    def resolve_queue(
        self, router: Router, hint: str | None, intent: str | None, channel: Channel
    ) -> str | None:
        """Queue for a new interaction: the hint (a queue id or name), else a queue serving the intent,
        else the default queue of the channel, else the only queue taking the channel."""
        takes = [q for q in router.queues.values() if channel in q.channels]
        if hint:
            hint_key = hint.strip().casefold()
            for q in takes:
                if q.id == hint_key or q.name.casefold() == hint_key:
                    return q.id
        if intent:
            wanted = intent.strip().casefold()
            for q in sorted(takes, key=lambda q: (-q.priority, q.name, q.id)):
                spec = self.queue_specs.get(q.id)
                if spec is not None and any(i.casefold() == wanted for i in spec.intents):
                    return q.id
        defaults = [q for q in takes if (spec := self.queue_specs.get(q.id)) is not None and spec.default]
        if defaults:
            return sorted(defaults, key=lambda q: (q.name, q.id))[0].id
        return takes[0].id if len(takes) == 1 else None


# ---------------------------------------------------------------------- rows ↔ domain state


def _agent_state(router: Router, s: AgentStateRow) -> AgentState:
    return AgentState(
        config=router.agents[s.agent_id].config,
        status=AgentStatus(StatusKind(s.status_kind), s.custom_status_id),
        status_since=s.status_since,
        prompt_pending=s.prompt_pending,
        connected=s.connected,
        available_since=s.available_since,
        last_routed_at=s.last_routed_at,
    )


def _interaction_state(row: InteractionRow) -> InteractionState:
    offer = None
    if row.offer_agent_id and row.offer_at and row.offer_expires_at:
        offer = Offer(row.offer_agent_id, row.offer_at, row.offer_expires_at, row.offer_transfer_from)
    return InteractionState(
        id=row.id,
        channel=Channel(row.channel),
        queue_id=row.queue_id,
        customer_id=row.customer_id,
        intent=row.intent,
        bot_context=dict(row.bot_context or {}),
        required_skills=dict(row.required_skills or {}),
        priority=row.priority,
        created_at=row.created_at,
        seq=row.seq,
        status=InteractionStatus(row.status),
        entered_queue_at=row.entered_queue_at,
        front=row.front,
        wait_deadline=row.wait_deadline,
        excluded=set(row.excluded or ()),
        offer=offer,
        agent_id=row.agent_id,
        slot_holder=row.slot_holder,
        assigned_at=row.assigned_at,
        auto_answered=row.auto_answered,
        first_reply_sent=row.first_reply_sent,
        reply_due_since=row.reply_due_since,
        snoozed_at=row.snoozed_at,
        snooze_until=row.snooze_until,
        wake_pending=row.wake_pending,
        transfer_pending=row.transfer_pending,
        hops=[
            Hop(h["queue_id"], h.get("agent_id"), h.get("summary", ""), datetime.fromisoformat(h["at"]))
            for h in row.hops or ()
        ],
        wait_total=timedelta(seconds=row.wait_total_seconds),
        waiting_since=row.waiting_since,
        handle_total=timedelta(seconds=row.handle_total_seconds),
        handling_since=row.handling_since,
        sentiment_sum=row.sentiment_sum,
        sentiment_count=row.sentiment_count,
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        ended_at=row.ended_at,
    )


def _interaction_row(it: InteractionState, meta: InteractionMeta) -> dict[str, Any]:
    offer = it.offer
    return {
        "id": it.id,
        "channel": it.channel.value,
        "queue_id": it.queue_id,
        "customer_id": it.customer_id,
        "customer_name": meta.customer_name,
        "intent": it.intent,
        "bot_context": dict(it.bot_context),
        "required_skills": dict(it.required_skills),
        "priority": it.priority,
        "created_at": it.created_at,
        "seq": it.seq,
        "status": it.status.value,
        "entered_queue_at": it.entered_queue_at,
        "front": it.front,
        "wait_deadline": it.wait_deadline,
        "excluded": sorted(it.excluded),
        "offer_agent_id": offer.agent_id if offer else None,
        "offer_at": offer.offered_at if offer else None,
        "offer_expires_at": offer.expires_at if offer else None,
        "offer_transfer_from": offer.transfer_from if offer else None,
        "agent_id": it.agent_id,
        "slot_holder": it.slot_holder,
        "assigned_at": it.assigned_at,
        "auto_answered": it.auto_answered,
        "first_reply_sent": it.first_reply_sent,
        "reply_due_since": it.reply_due_since,
        "snoozed_at": it.snoozed_at,
        "snooze_until": it.snooze_until,
        "wake_pending": it.wake_pending,
        "transfer_pending": it.transfer_pending,
        "transfer_id": meta.transfer_id,
        "transfer_target": meta.transfer_target,
        "transfer_target_id": meta.transfer_target_id,
        "hops": [
            {"queue_id": h.queue_id, "agent_id": h.agent_id, "summary": h.summary, "at": h.at.isoformat()}
            for h in it.hops
        ],
        "wait_total_seconds": it.wait_total.total_seconds(),
        "waiting_since": it.waiting_since,
        "handle_total_seconds": it.handle_total.total_seconds(),
        "handling_since": it.handling_since,
        "sentiment_sum": it.sentiment_sum,
        "sentiment_count": it.sentiment_count,
        "end_reason": it.end_reason.value if it.end_reason else None,
        "ended_at": it.ended_at,
    }
