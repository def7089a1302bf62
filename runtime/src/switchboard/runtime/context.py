"""Request-scoped facts that travel with the work: the correlation id of the chain of events."""

from __future__ import annotations

from contextvars import ContextVar
from uuid import uuid4

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str | None:
    return correlation_id.get()


def new_correlation_id() -> str:
    return uuid4().hex
