"""Schemathesis against the gateway's published OpenAPI, with every service behind it running.

Generated requests for every operation, as an admin and as an agent: the platform never answers with a
5xx, and every documented response matches its schema.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from platform_support import PASSWORDS, login, running_platform

from switchboard.gateway.platform import DemoTenant, configure_tenant, create_people

pytestmark = [pytest.mark.kafka, pytest.mark.system, pytest.mark.timeout(900)]


def _schemathesis(url: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "4",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_generated_requests_never_get_a_server_error_or_a_response_off_schema(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    tenant = DemoTenant(mortgages=str(uuid4()), cards=str(uuid4()), ada=str(uuid4()), bob=str(uuid4()))
    async with (
        running_platform(kafka_bootstrap, database_url, topic_prefix, tmp_path) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=30.0) as http,
    ):
        platform.gateway_settings.rate_burst = 1_000_000
        await create_people(platform.gateway.database, platform.clock, tenant, PASSWORDS)
        admin = await login(http, platform.ws_url, "admin")
        await configure_tenant(http, admin.token, tenant)
        ada = await login(http, platform.ws_url, "ada")
        for who, token in (("admin", admin.token), ("agent", ada.token)):
            result = await asyncio.to_thread(_schemathesis, platform.url, token, tmp_path / f"{who}.xml")
            assert result.returncode == 0, f"as {who}:\n{result.stdout[-8000:]}\n{result.stderr[-2000:]}"
