"""Gateway push: many concurrent WebSocket consoles, events at a steady rate, topic → frame on the socket.

The gateway runs in its own process (real uvicorn, real Kafka, SQLite), so its memory is its own and
client and server do not share an event loop. The bench process opens one socket per console (each
console is its own agent), then publishes ``agent.status.changed`` keyed by agent id at the target
rate, round-robin over the agents. Latency runs from just before the producer's ``send`` to the
moment the frame arrives on that agent's socket (one clock: both ends are in the bench process).
Every event must arrive exactly once, on its own agent's socket. Printed next to bare aiokafka
produce → consume at the same rate and key spread, measured in the same run.

    uv run python -m bench gateway                                             # 2,000 consoles, 300/s, 60 s
    uv run python -m bench.gateway --consoles 200 --rate 100 --seconds 10     # a short run
    uv run python -m bench.gateway --consoles 200 --rate 100 --seconds 10 --profile /tmp/gw.txt
    uv run python -m bench.gateway --consoles 2000 --rate 50 --seconds 5 --trace-memory /tmp/gw-mem.txt

Consoles offer permessage-deflate as browsers do (``--no-deflate`` to compare). Agent users are created
with one shared password hash and their tokens issued directly (Argon2 login would cost ~150 ms each);
every socket still takes a ticket over HTTP and redeems it on the upgrade, like a console.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the workspace
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import ROOT, fmt, kafka_broker, percentiles, raw_kafka_round_trip
from switchboard.contracts import REGISTRY, ROUTING_AGENTS, make_envelope
from switchboard.contracts.routing import AgentStatus, AgentStatusChanged, StatusChangeReason

ORIGIN = "http://console.test"
PASSWORD = "bench console password"  # the bench agents' throwaway password
MIB = 1024 * 1024


def _raise_open_files(wanted: int) -> None:
    """One descriptor per socket on each side: lift the soft limit towards the hard one if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- the gateway process ---------------------------------------------------------------------------


async def _serve_gateway(bootstrap: str, folder: Path, prefix: str, consoles: int) -> None:
    """Start a real gateway, create one agent user per console, hand their tokens over, serve until told."""
    import uvicorn
    from pydantic import SecretStr

    from switchboard.gateway import users
    from switchboard.gateway.app import create_app
    from switchboard.gateway.auth import Role
    from switchboard.gateway.push import Hub
    from switchboard.gateway.settings import GatewaySettings
    from switchboard.gateway.testing import free_port
    from switchboard.runtime.clock import SystemClock
    from switchboard.runtime.service import ServiceRuntime
    from switchboard.runtime.settings import ServiceSettings
    from switchboard.runtime.testing import settings_for

    kit = ServiceSettings()  # the kit's production poll intervals, not the tests' fast ones
    settings = settings_for(
        "gateway",
        bootstrap,
        f"sqlite+aiosqlite:///{folder / 'gateway.db'}",
        prefix,
        outbox_poll_seconds=kit.outbox_poll_seconds,
        timer_poll_seconds=kit.timer_poll_seconds,
    )
    gateway_settings = GatewaySettings(
        jwt_secret=SecretStr(secrets.token_urlsafe(48)), allowed_origins=[ORIGIN]
    )
    clock = SystemClock()
    app = create_app(settings, gateway_settings=gateway_settings, clock=clock)
    runtime: ServiceRuntime = app.state.runtime
    hub: Hub = app.state.hub
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", backlog=4096)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("gateway failed to start")
        await asyncio.sleep(0.05)

    # Argon2 costs ~150 ms a hash on this class of machine: every bench agent shares one password, so
    # hash it once. Logging in would verify it once per console, so the tokens are issued directly.
    password_hash = users.hash_password(PASSWORD)
    agents: dict[str, str] = {}
    with mock.patch.object(users, "hash_password", return_value=password_hash):
        async with runtime.transaction() as session:
            for n in range(consoles):
                agent_id = str(uuid.uuid4())
                user = await users.create_user(
                    session,
                    clock,
                    username=f"agent{n:05d}",
                    password=PASSWORD,
                    roles={Role.AGENT},
                    display_name=f"Agent {n}",
                    agent_id=agent_id,
                )
                agents[agent_id] = app.state.tokens.issue(users.principal_of(user))[0]
    tokens_file = folder / "tokens.json"
    _write_text(tokens_file, json.dumps(agents))
    print(
        json.dumps({"ready": True, "port": port, "pid": psutil.Process().pid, "tokens": str(tokens_file)}),
        flush=True,
    )

    profiler: Any = None
    traced: tracemalloc.Snapshot | None = None
    me = psutil.Process()
    try:
        while not task.done():
            command = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if command in ("", "quit"):  # EOF: the bench process is gone
                break
            if command == "stats":
                print(
                    json.dumps(
                        {
                            "connections": len(hub.connections),
                            "dropped": hub.dropped,
                            "rss": me.memory_info().rss,
                            "cpu": sum(me.cpu_times()[:2]),
                        }
                    ),
                    flush=True,
                )
            elif command == "profile-start":
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="disabled")  # the whole loop, not one task
                profiler.start()
                print(json.dumps({"profiling": True}), flush=True)
            elif command == "trace-start":
                tracemalloc.start(1)
                traced = tracemalloc.take_snapshot()
                print(json.dumps({"tracing": True}), flush=True)
            elif command.startswith("trace-stop "):
                if traced is not None:
                    _write_memory_report(Path(command.split(" ", 1)[1]), traced, len(hub.connections))
                    tracemalloc.stop()
                print(json.dumps({"tracing": False}), flush=True)
            elif command.startswith("profile-stop "):
                if profiler is not None:
                    profiler.stop()
                    _write_text(command.split(" ", 1)[1], profiler.output_text(unicode=True))
                print(json.dumps({"profiling": False}), flush=True)
    finally:
        server.should_exit = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 60)


def _write_text(path: str | Path, text: str) -> None:
    Path(path).write_text(text)


def _read_text(path: str | Path) -> str:
    return Path(path).read_text()


def _write_memory_report(path: Path, before: tracemalloc.Snapshot, connections: int) -> None:
    """Python allocations made while the sockets opened, by file and by line (diagnostic mode only)."""
    after = tracemalloc.take_snapshot()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    lines = [
        f"{total / MIB:.1f} MiB traced by Python, {total / max(1, connections) / 1024:.1f} KiB per connection"
    ]
    for group in ("filename", "lineno"):
        lines += ["", f"top allocations by {group}:"]
        lines += [
            f"  {s.size_diff / 1024:10.0f} KiB {s.count_diff:8d} blocks  {s.traceback}"
            for s in after.compare_to(before, group)[:25]
        ]
    path.write_text("\n".join(lines) + "\n")


def serve_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway serve")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--consoles", type=int, required=True)
    args = parser.parse_args(argv)
    _raise_open_files(args.consoles * 2 + 1024)
    asyncio.run(_serve_gateway(args.bootstrap, args.folder, args.prefix, args.consoles))


class GatewayProcess:
    """The gateway subprocess, driven over its stdin/stdout by one JSON line per command."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self.info: dict[str, Any] = {}

    @classmethod
    async def start(cls, bootstrap: str, folder: Path, prefix: str, consoles: int) -> GatewayProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.gateway",
            "serve",
            f"--bootstrap={bootstrap}",
            f"--folder={folder}",
            f"--prefix={prefix}",
            f"--consoles={consoles}",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        gateway = cls(process)
        try:
            gateway.info = await gateway._reply(timeout=180)
        except BaseException:
            await gateway.stop()
            raise
        return gateway

    async def _reply(self, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"the gateway process ended (exit {await self.process.wait()})")
            if line.startswith(b"{"):
                reply: dict[str, Any] = json.loads(line)
                return reply

    async def ask(self, command: str, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        return await self._reply(timeout)

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    async def stop(self) -> None:
        if self.process.returncode is None and self.process.stdin is not None:
            with contextlib.suppress(Exception):
                self.process.stdin.write(b"quit\n")
                await self.process.stdin.drain()
                self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()  # this very process, by its pid
            await self.process.wait()


# -- the consoles ----------------------------------------------------------------------------------


@dataclass
class Tally:
    sent_at: dict[str, float] = field(default_factory=dict)  # event id → perf_counter before send
    target: dict[str, str] = field(default_factory=dict)  # event id → agent id it is for
    latencies_ms: list[float] = field(default_factory=list)
    received: int = 0
    duplicates: int = 0
    misrouted: int = 0
    unexpected: int = 0  # frames that were not bench events (errors, resync, ...)
    closed: list[tuple[str, int | None]] = field(default_factory=list)
    measuring: set[str] = field(default_factory=set)
    warmup: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    progress: asyncio.Event = field(default_factory=asyncio.Event)


async def _open(
    http: httpx.AsyncClient, ws_url: str, token: str, gate: asyncio.Semaphore, *, deflate: bool
) -> ClientConnection:
    async with gate:
        response = await http.post("/ws/tickets", headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        ticket = response.json()["ticket"]
        # Browsers offer permessage-deflate and send no protocol pings (the server's keepalive runs).
        return await connect(
            f"{ws_url}/ws?ticket={ticket}",
            origin=ORIGIN,  # type: ignore[arg-type]
            compression="deflate" if deflate else None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=1,
        )


async def _listen(agent_id: str, socket: ClientConnection, tally: Tally) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in socket:
            now = time.perf_counter()
            frame = json.loads(message)
            event_id = frame.get("id") if isinstance(frame, dict) else None
            sent = tally.sent_at.get(event_id) if isinstance(event_id, str) else None
            if not isinstance(event_id, str) or sent is None:
                tally.unexpected += 1
                continue
            if event_id in tally.seen:
                tally.duplicates += 1
                continue
            tally.seen.add(event_id)
            if tally.target[event_id] != agent_id or frame.get("data", {}).get("agent_id") != agent_id:
                tally.misrouted += 1
            if event_id in tally.measuring:
                tally.latencies_ms.append((now - sent) * 1000)
                tally.received += 1
            tally.progress.set()
    tally.closed.append((agent_id, socket.close_code))


async def _publish(
    producer: AIOKafkaProducer, topic: str, agent_id: str, tally: Tally, *, measured: bool
) -> None:
    payload = AgentStatusChanged(
        agent_id=UUID(agent_id), status=AgentStatus.AVAILABLE, reason=StatusChangeReason.AGENT_CHOICE
    )
    spec = REGISTRY.event_for(AgentStatusChanged)
    envelope = make_envelope(
        payload,
        type=spec.type,
        version=spec.version,
        source="routing",
        key=agent_id,
        occurred_at=datetime.now(UTC),
    )
    event_id = str(envelope.id)
    body = envelope.to_bytes()
    tally.target[event_id] = agent_id
    (tally.measuring if measured else tally.warmup).add(event_id)
    tally.sent_at[event_id] = time.perf_counter()
    await producer.send(topic, body, key=agent_id.encode())


async def _wait_for(condition: Any, tally: Tally, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return False
        tally.progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.progress.wait(), min(remaining, 1.0))
    return True


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def run(
    consoles: int,
    rate: float,
    seconds: float,
    concurrency: int,
    *,
    deflate: bool = True,
    profile: Path | None = None,
    trace_memory: Path | None = None,
) -> None:
    _raise_open_files(consoles * 2 + 1024)
    count = max(1, int(rate * seconds))
    with kafka_broker() as bootstrap, tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        print(
            f"gateway push: {consoles} WebSocket consoles, {count} agent.status.changed at {rate:.0f}/s "
            f"({seconds:.0f} s), gateway in its own process on SQLite, broker {bootstrap}"
        )
        raw = await raw_kafka_round_trip(bootstrap, count=count, rate=rate, keys=consoles)

        prefix = f"bench{uuid.uuid4().hex[:6]}."
        setup = time.perf_counter()
        gateway = await GatewayProcess.start(bootstrap, folder, prefix, consoles)
        sockets: dict[str, ClientConnection] = {}
        listeners: list[asyncio.Task[None]] = []
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
        )
        tally = Tally()
        try:
            tokens: dict[str, str] = json.loads(_read_text(gateway.info["tokens"]))
            agents = list(tokens)
            print(
                f"  gateway pid {gateway.pid} on port {gateway.info['port']}, "
                f"{consoles} agents created in {time.perf_counter() - setup:.1f} s"
            )
            await asyncio.sleep(1.0)  # let start-up garbage settle before the baseline reading
            rss_before = gateway.rss()

            url = f"http://127.0.0.1:{gateway.info['port']}"
            gate = asyncio.Semaphore(concurrency)
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            if trace_memory is not None:
                await gateway.ask("trace-start")
            opening = time.perf_counter()
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
                opened = await asyncio.gather(
                    *(
                        _open(
                            http, f"ws://127.0.0.1:{gateway.info['port']}", tokens[a], gate, deflate=deflate
                        )
                        for a in agents
                    )
                )
            open_seconds = time.perf_counter() - opening
            sockets = dict(zip(agents, opened, strict=True))
            listeners = [asyncio.create_task(_listen(a, s, tally)) for a, s in sockets.items()]
            await asyncio.sleep(2.0)  # connect-time heartbeats relayed, buffers settled
            stats = await gateway.ask("stats")
            rss_connected = gateway.rss()
            if trace_memory is not None:
                await gateway.ask(f"trace-stop {trace_memory}", timeout=600)
            print(
                f"  {consoles} sockets open in {open_seconds:.1f} s ({consoles / open_seconds:.0f}/s, "
                f"ticket + upgrade, {concurrency} at a time, permessage-deflate "
                f"{'offered' if deflate else 'off'}); gateway holds {stats['connections']}"
            )

            await producer.start()
            topic = prefix + ROUTING_AGENTS
            # Warm-up: the gateway's consumer group must be assigned before anything is timed.
            for agent_id in agents[: min(10, consoles)]:
                await _publish(producer, topic, agent_id, tally, measured=False)
            warm = len(tally.warmup)
            if not await _wait_for(lambda: len(tally.seen) >= warm, tally, 120):
                raise RuntimeError(f"warm-up: {len(tally.seen)} of {warm} frames arrived within 120 s")

            server = psutil.Process(gateway.pid)
            client = psutil.Process()
            idle_cpu, idle_at = _cpu(server), time.perf_counter()
            await asyncio.sleep(3.0)  # what the open sockets cost with no events (keepalive pings, ...)
            idle_share = (_cpu(server) - idle_cpu) / (time.perf_counter() - idle_at)
            if profile is not None:
                await gateway.ask("profile-start")
            cpu_server, cpu_client = _cpu(server), _cpu(client)
            start = time.perf_counter()
            for n in range(count):
                if (delay := start + n / rate - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                await _publish(producer, topic, agents[n % consoles], tally, measured=True)
            sending = time.perf_counter() - start
            await producer.flush()
            complete = await _wait_for(lambda: tally.received >= count, tally, 60)
            elapsed = time.perf_counter() - start
            cpu_server, cpu_client = _cpu(server) - cpu_server, _cpu(client) - cpu_client
            if profile is not None:
                await gateway.ask(f"profile-stop {profile}", timeout=300)
            await asyncio.sleep(0.5)  # anything late still counts as a duplicate or a stray
            stats = await gateway.ask("stats")
            rss_after = gateway.rss()
        finally:
            await producer.stop()
            await gateway.stop()
            for socket in sockets.values():
                socket.transport.abort()
            for task in listeners:
                task.cancel()
            ended = await asyncio.gather(*listeners, return_exceptions=True)
            for failure in {repr(e) for e in ended if isinstance(e, Exception)}:
                print(f"  a console's listener failed: {failure}")

        ours = percentiles(tally.latencies_ms)
        dropped_sockets = sum(1 for _, code in tally.closed if code == 4008)
        print(f"  {rate:>5.0f}/s raw aiokafka produce→consume        : {fmt(raw)}")
        print(f"  {rate:>5.0f}/s topic → frame on the agent's socket : {fmt(ours)}")
        print(
            f"  {rate:>5.0f}/s ratio to raw Kafka p50 {ours['p50'] / raw['p50']:.1f}x  "
            f"p99 {ours['p99'] / raw['p99']:.1f}x"
        )
        if not complete:
            verdict = f"{count - tally.received} MISSING after a 60 s drain"
        elif tally.duplicates or tally.misrouted:
            verdict = "ERRORS"
        else:
            verdict = "no loss"
        print(
            f"  frames {tally.received}/{count} ({verdict}): duplicates {tally.duplicates}, "
            f"misrouted {tally.misrouted}, other frames {tally.unexpected}; slow-socket drops "
            f"{stats['dropped']} (closed 4008 seen by clients: {dropped_sockets}); sockets still held "
            f"{stats['connections']}/{consoles}"
        )
        print(
            f"  sent {count} in {sending:.1f} s ({count / sending:.0f}/s), all frames in {elapsed:.1f} s; "
            f"CPU during the push: gateway {cpu_server / elapsed:.0%} of a core "
            f"({cpu_server / max(1, tally.received) * 1000:.2f} ms per delivered event), "
            f"bench client {cpu_client / elapsed:.0%}; gateway idle with {consoles} sockets {idle_share:.0%}"
        )
        print(
            f"  gateway RSS {rss_before / MIB:.1f} MiB idle → {rss_connected / MIB:.1f} MiB with "
            f"{consoles} sockets → {rss_after / MIB:.1f} MiB after the push; "
            f"{(rss_connected - rss_before) / consoles / 1024:.1f} KiB per connection "
            f"({(rss_after - rss_before) / consoles / 1024:.1f} KiB after the push)"
        )
        if profile is not None:
            print(f"  gateway profile during the push (pyinstrument slows it down): {profile}")
        if trace_memory is not None:
            print(
                f"  gateway allocations while the sockets opened (tracemalloc inflates RSS): {trace_memory}"
            )


def main(argv: list[str] | None = None) -> None:
    argv = list(argv or [])
    if argv[:1] == ["serve"]:
        serve_main(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=2000, help="concurrent WebSocket consoles")
    parser.add_argument("--rate", type=float, default=300.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to publish")
    parser.add_argument("--concurrency", type=int, default=50, help="sockets being opened at once")
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="consoles do not offer permessage-deflate (browsers do; it costs the gateway memory)",
    )
    parser.add_argument(
        "--profile", type=Path, help="write a pyinstrument profile of the gateway during the push here"
    )
    parser.add_argument(
        "--trace-memory",
        type=Path,
        help="write the gateway's Python allocations while the sockets open here (inflates its RSS)",
    )
    args = parser.parse_args(argv)
    asyncio.run(
        run(
            args.consoles,
            args.rate,
            args.seconds,
            args.concurrency,
            deflate=not args.no_deflate,
            profile=args.profile,
            trace_memory=args.trace_memory,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
