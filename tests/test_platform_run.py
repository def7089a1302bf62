"""`make run` (``switchboard dev``) brings the platform up on loopback and Ctrl-C stops all of it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.system]

ROOT = Path(__file__).resolve().parent.parent
PORT_OFFSET = 20_000  # keeps clear of a `make run` a developer may have going


async def test_dev_command_serves_gateway_health_and_stops_on_ctrl_c(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = {**os.environ, "TOPIC_PREFIX": topic_prefix, "LOG_FORMAT": "json"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchboard.runtime.cli",
            "dev",
            "--external-kafka",
            kafka_bootstrap,
            "--data-dir",
            str(tmp_path / "data"),
            "--port-offset",
            str(PORT_OFFSET),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{8080 + PORT_OFFSET}"
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(600):  # the bound: 60 s on this machine
                try:
                    health = await http.get("/healthz")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    health = None  # not listening yet
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                await asyncio.sleep(0.1)
            else:
                pytest.fail("gateway /healthz did not answer 200 within 60 s")
            assert health.json() == {"status": "ok", "service": "gateway"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            document = (await http.get("/openapi.json")).json()
            assert document["info"]["title"] == "Switchboard gateway"
            # One document for frontends: every service's operations, under the gateway's prefix.
            prefixes = {path.split("/")[2] for path in document["paths"] if path.startswith("/api/")}
            assert prefixes == {"routing", "messaging", "acw"}
            # The demo tenant is there: its admin logs in with the password kept for this data folder,
            # and sees the demo queues.
            kept = dict(
                line.split("=", 1)
                for line in (tmp_path / "data" / "dev-secrets.env").read_text().splitlines()
            )
            names: set[str] = set()
            for _ in range(300):  # the seed runs right after the services answer
                login = await http.post(
                    "/auth/token", json={"username": "admin", "password": kept["DEMO_ADMIN_PASSWORD"]}
                )
                if login.status_code == 200:
                    queues = await http.get(
                        "/api/routing/admin/queues",
                        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
                    )
                    names = {q["name"] for q in queues.json()}
                    if {"Mortgages", "Cards"} <= names:
                        break
                await asyncio.sleep(0.1)
            assert {"Mortgages", "Cards"} <= names
        # The services answer the gateway only: a direct call without the internal token is refused.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{8101 + PORT_OFFSET}") as http:
            direct = await http.get("/admin/queues")
            assert direct.status_code == 401
            assert direct.json()["type"].endswith("/errors/unauthenticated")
            assert (await http.get("/healthz")).status_code == 200
    finally:
        child.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(child.wait, 60)
    assert code == 0
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError):
            await http.get(f"http://127.0.0.1:{8080 + PORT_OFFSET}/healthz")
