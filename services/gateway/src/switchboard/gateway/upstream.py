"""Calling the services behind the gateway: pooled connections, timeouts, retries only when safe.

The service's answer — success or problem+json — goes back to the caller unchanged; what the gateway
adds is who is asking (``X-Actor-*``), the internal token, the correlation id and the trace context.
An upstream that does not answer becomes a 503/504 problem, and an upstream crash a 502, never a
stack trace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from fastapi import Response

from switchboard.gateway.auth import Principal, Role
from switchboard.runtime.context import current_correlation_id
from switchboard.runtime.errors import PROBLEM_JSON, Problem
from switchboard.runtime.logs import get_logger
from switchboard.runtime.telemetry import inject_headers

log = get_logger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
PASSED_HEADERS = ("content-type", "location", "retry-after", "content-disposition", "etag", "content-length")
RETRIES = 2


def actor_role(principal: Principal) -> str:
    for role in (Role.CUSTOMER, Role.AGENT, Role.ADMIN, Role.SUPERVISOR):
        if role in principal.roles:
            return str(role)
    return "none"


def actor_id(principal: Principal) -> str:
    # Agents act as their agent record; everyone else as their own subject.
    return principal.agent_id if principal.agent_id and Role.AGENT in principal.roles else principal.subject


class Upstreams:
    def __init__(self, urls: Mapping[str, str], *, timeout: float, internal_token: str | None) -> None:
        self.urls = dict(urls)
        self.internal_token = internal_token
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
            for name, url in self.urls.items()
        }

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))

    def headers(self, principal: Principal | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = inject_headers()
        if self.internal_token:
            headers["X-Internal-Token"] = self.internal_token
        if (correlation := current_correlation_id()) is not None:
            headers["X-Correlation-ID"] = correlation
        if principal is not None:
            headers["X-Actor-Role"] = actor_role(principal)
            headers["X-Actor-Id"] = actor_id(principal)
            if principal.name:
                headers["X-Actor-Name"] = principal.name.encode("ascii", "replace").decode()
        headers.update(extra or {})
        return headers

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        principal: Principal | None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        client = self.clients[service]
        attempts = RETRIES + 1 if method in IDEMPOTENT else 1
        for attempt in range(1, attempts + 1):
            try:
                return await client.request(
                    method, path, params=params, content=content, headers=self.headers(principal, headers)
                )
            except httpx.TimeoutException as exc:
                if attempt == attempts:
                    raise Problem(
                        504, "upstream-timeout", detail=f"The {service} service did not answer in time."
                    ) from exc
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise Problem(
                        503, "upstream-unavailable", detail=f"The {service} service is not reachable."
                    ) from exc
            await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def forward(
        self,
        service: str,
        method: str,
        path: str,
        *,
        principal: Principal | None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        upstream = await self.call(
            service, method, path, principal=principal, params=params, content=content, headers=headers
        )
        if upstream.status_code >= 500 and upstream.headers.get("content-type") != PROBLEM_JSON:
            log.error("upstream failed", service=service, path=path, status=upstream.status_code)
            raise Problem(
                502, "upstream-error", detail=f"The {service} service failed to answer this request."
            )
        passed = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() in PASSED_HEADERS and k.lower() != "content-length"
        }
        return Response(content=upstream.content, status_code=upstream.status_code, headers=passed)
