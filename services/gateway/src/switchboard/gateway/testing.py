"""Test support for the gateway: a real gateway on a free loopback port, fed by real Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, SecretStr

from switchboard.contracts import REGISTRY, make_envelope
from switchboard.gateway.app import create_app
from switchboard.gateway.auth import Principal, Role, TokenService
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.users import create_user
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import settings_for

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test users' password


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Gateway:
    url: str
    ws_url: str
    runtime: ServiceRuntime
    clock: ManualClock
    settings: GatewaySettings
    bootstrap: str
    prefix: str
    agent_a: str
    agent_b: str
    queue: str
    tokens: TokenService

    def customer_token(self, conversation_id: str) -> str:
        principal = Principal(
            subject=f"customer-{conversation_id}",
            roles=frozenset({Role.CUSTOMER}),
            conversation_id=conversation_id,
        )
        token, _ = self.tokens.issue(principal, lifetime=self.settings.customer_token_seconds)
        return token

    async def token(self, username: str, password: str = PASSWORD) -> str:
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.post("/auth/token", json={"username": username, "password": password})
            response.raise_for_status()
            token: str = response.json()["access_token"]
            return token

    async def publish(self, payload: BaseModel, *, key: str) -> str:
        """Put one event on its topic as its owning service would."""
        spec = REGISTRY.event_for(type(payload))
        topic = REGISTRY.topic_of(spec.type, spec.version)
        envelope = make_envelope(
            payload,
            type=spec.type,
            version=spec.version,
            source=topic.owner,
            key=key,
            occurred_at=datetime.now(UTC),
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(self.prefix + topic.name, envelope.to_bytes(), key=key.encode())
        finally:
            await producer.stop()
        return str(envelope.id)


@contextlib.asynccontextmanager
async def running_gateway(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, **overrides: Any
) -> AsyncIterator[Gateway]:
    port = free_port()
    clock = ManualClock(datetime.now(UTC))
    gateway_settings = GatewaySettings(
        **{"jwt_secret": SecretStr(SECRET), "allowed_origins": ["http://console.test"], **overrides}
    )
    app = create_app(
        settings_for("gateway", kafka_bootstrap, database_url, topic_prefix),
        gateway_settings=gateway_settings,
        clock=clock,
    )
    runtime: ServiceRuntime = app.state.runtime
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "gateway failed to start"
        await asyncio.sleep(0.05)
    agent_a, agent_b, queue = str(uuid4()), str(uuid4()), str(uuid4())
    async with runtime.transaction() as session:
        await create_user(
            session,
            clock,
            username="ada",
            password=PASSWORD,
            roles={Role.AGENT},
            display_name="Ada",
            agent_id=agent_a,
        )
        await create_user(
            session,
            clock,
            username="bob",
            password=PASSWORD,
            roles={Role.AGENT},
            display_name="Bob",
            agent_id=agent_b,
        )
        await create_user(
            session,
            clock,
            username="sue",
            password=PASSWORD,
            roles={Role.SUPERVISOR},
            display_name="Sue",
            queues={queue},
        )
        await create_user(
            session, clock, username="root", password=PASSWORD, roles={Role.ADMIN}, display_name="Admin"
        )
    try:
        yield Gateway(
            url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}",
            runtime=runtime,
            clock=clock,
            settings=gateway_settings,
            bootstrap=kafka_bootstrap,
            prefix=topic_prefix,
            agent_a=agent_a,
            agent_b=agent_b,
            queue=queue,
            tokens=app.state.tokens,
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
