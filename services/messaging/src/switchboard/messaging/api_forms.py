"""Secure forms: definitions (administrators), sending one to a customer (the assigned agent), and the
customer filling it through a single-use, expiring token.

The answers are validated by ``domain.forms``; what is stored is the storage view (CVV dropped, card
numbers reduced to their last four, any card number in free text masked), encrypted with AES-256-GCM.
The transcript gets a customer message showing the masked answers; topics carry ids and field names only.
The full answers exist in memory only for the length of the request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.contracts.messaging import MAX_MESSAGE_CHARS, ChatFormRequested, ChatFormSubmitted
from switchboard.messaging.api import ActorDep, TenantDep
from switchboard.messaging.domain import (
    ConversationTerminated,
    FieldType,
    FormDefinition,
    FormField,
    FormRequest,
    Message,
    MessagingError,
    Sender,
    accept_message,
    check_form_request,
    define_form,
    issue_form_request,
    mask_card_numbers,
    submit_form,
)
from switchboard.messaging.domain.policy import (
    NotAssignedAgent,
    Role,
    authorize,
    form_transcript_text,
    require_role,
)
from switchboard.messaging.models import ConversationRow, FormDefinitionRow, FormRequestRow, FormSubmissionRow
from switchboard.messaging.service import Messaging
from switchboard.messaging.store import conversation_row, participants, to_conversation
from switchboard.runtime.errors import Problem
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)

TokenPath = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=200)
    type: FieldType
    required: bool = True


class FormSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    fields: list[FieldSpec] = Field(min_length=1, max_length=100)


class SendForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form_id: UUID | None = Field(default=None, description="A stored definition")
    definition: FormSpec | None = Field(default=None, description="Or a one-off definition")

    @model_validator(mode="after")
    def _exactly_one(self) -> SendForm:
        if (self.form_id is None) == (self.definition is None):
            raise ValueError("give either form_id or definition")
        return self


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=1000)]] = Field(
        max_length=60
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _definition(row: FormDefinitionRow) -> FormDefinition:
    fields = tuple(
        FormField(f["name"], f["label"], FieldType(f["type"]), bool(f["required"]))
        for f in json.loads(row.fields)
    )
    return FormDefinition(id=row.id, title=row.title, fields=fields)


def _definition_view(form: FormDefinition) -> dict[str, Any]:
    return {
        "id": form.id,
        "title": form.title,
        "fields": [
            {"name": f.name, "label": f.label, "type": f.type.value, "required": f.required}
            for f in form.fields
        ],
    }


def _request(row: FormRequestRow, token: str = "") -> FormRequest:
    return FormRequest(token, row.form_id, row.conversation_id, row.issued_at, row.expires_at, row.used_at)


def _new_definition(spec: FormSpec, tenant: str, now: datetime) -> FormDefinitionRow:
    form = define_form(
        str(uuid.uuid4()),
        title=spec.title,
        fields=[FormField(f.name, f.label, f.type, f.required) for f in spec.fields],
    )
    return FormDefinitionRow(
        id=form.id,
        tenant=tenant,
        title=form.title,
        fields=json.dumps(_definition_view(form)["fields"]),
        created_at=now,
    )


def create_forms_router(m: Messaging) -> APIRouter:
    router = APIRouter(tags=["secure forms"])

    @router.post(
        "/forms/definitions", status_code=status.HTTP_201_CREATED, summary="Define a secure form (admin)"
    )
    async def define(body: FormSpec, actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        row = _new_definition(body, tenant, m.now())

        async def work(session: AsyncSession) -> None:
            session.add(row)

        await m.write(work)
        return _definition_view(_definition(row))

    @router.get("/forms/definitions", summary="Secure forms an agent can send")
    async def definitions(actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        require_role(actor, Role.ADMIN, Role.AGENT)

        async def work(session: AsyncSession) -> list[FormDefinitionRow]:
            query = select(FormDefinitionRow).where(col(FormDefinitionRow.tenant) == tenant)
            return list((await session.scalars(query.order_by(col(FormDefinitionRow.title)))).all())

        return {"forms": [_definition_view(_definition(r)) for r in await m.read(work)]}

    @router.post(
        "/conversations/{conversation_id}/forms",
        status_code=status.HTTP_201_CREATED,
        summary="Send the customer a secure form (assigned agent)",
    )
    async def send_form(conversation_id: UUID, body: SendForm, actor: ActorDep) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)

        async def work(session: AsyncSession) -> FormRequestRow:
            conversation = await conversation_row(session, str(conversation_id), lock=True)
            if authorize(participants(conversation), actor) is not Sender.AGENT:
                raise NotAssignedAgent("only the assigned agent sends secure forms")
            if conversation.ended_at is not None:
                raise ConversationTerminated(f"conversation {conversation.id} has ended")
            if body.definition is not None:
                definition_row = _new_definition(body.definition, conversation.tenant, m.now())
                session.add(definition_row)
            else:
                found = await session.get(FormDefinitionRow, str(body.form_id))
                if found is None or found.tenant != conversation.tenant:
                    raise Problem(404, "form-not-found", detail=f"form {body.form_id} does not exist")
                definition_row = found
            form = _definition(definition_row)
            request_id = str(uuid.uuid4())
            issued = issue_form_request(
                form, token=token, conversation_id=conversation.id, now=m.now(), ttl=m.settings.form_ttl
            )
            row = FormRequestRow(
                id=request_id,
                token_hash=_hash(token),
                token_sealed=m.cipher.encrypt({"token": token}, request_id=f"{request_id}:token"),
                form_id=form.id,
                conversation_id=conversation.id,
                requested_by=actor.id,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
            )
            session.add(row)
            m.emit(
                session,
                ChatFormRequested(
                    interaction_id=UUID(conversation.id),
                    form_request_id=UUID(request_id),
                    form_id=UUID(form.id),
                    title=form.title,
                    requested_by=UUID(actor.id),
                    expires_at=issued.expires_at,
                ),
                key=conversation.id,
            )
            return row

        row = await m.write(work)
        log.info("secure form sent", conversation_id=row.conversation_id, form_request_id=row.id)
        return {"form_request_id": row.id, "form_id": row.form_id, "expires_at": row.expires_at.isoformat()}

    @router.get("/conversations/{conversation_id}/forms", summary="Form requests of a conversation")
    async def requests(conversation_id: UUID, actor: ActorDep) -> dict[str, Any]:
        async def work(session: AsyncSession) -> tuple[Sender, list[FormRequestRow]]:
            conversation = await conversation_row(session, str(conversation_id))
            side = authorize(participants(conversation), actor)
            query = select(FormRequestRow).where(col(FormRequestRow.conversation_id) == conversation.id)
            return side, list((await session.scalars(query.order_by(col(FormRequestRow.issued_at)))).all())

        side, rows = await m.read(work)
        now = m.now()
        items = []
        for row in rows:
            state = "submitted" if row.used_at else ("expired" if now >= row.expires_at else "pending")
            item: dict[str, Any] = {
                "form_request_id": row.id,
                "form_id": row.form_id,
                "state": state,
                "expires_at": row.expires_at.isoformat(),
            }
            # Only the customer who fills the form ever sees its token.
            if side is Sender.CUSTOMER:
                if state != "pending":
                    continue
                item["token"] = m.cipher.decrypt(row.token_sealed, request_id=f"{row.id}:token")["token"]
            items.append(item)
        return {"requests": items}

    @router.get(
        "/conversations/{conversation_id}/forms/{form_request_id}",
        summary="The stored (masked, CVV-free) answers of a submitted form (assigned agent)",
    )
    async def answers(conversation_id: UUID, form_request_id: UUID, actor: ActorDep) -> dict[str, Any]:
        async def work(session: AsyncSession) -> FormSubmissionRow | None:
            conversation = await conversation_row(session, str(conversation_id))
            if authorize(participants(conversation), actor) is not Sender.AGENT:
                raise NotAssignedAgent("only the assigned agent reads form answers")
            found = await session.get(FormSubmissionRow, str(form_request_id))
            return found if found is not None and found.conversation_id == conversation.id else None

        submission = await m.read(work)
        if submission is None:
            raise Problem(404, "form-not-submitted", detail=f"form request {form_request_id} has no answers")
        values = m.cipher.decrypt(submission.ciphertext, request_id=submission.request_id)
        return {
            "form_request_id": submission.request_id,
            "message_id": submission.message_id,
            "values": values,
            "submitted_at": submission.submitted_at.isoformat(),
        }

    async def _by_token(session: AsyncSession, token: str, *, lock: bool) -> FormRequestRow:
        query = select(FormRequestRow).where(col(FormRequestRow.token_hash) == _hash(token))
        if lock:
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None:
            raise Problem(404, "form-not-found", detail="no secure form has this link")
        return row

    @router.get("/forms/{token}", summary="Open a secure form by its single-use link")
    async def open_form(token: TokenPath) -> dict[str, Any]:
        async def work(session: AsyncSession) -> tuple[FormRequestRow, FormDefinition]:
            row = await _by_token(session, token, lock=False)
            definition = await session.get(FormDefinitionRow, row.form_id)
            assert definition is not None
            return row, _definition(definition)

        row, form = await m.read(work)
        check_form_request(_request(row, token), now=m.now())
        return {**_definition_view(form), "form_request_id": row.id, "expires_at": row.expires_at.isoformat()}

    @router.post(
        "/forms/{token}", summary="Submit a secure form; the link is spent by the first valid answer"
    )
    async def submit(token: TokenPath, body: Answers) -> dict[str, Any]:
        async def work(session: AsyncSession) -> tuple[FormRequestRow, str, list[str]]:
            row = await _by_token(session, token, lock=True)
            conversation = await conversation_row(session, row.conversation_id, lock=True)
            definition_row = await session.get(FormDefinitionRow, row.form_id)
            assert definition_row is not None
            form = _definition(definition_row)
            now = m.now()
            check_form_request(_request(row, token), now=now)
            if conversation.ended_at is not None:
                raise ConversationTerminated(f"conversation {conversation.id} has ended")
            submission = submit_form(form, _request(row, token), body.values, now=now)
            row.used_at = submission.request.used_at
            stored = {name: mask_card_numbers(value).text for name, value in submission.for_storage.items()}
            lines = [(label, mask_card_numbers(value).text) for label, value in submission.for_transcript]
            text = form_transcript_text(form.title, lines)[:MAX_MESSAGE_CHARS]
            message = _transcript_message(m, conversation, row.id, text, now)
            m.insert_message(session, conversation, message, kind="form")
            session.add(
                FormSubmissionRow(
                    request_id=row.id,
                    conversation_id=conversation.id,
                    ciphertext=m.cipher.encrypt(stored, request_id=row.id),
                    message_id=message.id,
                    submitted_at=now,
                )
            )
            m.emit(
                session,
                ChatFormSubmitted(
                    interaction_id=UUID(conversation.id),
                    form_request_id=UUID(row.id),
                    message_id=UUID(message.id),
                    field_names=tuple(sorted(stored)),
                ),
                key=conversation.id,
            )
            return row, message.id, [f"{label}: {value}" for label, value in lines]

        row, message_id, shown = await m.write(work)
        log.info("secure form submitted", conversation_id=row.conversation_id, form_request_id=row.id)
        return {"form_request_id": row.id, "message_id": message_id, "transcript": shown}

    return router


def _transcript_message(
    m: Messaging, conversation: ConversationRow, request_id: str, text: str, now: datetime
) -> Message:
    try:
        accepted = accept_message(
            to_conversation(conversation),
            f"form-{request_id}",
            message_id=str(uuid.uuid4()),
            sender=Sender.CUSTOMER,
            sender_id=conversation.customer_id,
            text=text,
            now=now,
            max_length=MAX_MESSAGE_CHARS,
        )
    except MessagingError as exc:
        raise Problem(exc.status, exc.slug, detail=exc.detail) from exc
    return accepted.message
