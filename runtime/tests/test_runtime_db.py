"""Schema creation and additive migration at start, and aware UTC times, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from switchboard.runtime.db import Database, SchemaMismatch, UTCDateTime, create_schema


def _table(metadata: sa.MetaData, *extra: sa.Column[object]) -> sa.Table:
    return sa.Table(
        "widgets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("made_at", UTCDateTime, nullable=False),
        *extra,
    )


async def test_schema_is_created_then_extended_by_a_newer_release(database_url: str) -> None:
    database = Database(database_url)
    v1 = _table(sa.MetaData())
    await create_schema(database.engine, [v1])
    await create_schema(database.engine, [v1])  # idempotent: a restart changes nothing
    paris = timezone(timedelta(hours=2))
    made = datetime(2026, 6, 24, 13, 0, tzinfo=paris)
    async with database.transaction() as session:
        await session.execute(v1.insert().values(id=1, made_at=made))

    v2 = _table(
        sa.MetaData(),
        sa.Column("colour", sa.String(20), nullable=True),
        sa.Column("size", sa.Integer, nullable=False, server_default="3"),
    )
    await create_schema(database.engine, [v2])
    async with database.transaction() as session:
        row = (await session.execute(sa.select(v2))).one()
    assert row.colour is None
    assert row.size == 3
    assert row.made_at == made
    assert row.made_at.tzinfo is UTC  # stored and returned as UTC, whatever zone it came in
    await database.dispose()


async def test_a_migration_the_kit_cannot_do_stops_the_start_with_a_reason(database_url: str) -> None:
    database = Database(database_url)
    await create_schema(database.engine, [_table(sa.MetaData())])
    v2 = _table(sa.MetaData(), sa.Column("owner", sa.String(20), nullable=False))
    with pytest.raises(SchemaMismatch, match="widgets lacks column owner"):
        await create_schema(database.engine, [v2])
    await database.dispose()


async def test_naive_datetimes_are_refused(database_url: str) -> None:
    database = Database(database_url)
    table = _table(sa.MetaData())
    await create_schema(database.engine, [table])
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        async with database.transaction() as session:
            await session.execute(table.insert().values(id=2, made_at=datetime(2026, 1, 1)))
    await database.dispose()
