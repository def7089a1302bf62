"""ACW's tables: its projection of interactions, the admin's disposition sets and queue settings, notes.

The rows are storage only; :mod:`switchboard.acw.store` turns them into the domain's immutable objects
and back. Lists that are only ever read and written whole (snoozes, draft, chosen dispositions, the
fields of a disposition set) are JSON text, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from switchboard.runtime.db import UTCDateTime

ID_CHARS = 36


def _time(*, nullable: bool = True, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime, nullable=nullable, index=index)


def _text(*, nullable: bool = False, default: str | None = None) -> sa.Column[str]:
    return sa.Column(sa.Text, nullable=nullable, server_default=default)


class InteractionRow(SQLModel, table=True):
    """One interaction as ACW sees it, from the first fact heard about it to its closed record.

    Facts from other services arrive on several topics, so in any order: the customer, the linked chat,
    agent replies and an early end are kept here even before routing's assignment opens the interaction
    (``tracked``), and applied when it does.
    """

    __tablename__ = "acw_interactions"
    __table_args__ = (
        sa.Index("ix_acw_interactions_agent_status", "agent_id", "status"),
        sa.Index("ix_acw_interactions_customer", "customer_id"),
    )

    interaction_id: str = Field(primary_key=True, max_length=ID_CHARS)
    tracked: bool = Field(default=False)
    customer_id: str | None = Field(default=None, max_length=ID_CHARS)
    channel: str | None = Field(default=None, max_length=20)
    queue_id: str | None = Field(default=None, max_length=ID_CHARS)
    agent_id: str | None = Field(default=None, max_length=ID_CHARS)
    assigned_at: datetime | None = Field(default=None, sa_column=_time())
    auto_answer: bool = Field(default=False)
    agent_replied: bool = Field(default=False)
    linked_interaction_id: str | None = Field(default=None, max_length=ID_CHARS)
    consumes_slot: bool = Field(default=True)
    snoozes: str = Field(default="[]", sa_column=_text(default="[]"))
    snoozed_since: datetime | None = Field(default=None, sa_column=_time())
    replied_agents: str = Field(default="[]", sa_column=_text(default="[]"))
    pending_end: str | None = Field(default=None, sa_column=_text(nullable=True))
    end_requested_by: str | None = Field(default=None, max_length=ID_CHARS)
    end_requested_at: datetime | None = Field(default=None, sa_column=_time())
    status: str = Field(default="live", max_length=20)
    end_cause: str | None = Field(default=None, max_length=40)
    ended_by: str | None = Field(default=None, max_length=20)
    ended_at: datetime | None = Field(default=None, sa_column=_time())
    acw_mode: str | None = Field(default=None, max_length=20)
    disposition_set_id: str | None = Field(default=None, max_length=ID_CHARS)
    acw_due_at: datetime | None = Field(default=None, sa_column=_time())
    slot_released: bool = Field(default=False)
    draft: str = Field(default="[]", sa_column=_text(default="[]"))
    draft_description: str | None = Field(default=None, sa_column=_text(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_time())
    closed_by: str | None = Field(default=None, max_length=20)
    dispositions: str = Field(default="[]", sa_column=_text(default="[]"))
    description: str | None = Field(default=None, sa_column=_text(nullable=True))
    handle_time_seconds: float | None = Field(default=None)
    acw_time_seconds: float | None = Field(default=None)
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class DispositionSetRow(SQLModel, table=True):
    """A disposition set with its fields and codes (retired codes included: they stay readable)."""

    __tablename__ = "acw_disposition_sets"

    set_id: str = Field(primary_key=True, max_length=ID_CHARS)
    name: str = Field(max_length=200)
    fields: str = Field(sa_column=_text())
    created_at: datetime = Field(sa_column=_time(nullable=False))
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class QueueAcwRow(SQLModel, table=True):
    """A queue's ACW mode, timed-release timeout and disposition set."""

    __tablename__ = "acw_queue_settings"

    queue_id: str = Field(primary_key=True, max_length=ID_CHARS)
    mode: str = Field(max_length=20)
    timeout_seconds: int
    disposition_set_id: str = Field(max_length=ID_CHARS)
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class NoteRow(SQLModel, table=True):
    """A note on an interaction; never deleted. ``customer_id`` lets later interactions find it."""

    __tablename__ = "acw_notes"
    __table_args__ = (
        sa.Index("ix_acw_notes_interaction", "interaction_id"),
        sa.Index("ix_acw_notes_customer", "customer_id"),
    )

    note_id: str = Field(primary_key=True, max_length=ID_CHARS)
    interaction_id: str = Field(max_length=ID_CHARS)
    customer_id: str | None = Field(default=None, max_length=ID_CHARS)
    author_id: str = Field(max_length=ID_CHARS)
    kind: str = Field(max_length=40)
    text: str = Field(sa_column=_text())
    created_at: datetime = Field(sa_column=_time(nullable=False))
    edited_at: datetime | None = Field(default=None, sa_column=_time())


ACW_TABLES: tuple[sa.Table, ...] = (
    InteractionRow.__table__,  # type: ignore[attr-defined]
    DispositionSetRow.__table__,  # type: ignore[attr-defined]
    QueueAcwRow.__table__,  # type: ignore[attr-defined]
    NoteRow.__table__,  # type: ignore[attr-defined]
)
