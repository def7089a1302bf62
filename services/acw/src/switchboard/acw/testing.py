"""Test support for the ACW service: a harness that drives a real runtime like the platform does, and a
child process the restart tests kill with SIGKILL in the middle of a countdown.

The harness feeds events as real envelopes on the (prefixed) topics of the real broker, calls the HTTP
API in process, and reads what ACW published from its topic. Run the child with
``python -m switchboard.acw.testing serve --now <iso> ...``; tests do that, people need not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel

from switchboard.acw.app import create_app, create_runtime
from switchboard.contracts import ACW_INTERACTIONS, REGISTRY, make_envelope
from switchboard.contracts.envelope import Envelope
from switchboard.runtime.clock import ManualClock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.testing import eventually, read_topic, settings_for


@dataclass(frozen=True)
class Published:
    """One event ACW published, as a consumer of its topic sees it."""

    id: str
    type: str
    key: str
    data: dict[str, Any]


class AcwHarness:
    """One ACW runtime on a real broker and database, its HTTP API, and a producer for other services'
    events. ``restart`` builds a new runtime on the same database, as a new process would."""

    def __init__(self, bootstrap: str, database_url: str, prefix: str, clock: ManualClock) -> None:
        self.bootstrap = bootstrap
        self.database_url = database_url
        self.prefix = prefix
        self.clock = clock
        self.runtime: ServiceRuntime | None = None
        self.http: httpx.AsyncClient | None = None
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        settings = settings_for("acw", self.bootstrap, self.database_url, self.prefix)
        self.runtime = create_runtime(settings, self.clock)
        app = create_app(runtime=self.runtime)
        await self.runtime.start()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://acw")
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
            await self._producer.start()

    async def stop(self, *, producer: bool = True) -> None:
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        if producer and self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def restart(self) -> None:
        await self.stop(producer=False)
        await self.start()

    @property
    def client(self) -> httpx.AsyncClient:
        assert self.http is not None, "harness not started"
        return self.http

    # -- events in ---------------------------------------------------------------------------------

    async def send(
        self, payload: BaseModel, *, key: str | UUID, occurred_at: datetime | None = None
    ) -> Envelope[Any]:
        """Publish ``payload`` the way its owning service would: registered type, topic and key."""
        assert self._producer is not None, "harness not started"
        spec = REGISTRY.event_for(type(payload))
        topic = REGISTRY.topic_of(spec.type, spec.version)
        envelope = make_envelope(
            payload,
            type=spec.type,
            version=spec.version,
            source=topic.owner,
            key=str(key),
            occurred_at=occurred_at or self.clock.now(),
        )
        await self._producer.send_and_wait(
            self.prefix + topic.name, envelope.to_bytes(), key=str(key).encode()
        )
        return envelope

    # -- HTTP --------------------------------------------------------------------------------------

    async def call(
        self, method: str, path: str, *, actor: str | UUID | None = None, body: Any = None
    ) -> httpx.Response:
        headers = {"X-Actor-Id": str(actor)} if actor is not None else {}
        return await self.client.request(method, path, json=body, headers=headers)

    async def interaction(self, interaction_id: str | UUID) -> dict[str, Any] | None:
        response = await self.client.get(f"/interactions/{interaction_id}")
        return dict(response.json()) if response.status_code == 200 else None

    async def wait_for(
        self, interaction_id: str | UUID, check: Callable[[dict[str, Any]], bool], *, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll the interaction until ``check`` holds (an event was consumed), and return it."""
        seen: dict[str, Any] = {}

        async def holds() -> bool:
            view = await self.interaction(interaction_id)
            if view is None:
                return False
            seen.clear()
            seen.update(view)
            return check(view)

        await eventually(holds, timeout=timeout)
        return seen

    # -- events out --------------------------------------------------------------------------------

    async def published(
        self, until: Callable[[list[Published]], bool], *, timeout: float = 60.0
    ) -> list[Published]:
        """Read ACW's topic from the start until ``until`` holds for what was published."""

        def parsed(records: list[ConsumerRecord[bytes, bytes]]) -> list[Published]:
            out = []
            for record in records:
                body = json.loads(record.value)
                out.append(Published(id=body["id"], type=body["type"], key=body["key"], data=body["data"]))
            return out

        records = await read_topic(
            self.bootstrap,
            self.prefix + ACW_INTERACTIONS,
            until=lambda rs: until(parsed(rs)),
            timeout=timeout,
        )
        return parsed(records)


def of(events: list[Published], event_type: str, key: str | UUID | None = None) -> list[Published]:
    """The distinct events (by envelope id: the relay may republish after a crash) of one type."""
    seen: dict[str, Published] = {}
    for event in events:
        if event.type == event_type and (key is None or event.key == str(key)):
            seen.setdefault(event.id, event)
    return list(seen.values())


# -- child process ---------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    """The whole ACW runtime (consumers, relay, timer poller) with the clock stopped at ``--now``."""
    settings = settings_for("acw", args.bootstrap, args.database_url, args.prefix)
    runtime = create_runtime(settings, ManualClock(datetime.fromisoformat(args.now)))
    async with runtime.running():
        # One poll before saying ready, so a test knows due timers have had their chance to fire.
        fired = await runtime.poller.fire_due()
        print(f"ready fired={fired}", flush=True)
        await asyncio.Event().wait()  # until killed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="switchboard.acw.testing")
    parser.add_argument("role", choices=["serve"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--now", required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main(sys.argv[1:])
