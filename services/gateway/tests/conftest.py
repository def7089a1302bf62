"""A real gateway for the gateway's tests: uvicorn on a free loopback port, real Kafka, both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from switchboard.gateway.testing import Gateway, running_gateway


@pytest.fixture
async def gateway(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    async with running_gateway(kafka_bootstrap, database_url, topic_prefix, **overrides) as gateway:
        yield gateway
