"""Time is always a parameter; these helpers keep every stored instant aware and in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime, name: str = "now") -> datetime:
    """Return ``value`` in UTC; a naive datetime is a caller bug because its zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")
    return value.astimezone(UTC)
