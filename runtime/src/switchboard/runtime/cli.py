"""``switchboard``: run services, run the whole platform locally, inspect topics and dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy.exc
import typer
from rich.console import Console
from rich.table import Table

from switchboard.runtime.launcher import find_repo_root, load_kafka_launcher
from switchboard.runtime.settings import load_settings

app = typer.Typer(help="Switchboard contact-centre platform", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

# The gateway is the only entry for frontends; the others are reached by the gateway alone.
SERVICES: dict[str, int] = {
    "gateway": 8080,
    "routing": 8101,
    "messaging": 8102,
    "voice": 8103,
    "email": 8104,
    "acw": 8105,
}
COLOURS = ["cyan", "green", "magenta", "yellow", "blue", "red"]


def _app_module(service: str) -> str:
    return f"switchboard.{service}.app"


def available_services() -> list[str]:
    """Services that have an app module in this installation (others are not built yet)."""
    return [name for name in SERVICES if importlib.util.find_spec(_app_module(name)) is not None]


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="gateway, routing, messaging, voice, email or acw")],
    host: Annotated[str | None, typer.Option(help="listen address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default from settings)")] = None,
) -> None:
    """Run one service: its HTTP API, consumers, outbox relay and timers."""
    import uvicorn

    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(_app_module(service))
    settings = load_settings(service, defaults={"http_port": SERVICES[service]})
    uvicorn.run(
        module.create_app(),
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


def _pump(name: str, colour: str, stream: Any) -> None:
    for line in iter(stream.readline, ""):
        console.print(
            f"[{colour}]{name:>9}[/] | {line.rstrip()}", markup=True, highlight=False, soft_wrap=True
        )


def _wait_healthy(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Refused or failing: not listening yet.
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
            if response.status == 200:
                return True
        time.sleep(0.25)
    return False


DEV_SECRETS = (
    "GATEWAY_JWT_SECRET",
    "INTERNAL_TOKEN",
    "DEMO_ADMIN_PASSWORD",
    "DEMO_ADA_PASSWORD",
    "DEMO_BOB_PASSWORD",
)


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for a local run: made up once per data folder, kept out of the code and the repository."""
    path = data_dir / "dev-secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() and value.strip():
                values[name.strip()] = value.strip()
    missing = [name for name in DEV_SECRETS if name not in values]
    if missing:
        values.update({name: secrets.token_urlsafe(18 if "PASSWORD" in name else 48) for name in missing})
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


def _seed_demo(secrets_env: dict[str, str], data_dir: Path, gateway_port: int) -> None:
    """Configure the demo tenant through the running gateway and show who can log in."""
    from switchboard.gateway.platform import seed_demo
    from switchboard.gateway.settings import GatewaySettings

    environ = {**secrets_env, **os.environ}
    database_url = os.environ.get("GATEWAY_DATABASE_URL") or os.environ.get("DATABASE_URL")
    database_url = database_url or f"sqlite+aiosqlite:///{(data_dir / 'gateway.db').resolve()}"
    secret = environ["GATEWAY_JWT_SECRET"]
    try:
        asyncio.run(
            seed_demo(
                f"http://127.0.0.1:{gateway_port}",
                database_url,
                gateway_settings=GatewaySettings(jwt_secret=secret),
                environ=environ,
            )
        )
    except Exception as exc:
        console.print(f"[red]demo tenant not configured:[/] {exc}")
        return
    table = Table(title="Demo users (passwords are kept in " + str(data_dir / "dev-secrets.env") + ")")
    for column in ("user", "role", "password"):
        table.add_column(column)
    for user, role in (("admin", "admin"), ("ada", "agent, Mortgages"), ("bob", "agent, Cards")):
        table.add_row(user, role, environ[f"DEMO_{user.upper()}_PASSWORD"])
    console.print(table)


@app.command()
def dev(
    kafka_port: Annotated[int, typer.Option(help="broker port on 127.0.0.1")] = 9092,
    data_dir: Annotated[Path, typer.Option(help="databases and broker data")] = Path(".data"),
    external_kafka: Annotated[
        str | None, typer.Option(help="use this broker instead of starting one")
    ] = None,
    port_offset: Annotated[int, typer.Option(help="add this to every service port (8080, 8101…)")] = 0,
    seed: Annotated[bool, typer.Option(help="configure the demo tenant and its users")] = True,
) -> None:
    """Run the whole platform locally: Kafka, every service, the gateway. Ctrl-C stops everything."""
    root = find_repo_root()
    if root is None:
        raise typer.BadParameter(
            "run this from the Switchboard repository (deploy/kafka/launcher.py not found)"
        )
    data_dir = (root / data_dir).resolve() if not data_dir.is_absolute() else data_dir
    kafka: Any = None
    if external_kafka:
        bootstrap = external_kafka
    else:
        launcher = load_kafka_launcher(root)
        console.print("[bold]starting Kafka[/] (first run fetches it from Maven Central)…")
        kafka = launcher.KafkaServer(port=kafka_port, data_dir=data_dir / "kafka")
        kafka.start()
        bootstrap = kafka.bootstrap_servers
        console.print(f"[bold]Kafka[/] ready at {bootstrap}")
    secrets_env = _dev_secrets(data_dir)
    children: list[tuple[str, subprocess.Popen[str]]] = []
    stopping = threading.Event()

    def stop_all(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    try:
        for index, service in enumerate(available_services()):
            env = {
                **secrets_env,
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "DATA_DIR": str(data_dir),
                "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
                f"{service.upper()}_HTTP_PORT": str(SERVICES[service] + port_offset),
                # The gateway finds the services where this command put them.
                **{
                    f"GATEWAY_{name.upper()}_URL": f"http://127.0.0.1:{port + port_offset}"
                    for name, port in SERVICES.items()
                    if name != "gateway"
                },
            }
            child = subprocess.Popen(
                [sys.executable, "-m", "switchboard.runtime.cli", "serve", service],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            assert child.stdout is not None
            threading.Thread(
                target=_pump, args=(service, COLOURS[index % len(COLOURS)], child.stdout), daemon=True
            ).start()
            children.append((service, child))
        for service, _child in children:
            url = f"http://127.0.0.1:{SERVICES[service] + port_offset}/healthz"
            healthy = _wait_healthy(url, 60)
            console.print(f"[bold]{service}[/] {'up at ' + url if healthy else '[red]did not answer[/]'}")
        if seed and "gateway" in dict(children):
            _seed_demo(secrets_env, data_dir, SERVICES["gateway"] + port_offset)
        console.print(
            "[bold green]Switchboard is running.[/] "
            f"Gateway: http://127.0.0.1:{SERVICES['gateway'] + port_offset}/docs — Ctrl-C stops it."
        )
        while not stopping.is_set():
            for service, child in children:
                if child.poll() is not None:
                    console.print(f"[red]{service} exited with {child.returncode}[/]; stopping everything")
                    stopping.set()
            stopping.wait(0.5)
    finally:
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _, child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if kafka is not None:
            kafka.stop()
        console.print("[bold]stopped[/]")


@app.command()
def dlq(
    topic: Annotated[
        str,
        typer.Argument(help="the topic whose dead letters to show, e.g. switchboard.routing.interactions.v1"),
    ],
    limit: Annotated[int, typer.Option(help="at most this many entries")] = 20,
) -> None:
    """Show what is on a topic's dead-letter queue, with the reason each entry is there."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    settings = load_settings("cli")
    name = settings.topic(topic) + ".dlq"

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(name) or set()
            assigned = [TopicPartition(name, p) for p in partitions]
            if not assigned:
                return []
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            batch = await consumer.getmany(timeout_ms=2000, max_records=limit)
            return [r for records in batch.values() for r in records][:limit]
        finally:
            await consumer.stop()

    records = asyncio.run(read())
    table = Table(title=f"{name}: {len(records)} shown")
    for column in ("offset", "key", "attempts", "from", "error"):
        table.add_column(column)
    for record in records:
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        table.add_row(
            str(record.offset),
            (record.key or b"").decode("utf-8", "replace"),
            headers.get("x-dlq-attempts", "?"),
            f"{headers.get('x-dlq-topic', '?')}@{headers.get('x-dlq-partition', '?')}:{headers.get('x-dlq-offset', '?')}",
            headers.get("x-dlq-error", "").splitlines()[0][:120] if headers.get("x-dlq-error") else "",
        )
    Console().print(table)


@app.command()
def topics() -> None:
    """List every topic in the contract registry with its key rule, owner and events."""
    from switchboard.contracts import REGISTRY

    table = Table(title="Switchboard topics")
    for column in ("topic", "owner", "key", "events"):
        table.add_column(column)
    for spec in REGISTRY.topics:
        table.add_row(spec.name, spec.owner, spec.key, ", ".join(e.name for e in spec.events))
    Console().print(table)


@app.command()
def outbox(service: Annotated[str, typer.Argument(help="service whose outbox to inspect")]) -> None:
    """How many events wait in a service's outbox (a growing number means Kafka is not reachable)."""
    from switchboard.runtime.db import Database
    from switchboard.runtime.outbox import pending_count

    settings = load_settings(service)

    async def count() -> int:
        database = Database(settings.effective_database_url)
        try:
            return await pending_count(database)
        finally:
            await database.dispose()

    print(json.dumps({"service": service, "pending": asyncio.run(count())}))


@app.command()
def timers(
    service: Annotated[str, typer.Argument(help="service whose durable timers to list")],
    failed: Annotated[bool, typer.Option(help="only timers whose handler kept failing")] = False,
    limit: Annotated[int, typer.Option(help="at most this many rows")] = 50,
) -> None:
    """List a service's pending (or failed) durable timers, soonest first."""
    from sqlmodel import col, select

    from switchboard.runtime.db import Database
    from switchboard.runtime.tables import TimerRow

    settings = load_settings(service)

    async def rows() -> list[TimerRow]:
        database = Database(settings.effective_database_url)
        try:
            query = select(TimerRow).where(
                col(TimerRow.fired_at).is_(None), col(TimerRow.cancelled_at).is_(None)
            )
            query = query.where(
                col(TimerRow.failed_at).is_not(None) if failed else col(TimerRow.failed_at).is_(None)
            )
            async with database.sessions() as session:
                return list((await session.scalars(query.order_by(col(TimerRow.due_at)).limit(limit))).all())
        finally:
            await database.dispose()

    try:
        found = asyncio.run(rows())
    except sqlalchemy.exc.DBAPIError as exc:
        console.print(
            f"[red]cannot read {service}'s timers[/] ({settings.effective_database_url}): {exc.orig}"
        )
        raise typer.Exit(1) from None
    table = Table(title=f"{service}: {'failed' if failed else 'pending'} timers")
    for column in ("kind", "key", "due at", "attempts", "last error"):
        table.add_column(column)
    for row in found:
        table.add_row(
            row.kind, row.key, row.due_at.isoformat(), str(row.attempts), (row.last_error or "")[:80]
        )
    Console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
