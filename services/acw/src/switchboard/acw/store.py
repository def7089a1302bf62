"""Rows ⇄ domain objects, and carrying out the domain's decisions inside the caller's transaction.

Handlers and routes load what a command needs with :func:`lock_interaction` (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), call a pure function of
:mod:`switchboard.acw.domain`, write the new state back with :func:`save_interaction` and hand the
decisions to :func:`carry_out`: events go to the outbox and timers are (re)scheduled in the same
transaction, so no state exists without its events and its countdown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwMode,
    Catalogue,
    Channel,
    ChosenDisposition,
    ClosedBy,
    Decision,
    DispositionCode,
    DispositionField,
    DispositionSet,
    Emit,
    EndCause,
    InteractionAcw,
    Note,
    NoteKind,
    Party,
    QueueAcwSettings,
    ScheduleTimer,
    Status,
)
from switchboard.acw.models import DispositionSetRow, InteractionRow, NoteRow, QueueAcwRow
from switchboard.contracts.envelope import Envelope
from switchboard.runtime.logs import get_logger
from switchboard.runtime.service import ServiceRuntime

log = get_logger(__name__)

# Ids the domain keeps as "" while still unknown (an outbound call with no queue, a customer not yet
# heard of) are absent (null) in the contracts, which type them as UUIDs.
_OPTIONAL_IDS = ("customer_id", "queue_id", "agent_id", "linked_interaction_id", "disposition_set_id")


# -- interactions ----------------------------------------------------------------------------------


async def lock_interaction(session: AsyncSession, interaction_id: str) -> InteractionRow | None:
    """The row, locked for the rest of the transaction (a timer and an agent never close it twice)."""
    query = select(InteractionRow).where(col(InteractionRow.interaction_id) == interaction_id)
    return (await session.scalars(query.with_for_update())).first()


async def get_or_create(session: AsyncSession, interaction_id: str, now: datetime) -> InteractionRow:
    row = await lock_interaction(session, interaction_id)
    if row is None:
        # Two topics may create it at once; the loser's unique-key error is retried by the consumer and
        # then finds this row.
        row = InteractionRow(interaction_id=interaction_id, updated_at=now)
        session.add(row)
        await session.flush()
    return row


def _times(pairs: Iterable[tuple[datetime, datetime]]) -> str:
    return json.dumps([[start.isoformat(), end.isoformat()] for start, end in pairs])


def _parse_times(raw: str) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in json.loads(raw))


def _chosen(raw: str) -> tuple[ChosenDisposition, ...]:
    return tuple(ChosenDisposition(**item) for item in json.loads(raw))


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def to_domain(row: InteractionRow) -> InteractionAcw:
    """The domain state of a tracked interaction (opened by an assignment)."""
    if not row.tracked or row.assigned_at is None or row.channel is None:
        raise LookupError(f"interaction {row.interaction_id} is not tracked yet")
    return InteractionAcw(
        interaction_id=row.interaction_id,
        customer_id=row.customer_id or "",
        channel=Channel(row.channel),
        queue_id=row.queue_id or "",
        agent_id=row.agent_id,
        assigned_at=row.assigned_at,
        auto_answer=row.auto_answer,
        agent_replied=row.agent_replied,
        linked_interaction_id=row.linked_interaction_id,
        consumes_slot=row.consumes_slot,
        snoozes=_parse_times(row.snoozes),
        end_requested_by=row.end_requested_by,
        end_requested_at=row.end_requested_at,
        status=Status(row.status),
        end_cause=EndCause(row.end_cause) if row.end_cause else None,
        ended_by=Party(row.ended_by) if row.ended_by else None,
        ended_at=row.ended_at,
        acw_mode=AcwMode(row.acw_mode) if row.acw_mode else None,
        disposition_set_id=row.disposition_set_id,
        acw_due_at=row.acw_due_at,
        slot_released=row.slot_released,
        draft=tuple((f, c) for f, c in json.loads(row.draft)),
        draft_description=row.draft_description,
        closed_at=row.closed_at,
        closed_by=ClosedBy(row.closed_by) if row.closed_by else None,
        dispositions=_chosen(row.dispositions),
        description=row.description,
        handle_time=_seconds(row.handle_time_seconds),
        acw_time=_seconds(row.acw_time_seconds),
    )


def save_interaction(row: InteractionRow, ix: InteractionAcw, now: datetime) -> None:
    """Write the domain state back onto its row (the session flushes it with the transaction)."""
    row.tracked = True
    row.customer_id = ix.customer_id or None
    row.channel = ix.channel.value
    row.queue_id = ix.queue_id or None
    row.agent_id = ix.agent_id
    row.assigned_at = ix.assigned_at
    row.auto_answer = ix.auto_answer
    row.agent_replied = ix.agent_replied
    row.linked_interaction_id = ix.linked_interaction_id
    row.consumes_slot = ix.consumes_slot
    row.snoozes = _times(ix.snoozes)
    row.end_requested_by = ix.end_requested_by
    row.end_requested_at = ix.end_requested_at
    row.status = ix.status.value
    row.end_cause = ix.end_cause.value if ix.end_cause else None
    row.ended_by = ix.ended_by.value if ix.ended_by else None
    row.ended_at = ix.ended_at
    row.acw_mode = ix.acw_mode.value if ix.acw_mode else None
    row.disposition_set_id = ix.disposition_set_id
    row.acw_due_at = ix.acw_due_at
    row.slot_released = ix.slot_released
    row.draft = json.dumps([list(pair) for pair in ix.draft])
    row.draft_description = ix.draft_description
    row.closed_at = ix.closed_at
    row.closed_by = ix.closed_by.value if ix.closed_by else None
    row.dispositions = json.dumps(
        [
            {"field": d.field, "code": d.code, "label": d.label, "system_generated": d.system_generated}
            for d in ix.dispositions
        ]
    )
    row.description = ix.description
    row.handle_time_seconds = ix.handle_time.total_seconds() if ix.handle_time is not None else None
    row.acw_time_seconds = ix.acw_time.total_seconds() if ix.acw_time is not None else None
    row.updated_at = now


def replied_agents(row: InteractionRow) -> list[str]:
    return list(json.loads(row.replied_agents))


def add_replied_agent(row: InteractionRow, agent_id: str) -> None:
    agents = replied_agents(row)
    if agent_id not in agents:
        row.replied_agents = json.dumps([*agents, agent_id])


# -- disposition sets and queue settings ---------------------------------------------------------


def set_to_json(dset: DispositionSet) -> str:
    return json.dumps(
        [
            {
                "name": f.name,
                "label": f.label,
                "required": f.required,
                "codes": [
                    {"code": c.code, "label": c.label, "retired": c.retired, "builtin": c.builtin}
                    for c in f.codes
                ],
            }
            for f in dset.fields
        ]
    )


def set_from_row(row: DispositionSetRow) -> DispositionSet:
    fields = tuple(
        DispositionField(
            name=f["name"],
            label=f["label"],
            required=f["required"],
            codes=tuple(DispositionCode(**c) for c in f["codes"]),
        )
        for f in json.loads(row.fields)
    )
    return DispositionSet(set_id=row.set_id, name=row.name, fields=fields)


async def load_sets(session: AsyncSession) -> list[DispositionSet]:
    rows = (
        await session.scalars(select(DispositionSetRow).order_by(col(DispositionSetRow.created_at)))
    ).all()
    return [set_from_row(r) for r in rows]


def queue_settings(row: QueueAcwRow) -> QueueAcwSettings:
    return QueueAcwSettings(
        mode=AcwMode(row.mode),
        disposition_set_id=row.disposition_set_id,
        timeout=timedelta(seconds=row.timeout_seconds),
    )


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """Every set and queue setting, over the built-in default (immediate release, status only)."""
    catalogue = domain.default_catalogue()
    for dset in await load_sets(session):
        catalogue = catalogue.with_set(dset)
    for row in (await session.scalars(select(QueueAcwRow))).all():
        catalogue = catalogue.with_queue(row.queue_id, queue_settings(row))
    return catalogue


# -- notes -----------------------------------------------------------------------------------------


def note_from_row(row: NoteRow) -> Note:
    return Note(
        note_id=row.note_id,
        interaction_id=row.interaction_id,
        customer_id=row.customer_id or "",
        author_id=row.author_id,
        kind=NoteKind(row.kind),
        text=row.text,
        created_at=row.created_at,
        edited_at=row.edited_at,
    )


def note_to_row(note: Note, row: NoteRow | None = None) -> NoteRow:
    target = row or NoteRow(
        note_id=note.note_id,
        interaction_id=note.interaction_id,
        author_id=note.author_id,
        kind=note.kind.value,
        text=note.text,
        created_at=note.created_at,
    )
    target.customer_id = note.customer_id or None
    target.kind = note.kind.value
    target.text = note.text
    target.edited_at = note.edited_at
    return target


# -- decisions -------------------------------------------------------------------------------------


def contract_data(emit: Emit) -> dict[str, Any]:
    data = emit.data()
    for name in _OPTIONAL_IDS:
        if data.get(name) == "":
            data[name] = None
    return data


async def carry_out(
    runtime: ServiceRuntime,
    session: AsyncSession,
    decisions: Sequence[Decision],
    *,
    causation: Envelope[Any] | None = None,
) -> None:
    """Events into the outbox and timers into their table, in the caller's transaction."""
    for decision in decisions:
        if isinstance(decision, Emit):
            spec = runtime.registry.event(decision.event_type, 1)
            payload = spec.payload.model_validate(contract_data(decision))
            runtime.emit(session, payload, key=decision.key, causation=causation)
        elif isinstance(decision, ScheduleTimer):
            await runtime.schedule(
                session, decision.kind, decision.key, decision.due_at, {"interaction_id": decision.key}
            )
        elif isinstance(decision, domain.CancelTimer):
            await runtime.cancel_timer(session, decision.kind, decision.key)
        else:
            # Routing, the single writer of capacity, frees the slot from acw.started (immediate and
            # disabled release) or interaction.closed (timed release); nothing more to publish.
            log.debug("slot released", agent_id=decision.agent_id, interaction_id=decision.interaction_id)
