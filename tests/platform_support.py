"""The whole platform for system tests: routing, messaging, acw and the gateway as real uvicorn
servers on loopback ports in the test process, on real Kafka, each with its own database, sharing one
ManualClock; plus the console and widget stand-ins the tests drive it with. Shared by the system tests
(pytest puts this folder on the path).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from switchboard.acw.app import create_app as create_acw
from switchboard.gateway.app import create_app as create_gateway
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.testing import free_port
from switchboard.messaging.app import create_app as create_messaging
from switchboard.routing.app import create_app as create_routing
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import eventually, settings_for

ORIGIN = "http://console.test"
SECRET = "lifecycle-secret-" + "x" * 40
INTERNAL_TOKEN = "internal-" + "y" * 40
PASSWORDS = {"admin": "admin password 123", "ada": "ada password 1234", "bob": "bob password 1234"}
ERRORS = "https://switchboard.dev/errors/"
FRAME_TIMEOUT = 30.0  # bound on every wait; a healthy run sees each frame in well under a second
BACKENDS = ("routing", "messaging", "acw")


# ----------------------------------------------------------------------------------------- platform


@contextlib.asynccontextmanager
async def service_databases(database_url: str, services: tuple[str, ...]) -> AsyncIterator[dict[str, str]]:
    """One empty database per service, derived from the fixture's: services never share a database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        folder = Path(url.database).parent
        yield {
            s: url.set(database=str(folder / f"{s}.db")).render_as_string(hide_password=False)
            for s in services
        }
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    names = {s: f"{url.database}_{s}" for s in services}
    connection = await asyncpg.connect(dsn)
    try:
        for name in names.values():
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield {
            s: url.set(drivername="postgresql+asyncpg", database=n).render_as_string(hide_password=False)
            for s, n in names.items()
        }
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            for name in names.values():
                # FORCE ends the connections the services' pools may still hold.
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@dataclass
class Platform:
    url: str
    ws_url: str
    clock: ManualClock
    gateway: ServiceRuntime
    gateway_settings: GatewaySettings
    backends: dict[str, str]


async def _serve(app: FastAPI, port: int, stack: contextlib.AsyncExitStack) -> None:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        await asyncio.wait_for(task, 30)

    stack.push_async_callback(stop)
    # The lifespan creates the schema and starts the consumers: wait until uvicorn says it is up.
    await eventually(lambda: _started(server, task), timeout=60, step=0.05)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        raise AssertionError(f"a server failed to start: {task.exception()!r}")
    return bool(server.started)


@contextlib.asynccontextmanager
async def running_platform(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, data_dir: Path
) -> AsyncIterator[Platform]:
    clock = ManualClock(datetime.now(UTC).replace(second=0, microsecond=0))
    ports = {name: free_port() for name in (*BACKENDS, "gateway")}
    async with contextlib.AsyncExitStack() as stack:
        databases = await stack.enter_async_context(service_databases(database_url, BACKENDS))
        databases["gateway"] = database_url

        def settings(service: str) -> Any:
            return settings_for(
                service,
                kafka_bootstrap,
                databases[service],
                topic_prefix,
                internal_token=INTERNAL_TOKEN,
                data_dir=str(data_dir / service),
            )

        factories = {"routing": create_routing, "messaging": create_messaging, "acw": create_acw}
        for name in BACKENDS:
            await _serve(factories[name](settings(name), clock), ports[name], stack)
        urls = {name: f"http://127.0.0.1:{ports[name]}" for name in BACKENDS}
        gateway_settings = GatewaySettings(
            jwt_secret=SecretStr(SECRET),
            allowed_origins=[ORIGIN],
            routing_url=urls["routing"],
            messaging_url=urls["messaging"],
            acw_url=urls["acw"],
        )
        gateway_app = create_gateway(settings("gateway"), gateway_settings=gateway_settings, clock=clock)
        await _serve(gateway_app, ports["gateway"], stack)
        yield Platform(
            url=f"http://127.0.0.1:{ports['gateway']}",
            ws_url=f"ws://127.0.0.1:{ports['gateway']}",
            clock=clock,
            gateway=gateway_app.state.runtime,
            gateway_settings=gateway_settings,
            backends=urls,
        )


# ----------------------------------------------------------------------------------------- clients


@dataclass
class Socket:
    """A console's or widget's WebSocket: frames are collected as they come, and each wait takes the
    first matching frame not taken before (topics are not ordered among themselves)."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    def start(self) -> Socket:
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self.arrived.set()

    def _find(self, kind: str, where: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for index, frame in enumerate(self.frames):
            if index not in self.taken and frame.get("type") == kind and where(frame):
                self.taken.add(index)
                return frame
        return None

    async def expect(
        self,
        kind: str,
        interaction: str | None = None,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = FRAME_TIMEOUT,
    ) -> dict[str, Any]:
        def matches(frame: dict[str, Any]) -> bool:
            return (interaction is None or frame.get("interaction_id") == interaction) and where(frame)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := self._find(kind, matches)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [(f.get("type"), f.get("interaction_id")) for f in self.frames]
                raise AssertionError(f"no {kind} frame for {interaction} within {timeout}s; saw {seen}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return found

    def has(self, kind: str, interaction: str | None = None) -> bool:
        return any(
            f.get("type") == kind and (interaction is None or f.get("interaction_id") == interaction)
            for f in self.frames
        )

    @property
    def last_id(self) -> str:
        return str(next(f["id"] for f in reversed(self.frames) if "id" in f))

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


@dataclass
class Caller:
    """Someone holding a token: a console (admin, agent) or the widget (customer)."""

    http: httpx.AsyncClient
    ws_url: str
    token: str

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return await self.http.request(
            method,
            path,
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {self.token}", "Origin": ORIGIN},
        )

    async def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = await self.call(method, path, body, **params)
        assert response.status_code < 300, f"{method} {path} → {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def socket(self, after: str | None = None) -> Socket:
        ticket = (await self.ok("POST", "/ws/tickets"))["ticket"]
        url = f"{self.ws_url}/ws?ticket={ticket}" + (f"&after={after}" if after else "")
        return Socket(await connect(url, origin=ORIGIN)).start()  # type: ignore[arg-type]


async def login_with(http: httpx.AsyncClient, ws_url: str, username: str, password: str) -> Caller:
    response = await http.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return Caller(http, ws_url, response.json()["access_token"])


async def login(http: httpx.AsyncClient, ws_url: str, username: str) -> Caller:
    return await login_with(http, ws_url, username, PASSWORDS[username])


def about(message_id: str) -> Callable[[dict[str, Any]], bool]:
    """Frames about one message."""
    return lambda frame: bool(frame["data"].get("message_id") == message_id)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).removeprefix(ERRORS)


# ----------------------------------------------------------------------------------------- the test
