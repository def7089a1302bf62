"""Messaging's tables (SQLModel). Messaging is their single writer; other services learn from its events.

Names start with ``msg_`` so several services' tables can live in one process's metadata. There are no
foreign keys: the kit creates tables in name order, and references are checked by the code. Times are
``UTCDateTime`` (aware UTC on both databases); small lists are JSON text, portable across both.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from switchboard.runtime.db import UTCDateTime


def _time(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime, nullable=nullable)


class ConversationRow(SQLModel, table=True):
    """One chat conversation; its id is the interaction id routing, acw and the gateway use."""

    __tablename__ = "msg_conversations"

    id: str = Field(primary_key=True, max_length=36)
    tenant: str = Field(max_length=100, index=True)
    customer_id: str = Field(max_length=36, index=True)
    customer_name: str | None = Field(default=None, max_length=200)
    intent: str | None = Field(default=None, max_length=200)
    queue_hint: str | None = Field(default=None, max_length=200)
    # Learned from routing's interaction.assigned / interaction.transferred: who may send as the agent.
    agent_id: str | None = Field(default=None, max_length=36, index=True)
    agent_name: str | None = Field(default=None, max_length=200)
    queue_name: str | None = Field(default=None, max_length=200)
    last_seq: int = Field(default=0)
    started_at: datetime = Field(sa_column=_time())
    ended_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    ended_by: str | None = Field(default=None, max_length=20)


class MessageRow(SQLModel, table=True):
    __tablename__ = "msg_messages"
    __table_args__ = (
        # One message per client id: concurrent retries of one send make one message.
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_msg_messages_client_id"),
        # Gap-free transcript order; two writers can never take the same position.
        sa.UniqueConstraint("conversation_id", "seq", name="uq_msg_messages_seq"),
    )

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(max_length=36)
    seq: int
    client_id: str = Field(max_length=100)
    sender_role: str = Field(max_length=20)
    sender_id: str = Field(max_length=36)
    # Cleaned, card numbers masked: the clear text never reaches this column.
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    state: str = Field(max_length=20)
    attempt: int = Field(default=1)
    attachment_ids: str = Field(default="[]", sa_column=sa.Column(sa.Text, nullable=False))
    kind: str = Field(default="text", max_length=20)  # text | form (a submitted secure form, masked)
    created_at: datetime = Field(sa_column=_time())
    updated_at: datetime = Field(sa_column=_time())


class ReactionRow(SQLModel, table=True):
    __tablename__ = "msg_reactions"

    message_id: str = Field(primary_key=True, max_length=36)
    emoji: str = Field(primary_key=True, max_length=64)
    participant_id: str = Field(primary_key=True, max_length=36)
    participant_role: str = Field(max_length=20)
    created_at: datetime = Field(sa_column=_time())


class AttachmentRow(SQLModel, table=True):
    """Metadata of an uploaded file; the bytes live in the blob store under the attachment id."""

    __tablename__ = "msg_attachments"

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(max_length=36, index=True)
    uploader_role: str = Field(max_length=20)
    uploader_id: str = Field(max_length=36)
    file_name: str = Field(max_length=255)
    media_type: str = Field(max_length=120)
    size: int
    sha256: str = Field(max_length=64)
    message_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_column=_time())


class ResponseCategoryRow(SQLModel, table=True):
    __tablename__ = "msg_response_categories"
    __table_args__ = (sa.UniqueConstraint("tenant", "folded_name", name="uq_msg_response_category"),)

    id: str = Field(primary_key=True, max_length=36)
    tenant: str = Field(max_length=100)
    name: str = Field(max_length=60)
    folded_name: str = Field(max_length=240)  # case-folded: "Billing" and "billing" are one category
    created_at: datetime = Field(sa_column=_time())


class ResponseTemplateRow(SQLModel, table=True):
    __tablename__ = "msg_response_templates"
    __table_args__ = (sa.UniqueConstraint("tenant", "shortcut", name="uq_msg_response_shortcut"),)

    id: str = Field(primary_key=True, max_length=36)
    tenant: str = Field(max_length=100, index=True)
    category_id: str = Field(max_length=36)
    shortcut: str = Field(max_length=32)
    title: str = Field(max_length=100)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    channels: str = Field(max_length=40)  # comma-separated: chat,email
    created_at: datetime = Field(sa_column=_time())
    updated_at: datetime = Field(sa_column=_time())


class FormDefinitionRow(SQLModel, table=True):
    __tablename__ = "msg_form_definitions"

    id: str = Field(primary_key=True, max_length=36)
    tenant: str = Field(max_length=100, index=True)
    title: str = Field(max_length=100)
    fields: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # JSON list of field specs
    created_at: datetime = Field(sa_column=_time())


class FormRequestRow(SQLModel, table=True):
    """A single-use token for one form in one conversation. Only the token's SHA-256 is stored."""

    __tablename__ = "msg_form_requests"

    id: str = Field(primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True)
    # The token itself, encrypted, so the customer's widget can fetch it; never in logs or on a topic.
    token_sealed: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    form_id: str = Field(max_length=36)
    conversation_id: str = Field(max_length=36, index=True)
    requested_by: str = Field(max_length=36)
    issued_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class FormSubmissionRow(SQLModel, table=True):
    """The answers, encrypted (AES-256-GCM, bound to the request id); CVVs were dropped before."""

    __tablename__ = "msg_form_submissions"

    request_id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(max_length=36, index=True)
    ciphertext: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    message_id: str = Field(max_length=36)
    submitted_at: datetime = Field(sa_column=_time())


class FeatureFlagRow(SQLModel, table=True):
    __tablename__ = "msg_feature_flags"

    tenant: str = Field(primary_key=True, max_length=100)
    feature: str = Field(primary_key=True, max_length=60)
    enabled: bool
    updated_at: datetime = Field(sa_column=_time())


TABLES: tuple[sa.Table, ...] = tuple(
    model.__table__  # type: ignore[attr-defined,union-attr]
    for model in (
        ConversationRow,
        MessageRow,
        ReactionRow,
        AttachmentRow,
        ResponseCategoryRow,
        ResponseTemplateRow,
        FormDefinitionRow,
        FormRequestRow,
        FormSubmissionRow,
        FeatureFlagRow,
    )
)
