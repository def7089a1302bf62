"""Attachments: upload (multipart) before sending, then download by the conversation's participants.

Every file is judged by its bytes (``domain.attachments``): a spoofed content type or extension is 415, a
file over the size limit 413, more files than a message may carry 422. All files of one upload are checked
before any is stored. Bytes go to the blob store under a UUID; the sanitised name is metadata only.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, File, Response, UploadFile, status
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.messaging.api import ActorDep
from switchboard.messaging.domain import (
    ConversationTerminated,
    ValidatedAttachment,
    check_attachment_count,
    validate_attachment,
)
from switchboard.messaging.domain.policy import AttachmentNotFound, Upload, authorize, check_download
from switchboard.messaging.models import AttachmentRow
from switchboard.messaging.service import Messaging
from switchboard.messaging.store import conversation_row, participants
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)


def attachment_view(row: AttachmentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "file_name": row.file_name,
        "media_type": row.media_type,
        "size": row.size,
        "sha256": row.sha256,
        "uploader_role": row.uploader_role,
        "message_id": row.message_id,
        "created_at": row.created_at.isoformat(),
    }


def _content_disposition(file_name: str) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def create_files_router(m: Messaging) -> APIRouter:
    router = APIRouter(tags=["attachments"])
    limit = m.settings.max_attachment_bytes

    @router.post(
        "/conversations/{conversation_id}/attachments",
        status_code=status.HTTP_201_CREATED,
        summary="Upload files to attach to the next message (multipart field 'files')",
    )
    async def upload(
        conversation_id: UUID, actor: ActorDep, files: Annotated[list[UploadFile], File()]
    ) -> dict[str, Any]:
        row, side = await m.conversation_for(str(conversation_id), actor)
        if row.ended_at is not None:
            raise ConversationTerminated(f"conversation {row.id} has ended; nothing can be attached")
        check_attachment_count(len(files), m.settings.max_attachments)
        accepted: list[tuple[ValidatedAttachment, bytes]] = []
        for item in files:
            # One byte past the limit is enough to know it is too large; never read the rest.
            data = await item.read(limit + 1)
            checked = validate_attachment(
                data, file_name=item.filename or "file", declared_type=item.content_type, max_bytes=limit
            )
            accepted.append((checked, data))
        rows: list[AttachmentRow] = []
        for checked, data in accepted:
            attachment_id = str(uuid.uuid4())
            await m.blobs.put(attachment_id, data)
            rows.append(
                AttachmentRow(
                    id=attachment_id,
                    conversation_id=row.id,
                    uploader_role=side.value,
                    uploader_id=actor.id,
                    file_name=checked.file_name,
                    media_type=checked.media_type,
                    size=checked.size,
                    sha256=hashlib.sha256(data).hexdigest(),
                    created_at=m.now(),
                )
            )

        async def work(session: AsyncSession) -> None:
            session.add_all(rows)

        try:
            await m.write(work)
        except BaseException:
            for stored in rows:
                await m.blobs.delete(stored.id)
            raise
        log.info("attachments uploaded", conversation_id=row.id, count=len(rows))
        return {"attachments": [attachment_view(r) for r in rows]}

    @router.get(
        "/conversations/{conversation_id}/attachments/{attachment_id}",
        summary="Download an attachment (participants only)",
        response_class=Response,
    )
    async def download(conversation_id: UUID, attachment_id: UUID, actor: ActorDep) -> Response:
        async def work(session: AsyncSession) -> AttachmentRow:
            row = await conversation_row(session, str(conversation_id))
            authorize(participants(row), actor)
            stored = await session.get(AttachmentRow, str(attachment_id))
            if stored is None:
                raise AttachmentNotFound(
                    f"attachment {attachment_id} is not in conversation {conversation_id}"
                )
            check_download(
                Upload(stored.id, stored.conversation_id, stored.uploader_id, stored.message_id),
                conversation_id=row.id,
                actor_id=actor.id,
            )
            return stored

        stored = await m.read(work)
        data = await m.blobs.get(stored.id)
        return Response(
            content=data,
            media_type=stored.media_type,
            headers={
                "Content-Disposition": _content_disposition(stored.file_name),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store",
            },
        )

    return router
