"""ACW's HTTP commands and queries: ending, dispositions, notes, and the admin's sets and queue settings.

Every command runs in one transaction with the events it causes. Refusals of the domain become
problem+json with the domain's stable slug; request bodies are validated (422 naming the field) before
anything is read. The acting agent comes from the ``X-Actor-Id`` header until the gateway passes
authenticated identities.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwError,
    AcwMode,
    Catalogue,
    DispositionSet,
    DispositionsIncomplete,
    InteractionAcw,
    NoteKind,
    QueueAcwSettings,
    Status,
)
from switchboard.acw.models import DispositionSetRow, InteractionRow, NoteRow, QueueAcwRow
from switchboard.acw.store import (
    carry_out,
    load_catalogue,
    lock_interaction,
    note_from_row,
    note_to_row,
    save_interaction,
    set_from_row,
    set_to_json,
    to_domain,
)
from switchboard.runtime.errors import Problem
from switchboard.runtime.service import ServiceRuntime

Actor = Annotated[uuid.UUID, Header(alias="X-Actor-Id", description="The acting agent")]

MAX_CHOICES = 50
TEXT_LIMIT = 20_000  # far above the domain's limits: those answer with their own slug

# The request field a domain refusal is about, so a 422 names it.
_FIELD_OF = {
    "description-too-long": "description",
    "unknown-disposition-code": "choices",
    "code-not-in-set": "choices",
    "code-not-in-field": "choices",
    "disposition-code-retired": "choices",
    "unknown-disposition-field": "choices",
    "dispositions-incomplete": "choices",
    "invalid-note": "text",
    "invalid-acw-config": "timeout_seconds",
    "invalid-disposition-code": "code",
    "invalid-disposition-label": "label",
    "invalid-disposition-field": "name",
    "required-field-without-codes": "codes",
}


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a domain refusal into problem+json with its slug and status."""
    try:
        yield
    except DispositionsIncomplete as refusal:
        raise Problem(
            refusal.status,
            refusal.slug,
            detail=refusal.detail,
            field="choices",
            missing_fields=list(refusal.missing_fields),
        ) from refusal
    except AcwError as refusal:
        extensions: dict[str, Any] = {}
        if refusal.slug in _FIELD_OF:
            extensions["field"] = _FIELD_OF[refusal.slug]
        raise Problem(refusal.status, refusal.slug, detail=refusal.detail, **extensions) from refusal


# -- request bodies --------------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DispositionsIn(Strict):
    choices: dict[Code, Code] = Field(
        default_factory=dict, max_length=MAX_CHOICES, description="Chosen code per field, e.g. status"
    )
    description: str | None = Field(
        default=None, max_length=TEXT_LIMIT, description="Why this disposition (at most 1000 characters)"
    )


class NoteIn(Strict):
    text: str = Field(max_length=TEXT_LIMIT, description="The note (at most 2000 characters)")
    kind: NoteKind = Field(default=NoteKind.GENERAL, description="What the note records")


class NoteEditIn(Strict):
    text: str = Field(max_length=TEXT_LIMIT, description="The new text")
    kind: NoteKind | None = Field(default=None, description="A new kind, if it changes")


class CodeIn(Strict):
    code: Code
    label: Name


class FieldIn(Strict):
    name: Code
    label: Name
    required: bool = False
    codes: list[CodeIn] = Field(default_factory=list, max_length=200)


class SetIn(Strict):
    name: Name
    status_codes: list[CodeIn] = Field(
        default_factory=list, max_length=200, description="Custom statuses beside Resolved/Abandoned/Pending"
    )
    fields: list[FieldIn] = Field(default_factory=list, max_length=MAX_CHOICES)


class SetPatch(Strict):
    name: Name


class FieldPatch(Strict):
    label: Name | None = None
    required: bool | None = None


class CodePatch(Strict):
    label: Name | None = None
    retired: bool | None = None


class QueueAcwIn(Strict):
    mode: AcwMode
    timeout_seconds: int = Field(
        default=int(domain.DEFAULT_ACW_TIMEOUT.total_seconds()),
        ge=int(domain.MIN_ACW_TIMEOUT.total_seconds()),
        le=int(domain.MAX_ACW_TIMEOUT.total_seconds()),
        description="Timed release only: seconds to dispose, 10 s to 15 min",
    )
    disposition_set_id: uuid.UUID = Field(default=uuid.UUID(domain.DEFAULT_SET_ID))


# -- views -----------------------------------------------------------------------------------------


class CodeView(BaseModel):
    code: str
    label: str
    retired: bool
    builtin: bool


class FieldView(BaseModel):
    name: str
    label: str
    required: bool
    codes: list[CodeView]


class SetView(BaseModel):
    set_id: str
    name: str
    fields: list[FieldView]


class ChosenView(BaseModel):
    field: str
    code: str
    label: str
    system_generated: bool


class AcwView(BaseModel):
    mode: AcwMode
    deadline: datetime | None
    seconds_left: float | None
    disposition_set: SetView | None
    required_fields: list[str]
    draft: dict[str, str]
    draft_description: str | None


class ClosedView(BaseModel):
    closed_at: datetime
    closed_by: str
    dispositions: list[ChosenView]
    description: str | None
    handle_time_seconds: float | None
    acw_seconds: float | None


class InteractionView(BaseModel):
    interaction_id: str
    status: Status
    channel: str
    queue_id: str | None
    agent_id: str | None
    customer_id: str | None
    linked_interaction_id: str | None
    auto_answer: bool
    agent_replied: bool
    end_available: bool
    end_requested: bool
    end_cause: str | None
    ended_by: str | None
    ended_at: datetime | None
    acw: AcwView | None
    closed: ClosedView | None


class NoteView(BaseModel):
    note_id: str
    interaction_id: str
    customer_id: str | None
    author_id: str
    kind: NoteKind
    text: str
    created_at: datetime
    edited_at: datetime | None
    earlier_interaction: bool = Field(description="Written on another interaction of the same customer")


class NotesView(BaseModel):
    interaction_id: str
    customer_id: str | None
    notes: list[NoteView]


class QueueAcwView(BaseModel):
    queue_id: str
    configured: bool
    mode: AcwMode
    timeout_seconds: int
    disposition_set_id: str


def set_view(dset: DispositionSet) -> SetView:
    return SetView(
        set_id=dset.set_id,
        name=dset.name,
        fields=[
            FieldView(
                name=f.name,
                label=f.label,
                required=f.required,
                codes=[
                    CodeView(code=c.code, label=c.label, retired=c.retired, builtin=c.builtin)
                    for c in f.codes
                ],
            )
            for f in dset.fields
        ],
    )


def interaction_view(ix: InteractionAcw, catalogue: Catalogue, now: datetime) -> InteractionView:
    acw: AcwView | None = None
    if ix.status is Status.ACW and ix.acw_mode is not None:
        dset = catalogue.sets.get(ix.disposition_set_id or "")
        left = ix.time_left(now)
        acw = AcwView(
            mode=ix.acw_mode,
            deadline=ix.acw_due_at,
            seconds_left=left.total_seconds() if left is not None else None,
            disposition_set=set_view(dset) if dset is not None else None,
            required_fields=list(dset.required_fields()) if dset is not None else [],
            draft=ix.draft_choices,
            draft_description=ix.draft_description,
        )
    closed: ClosedView | None = None
    if ix.status is Status.CLOSED and ix.closed_at is not None and ix.closed_by is not None:
        closed = ClosedView(
            closed_at=ix.closed_at,
            closed_by=ix.closed_by.value,
            dispositions=[
                ChosenView(field=d.field, code=d.code, label=d.label, system_generated=d.system_generated)
                for d in ix.dispositions
            ],
            description=ix.description,
            handle_time_seconds=ix.handle_time.total_seconds() if ix.handle_time is not None else None,
            acw_seconds=ix.acw_time.total_seconds() if ix.acw_time is not None else None,
        )
    return InteractionView(
        interaction_id=ix.interaction_id,
        status=ix.status,
        channel=ix.channel.value,
        queue_id=ix.queue_id or None,
        agent_id=ix.agent_id,
        customer_id=ix.customer_id or None,
        linked_interaction_id=ix.linked_interaction_id,
        auto_answer=ix.auto_answer,
        agent_replied=ix.agent_replied,
        end_available=domain.end_available(ix),
        end_requested=ix.end_requested_by is not None,
        end_cause=ix.end_cause.value if ix.end_cause else None,
        ended_by=ix.ended_by.value if ix.ended_by else None,
        ended_at=ix.ended_at,
        acw=acw,
        closed=closed,
    )


def note_view(note: domain.Note, interaction_id: str) -> NoteView:
    return NoteView(
        note_id=note.note_id,
        interaction_id=note.interaction_id,
        customer_id=note.customer_id or None,
        author_id=note.author_id,
        kind=note.kind,
        text=note.text,
        created_at=note.created_at,
        edited_at=note.edited_at,
        earlier_interaction=note.interaction_id != interaction_id,
    )


def queue_view(queue_id: str, settings: QueueAcwSettings, configured: bool) -> QueueAcwView:
    return QueueAcwView(
        queue_id=queue_id,
        configured=configured,
        mode=settings.mode,
        timeout_seconds=int(settings.timeout.total_seconds()),
        disposition_set_id=settings.disposition_set_id,
    )


# -- routes ----------------------------------------------------------------------------------------

Command = Callable[[InteractionAcw, Catalogue, str, datetime], domain.Outcome]


def build_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter()

    async def tracked(
        session: AsyncSession, interaction_id: uuid.UUID, *, lock: bool = True
    ) -> tuple[InteractionRow, InteractionAcw]:
        if lock:
            row = await lock_interaction(session, str(interaction_id))
        else:
            row = await session.get(InteractionRow, str(interaction_id))
        if row is None or not row.tracked:
            raise Problem(404, "interaction-not-found", detail=f"no assigned interaction {interaction_id}")
        return row, to_domain(row)

    async def command(interaction_id: uuid.UUID, actor: uuid.UUID, run: Command) -> InteractionView:
        async with runtime.transaction() as session:
            row, ix = await tracked(session, interaction_id)
            catalogue = await load_catalogue(session)
            now = runtime.clock.now()
            with refusals():
                new, decisions = run(ix, catalogue, str(actor), now)
            save_interaction(row, new, now)
            await carry_out(runtime, session, decisions)
        return interaction_view(new, catalogue, now)

    # -- ending ------------------------------------------------------------------------------------

    @router.get(
        "/interactions/{interaction_id}", tags=["interactions"], summary="ACW state of an interaction"
    )
    async def get_interaction(interaction_id: uuid.UUID) -> InteractionView:
        async with runtime.transaction() as session:
            _, ix = await tracked(session, interaction_id, lock=False)
            catalogue = await load_catalogue(session)
        return interaction_view(ix, catalogue, runtime.clock.now())

    @router.post("/interactions/{interaction_id}/end", tags=["interactions"], summary="End (asks to confirm)")
    async def request_end(interaction_id: uuid.UUID, actor: Actor) -> InteractionView:
        return await command(interaction_id, actor, lambda ix, _, a, now: domain.request_end(ix, a, now))

    @router.post("/interactions/{interaction_id}/end/confirm", tags=["interactions"], summary="Yes: end it")
    async def confirm_end(interaction_id: uuid.UUID, actor: Actor) -> InteractionView:
        return await command(interaction_id, actor, domain.confirm_end)

    @router.post("/interactions/{interaction_id}/end/cancel", tags=["interactions"], summary="No: keep it")
    async def cancel_end(interaction_id: uuid.UUID, actor: Actor) -> InteractionView:
        return await command(interaction_id, actor, lambda ix, _, a, __: domain.cancel_end(ix, a))

    @router.get("/agents/{agent_id}/acw", tags=["interactions"], summary="An agent's interactions in ACW")
    async def agent_acw(agent_id: uuid.UUID) -> list[InteractionView]:
        async with runtime.transaction() as session:
            rows = (
                await session.scalars(
                    select(InteractionRow)
                    .where(
                        col(InteractionRow.agent_id) == str(agent_id),
                        col(InteractionRow.status) == Status.ACW.value,
                        col(InteractionRow.tracked).is_(True),
                    )
                    .order_by(col(InteractionRow.ended_at), col(InteractionRow.interaction_id))
                )
            ).all()
            catalogue = await load_catalogue(session)
        now = runtime.clock.now()
        return [interaction_view(to_domain(r), catalogue, now) for r in rows]

    # -- dispositions ------------------------------------------------------------------------------

    @router.put("/interactions/{interaction_id}/dispositions", tags=["dispositions"], summary="Save a draft")
    async def save_draft(interaction_id: uuid.UUID, body: DispositionsIn, actor: Actor) -> InteractionView:
        return await command(
            interaction_id,
            actor,
            lambda ix, cat, a, now: domain.save_draft(ix, cat, a, body.choices, body.description, now),
        )

    @router.post(
        "/interactions/{interaction_id}/dispositions", tags=["dispositions"], summary="Submit and close"
    )
    async def submit(interaction_id: uuid.UUID, body: DispositionsIn, actor: Actor) -> InteractionView:
        return await command(
            interaction_id,
            actor,
            lambda ix, cat, a, now: domain.submit_dispositions(
                ix, cat, a, body.choices, body.description, now
            ),
        )

    # -- notes -------------------------------------------------------------------------------------

    @router.get("/interactions/{interaction_id}/notes", tags=["notes"], summary="Notes, newest first")
    async def list_notes(interaction_id: uuid.UUID) -> NotesView:
        iid = str(interaction_id)
        async with runtime.transaction() as session:
            row = await session.get(InteractionRow, iid)
            if row is None:
                raise Problem(404, "interaction-not-found", detail=f"no interaction {interaction_id}")
            customer = row.customer_id
            matches = col(NoteRow.interaction_id) == iid
            if customer is not None:
                matches = or_(matches, col(NoteRow.customer_id) == customer)
            rows = (await session.scalars(select(NoteRow).where(matches))).all()
        # Unknown customer: an interaction id never equals a customer id, so only this one's notes.
        notes = domain.notes_for_interaction([note_from_row(r) for r in rows], iid, customer or iid)
        return NotesView(interaction_id=iid, customer_id=customer, notes=[note_view(n, iid) for n in notes])

    @router.post(
        "/interactions/{interaction_id}/notes", tags=["notes"], status_code=201, summary="Add a note"
    )
    async def add_note(interaction_id: uuid.UUID, body: NoteIn, actor: Actor) -> NoteView:
        async with runtime.transaction() as session:
            row, ix = await tracked(session, interaction_id)
            now = runtime.clock.now()
            with refusals():
                domain.check_can_add_note(ix, str(actor))
                note, decisions = domain.add_note(
                    note_id=str(uuid.uuid4()),
                    interaction_id=ix.interaction_id,
                    customer_id=row.customer_id or "",
                    author_id=str(actor),
                    kind=body.kind,
                    text=body.text,
                    now=now,
                )
            session.add(note_to_row(note))
            await carry_out(runtime, session, decisions)
        return note_view(note, ix.interaction_id)

    @router.patch("/notes/{note_id}", tags=["notes"], summary="Edit a note (its author only)")
    async def edit_note(note_id: uuid.UUID, body: NoteEditIn, actor: Actor) -> NoteView:
        async with runtime.transaction() as session:
            row = (
                await session.scalars(
                    select(NoteRow).where(col(NoteRow.note_id) == str(note_id)).with_for_update()
                )
            ).first()
            if row is None:
                raise Problem(404, "note-not-found", detail=f"no note {note_id}")
            with refusals():
                note, decisions = domain.edit_note(
                    note_from_row(row), str(actor), body.text, runtime.clock.now(), kind=body.kind
                )
            note_to_row(note, row)
            await carry_out(runtime, session, decisions)
        return note_view(note, note.interaction_id)

    # -- admin: disposition sets -------------------------------------------------------------------

    async def load_set(session: AsyncSession, set_id: uuid.UUID) -> DispositionSet:
        catalogue = await load_catalogue(session)
        with refusals():
            return catalogue.disposition_set(str(set_id))

    async def store_set(session: AsyncSession, dset: DispositionSet) -> SetView:
        now = runtime.clock.now()
        row = await session.get(DispositionSetRow, dset.set_id, with_for_update=True)
        if row is None:
            row = DispositionSetRow(
                set_id=dset.set_id, name=dset.name, fields=set_to_json(dset), created_at=now, updated_at=now
            )
            session.add(row)
        else:
            row.name, row.fields, row.updated_at = dset.name, set_to_json(dset), now
        await session.flush()
        return set_view(set_from_row(row))

    async def change_set(set_id: uuid.UUID, change: Callable[[DispositionSet], DispositionSet]) -> SetView:
        async with runtime.transaction() as session:
            dset = await load_set(session, set_id)
            with refusals():
                changed = change(dset)
            return await store_set(session, changed)

    @router.get("/admin/disposition-sets", tags=["admin"], summary="Every disposition set")
    async def list_sets() -> list[SetView]:
        async with runtime.transaction() as session:
            catalogue = await load_catalogue(session)
        return [set_view(s) for s in catalogue.sets.values()]

    @router.post("/admin/disposition-sets", tags=["admin"], status_code=201, summary="Create a set")
    async def create_set(body: SetIn) -> SetView:
        with refusals():
            dset = domain.new_disposition_set(str(uuid.uuid4()), body.name)
            for status in body.status_codes:
                dset = domain.add_code(dset, domain.STATUS_FIELD, status.code, status.label)
            for fld in body.fields:
                dset = domain.add_field(
                    dset,
                    fld.name,
                    fld.label,
                    required=fld.required,
                    codes=[(c.code, c.label) for c in fld.codes],
                )
        async with runtime.transaction() as session:
            return await store_set(session, dset)

    @router.get("/admin/disposition-sets/{set_id}", tags=["admin"], summary="One disposition set")
    async def get_set(set_id: uuid.UUID) -> SetView:
        async with runtime.transaction() as session:
            return set_view(await load_set(session, set_id))

    @router.patch("/admin/disposition-sets/{set_id}", tags=["admin"], summary="Rename a set")
    async def rename_set(set_id: uuid.UUID, body: SetPatch) -> SetView:
        return await change_set(
            set_id, lambda d: DispositionSet(set_id=d.set_id, name=body.name, fields=d.fields)
        )

    @router.delete(
        "/admin/disposition-sets/{set_id}", tags=["admin"], status_code=204, summary="Delete an unused set"
    )
    async def delete_set(set_id: uuid.UUID) -> Response:
        sid = str(set_id)
        async with runtime.transaction() as session:
            await load_set(session, set_id)
            if sid == domain.DEFAULT_SET_ID:
                raise Problem(
                    409, "disposition-set-in-use", detail="the default set applies to unconfigured queues"
                )
            used = await session.scalar(
                sa.select(sa.func.count())
                .select_from(QueueAcwRow)
                .where(col(QueueAcwRow.disposition_set_id) == sid)
            )
            used_by_interactions = await session.scalar(
                sa.select(sa.func.count())
                .select_from(InteractionRow)
                .where(col(InteractionRow.disposition_set_id) == sid)
            )
            if used or used_by_interactions:
                # Closed interactions keep pointing at their set, so a set once used stays readable.
                raise Problem(
                    409,
                    "disposition-set-in-use",
                    detail=f"set {sid} is used by {used or 0} queue(s) and {used_by_interactions or 0} interaction(s)",
                )
            row = await session.get(DispositionSetRow, sid)
            if row is not None:
                await session.delete(row)
        return Response(status_code=204)

    @router.post(
        "/admin/disposition-sets/{set_id}/fields", tags=["admin"], status_code=201, summary="Add a field"
    )
    async def add_field(set_id: uuid.UUID, body: FieldIn) -> SetView:
        return await change_set(
            set_id,
            lambda d: domain.add_field(
                d,
                body.name,
                body.label,
                required=body.required,
                codes=[(c.code, c.label) for c in body.codes],
            ),
        )

    @router.patch(
        "/admin/disposition-sets/{set_id}/fields/{field_name}", tags=["admin"], summary="Change a field"
    )
    async def change_field(set_id: uuid.UUID, field_name: Code, body: FieldPatch) -> SetView:
        def change(d: DispositionSet) -> DispositionSet:
            if body.label is not None:
                d = domain.relabel_field(d, field_name, body.label)
            if body.required is not None:
                d = domain.set_field_required(d, field_name, body.required)
            return d

        return await change_set(set_id, change)

    @router.post(
        "/admin/disposition-sets/{set_id}/fields/{field_name}/codes",
        tags=["admin"],
        status_code=201,
        summary="Add a code to a field",
    )
    async def add_code(set_id: uuid.UUID, field_name: Code, body: CodeIn) -> SetView:
        return await change_set(set_id, lambda d: domain.add_code(d, field_name, body.code, body.label))

    @router.patch(
        "/admin/disposition-sets/{set_id}/codes/{code}",
        tags=["admin"],
        summary="Relabel, retire or restore a code",
    )
    async def change_code(set_id: uuid.UUID, code: Code, body: CodePatch) -> SetView:
        def change(d: DispositionSet) -> DispositionSet:
            if body.label is not None:
                d = domain.relabel_code(d, code, body.label)
            if body.retired is True:
                d = domain.retire_code(d, code)
            elif body.retired is False:
                d = domain.restore_code(d, code)
            return d

        return await change_set(set_id, change)

    # -- admin: queues -----------------------------------------------------------------------------

    @router.get("/admin/queues/{queue_id}/acw", tags=["admin"], summary="A queue's ACW settings")
    async def get_queue(queue_id: uuid.UUID) -> QueueAcwView:
        qid = str(queue_id)
        async with runtime.transaction() as session:
            catalogue = await load_catalogue(session)
        return queue_view(qid, catalogue.settings_for(qid), qid in catalogue.queues)

    @router.put("/admin/queues/{queue_id}/acw", tags=["admin"], summary="Set a queue's ACW settings")
    async def put_queue(queue_id: uuid.UUID, body: QueueAcwIn) -> QueueAcwView:
        qid, sid = str(queue_id), str(body.disposition_set_id)
        with refusals():
            settings = QueueAcwSettings(
                mode=body.mode, disposition_set_id=sid, timeout=timedelta(seconds=body.timeout_seconds)
            )
        async with runtime.transaction() as session:
            catalogue = await load_catalogue(session)
            if sid not in catalogue.sets:
                raise Problem(
                    422,
                    "disposition-set-not-found",
                    detail=f"no disposition set {sid}",
                    field="disposition_set_id",
                )
            now = runtime.clock.now()
            row = await session.get(QueueAcwRow, qid, with_for_update=True)
            if row is None:
                row = QueueAcwRow(
                    queue_id=qid, mode="", timeout_seconds=0, disposition_set_id=sid, updated_at=now
                )
                session.add(row)
            row.mode = settings.mode.value
            row.timeout_seconds = body.timeout_seconds
            row.disposition_set_id = sid
            row.updated_at = now
        return queue_view(qid, settings, True)

    return router
