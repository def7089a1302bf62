"""Fixtures shared by every test in the workspace: a real Kafka broker and real databases.

* `kafka_bootstrap` (session): bootstrap servers of one broker for the whole run — the one named by
  KAFKA_BOOTSTRAP_SERVERS, else a testcontainers Kafka when a Docker engine answers, else Apache Kafka
  started from its jars by deploy/kafka/launcher.py.
* `topic_prefix`: a prefix unique to one test; tests isolate themselves by topic and group names.
* `database_url`: runs a test twice, on a fresh SQLite file and on a fresh PostgreSQL database
  (created from TEST_DATABASE_URL, dropped afterwards). Without a reachable PostgreSQL the second leg
  is skipped locally and fails when CI is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # no stubs; only connect and execute are used
import pytest
from sqlalchemy.engine import URL, make_url

from switchboard.runtime.launcher import load_kafka_launcher

ROOT = Path(__file__).resolve().parent
POSTGRES_PROBE_TIMEOUT = 5.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker shared by the whole test session."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if configured:
        yield configured
        return
    if _docker_answers():
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:
            pass
        else:
            image = os.environ.get("KAFKA_TEST_IMAGE")
            container = KafkaContainer(image) if image else KafkaContainer()
            with container.with_kraft() as kafka:
                yield str(kafka.get_bootstrap_server())
            return
    launcher = load_kafka_launcher(ROOT)
    # A test session creates thousands of short-lived topics (one prefix per test); the broker's heap
    # holds their metadata, so it gets more room than a developer's `make kafka`.
    server = launcher.KafkaServer(heap_max="1g")
    server.start()
    try:
        yield str(server.bootstrap_servers)
    finally:
        server.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, e.g. `t1a2b3c4d.`, for its topics and consumer groups."""
    return f"t{uuid.uuid4().hex[:8]}."


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def _postgres_admin() -> URL | str:
    """The admin URL when PostgreSQL answers, else the reason it cannot be used (checked once)."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not raw:
        return "TEST_DATABASE_URL is not set (start one with deploy/postgres/start-test-cluster.sh)"
    try:
        url = make_url(raw)
    except Exception as error:
        return f"TEST_DATABASE_URL is not a database URL: {error}"
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=POSTGRES_PROBE_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        safe = url.render_as_string(hide_password=True)
        return f"PostgreSQL at {safe} is unreachable: {type(error).__name__}: {error}"
    await connection.close()
    return url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_admin: URL | str
) -> AsyncIterator[str]:
    """An empty database of its own for this test, as an async SQLAlchemy URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    if isinstance(_postgres_admin, str):
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {_postgres_admin}")
        pytest.skip(_postgres_admin)
    admin = _postgres_admin
    name = f"sb_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            # FORCE ends connections the test's engines still hold in their pools.
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
