"""The runtime's own tables, present in every service's database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from switchboard.runtime.db import UTCDateTime


class OutboxRow(SQLModel, table=True):
    __tablename__ = "sb_outbox"
    __table_args__ = (sa.Index("ix_sb_outbox_unsent", "sent_at", "id"),)

    # The autoincrement id is the publishing order; per key it is the order the events happened in.
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=200)
    type: str = Field(max_length=100)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    headers: str = Field(sa_column=sa.Column(sa.Text, nullable=False, server_default="{}"))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))


class InboxRow(SQLModel, table=True):
    __tablename__ = "sb_inbox"

    consumer: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=36)
    topic: str = Field(max_length=255)
    processed_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class TimerRow(SQLModel, table=True):
    __tablename__ = "sb_timers"
    __table_args__ = (
        sa.UniqueConstraint("kind", "key", name="uq_sb_timers_kind_key"),
        sa.Index("ix_sb_timers_due", "fired_at", "cancelled_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=100)
    key: str = Field(max_length=200)
    due_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False, server_default="{}"))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    fired_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))


RUNTIME_TABLES: tuple[sa.Table, ...] = (
    OutboxRow.__table__,  # type: ignore[attr-defined]
    InboxRow.__table__,  # type: ignore[attr-defined]
    TimerRow.__table__,  # type: ignore[attr-defined]
)
