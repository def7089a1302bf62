"""The authorisation matrix: every role against every kind of route, through the real gateway.

The services behind it are deliberately unreachable here: a call the gateway lets through comes back
503 ``upstream-unavailable``, so every other answer is the gateway's own decision. Ownership inside a
service (which agent holds an interaction) is the owning service's check, proven in its own tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from switchboard.gateway.testing import Gateway, running_gateway

pytestmark = pytest.mark.kafka

CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, so allowed calls fail upstream
PASSED = 503
ROLES = ["anonymous", "agent", "other-agent", "supervisor", "admin", "customer", "other-customer"]

# (method, path template, {role: expected status}); {agent} is agent A's id, {conversation} the
# customer's conversation. "other-agent" uses Bob's token on Ada's paths; "other-customer" a token for
# another conversation on this one.
MATRIX: list[tuple[str, str, dict[str, int]]] = [
    (
        "GET",
        "/api/routing/admin/queues",
        {
            "anonymous": 401,
            "agent": 403,
            "other-agent": 403,
            "supervisor": PASSED,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "PUT",
        "/api/routing/admin/queues/q1",
        {
            "anonymous": 401,
            "agent": 403,
            "other-agent": 403,
            "supervisor": 403,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/routing/agents/{agent}/login",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": 403,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "GET",
        "/api/routing/agents/{agent}/tray",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": 403,
            "supervisor": PASSED,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/routing/agents/{agent}/interactions/i1/accept",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": 403,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "GET",
        "/api/routing/interactions/i1/arrival-summary",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": PASSED,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/messaging/conversations/{conversation}/messages",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": PASSED,
            "other-customer": 404,
        },
    ),
    (
        "GET",
        "/api/messaging/conversations/{conversation}/messages",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": PASSED,
            "other-customer": 404,
        },
    ),
    (
        "GET",
        "/api/messaging/responses",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": PASSED,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/messaging/responses/templates",
        {
            "anonymous": 401,
            "agent": 403,
            "other-agent": 403,
            "supervisor": 403,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/messaging/compose/friendlier",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "PUT",
        "/api/messaging/admin/features/ai_compose",
        {
            "anonymous": 401,
            "agent": 403,
            "other-agent": 403,
            "supervisor": 403,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/acw/interactions/i1/end",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "POST",
        "/api/acw/interactions/i1/dispositions",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "GET",
        "/api/acw/agents/{agent}/acw",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": 403,
            "supervisor": PASSED,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "PATCH",
        "/api/acw/notes/n1",
        {
            "anonymous": 401,
            "agent": PASSED,
            "other-agent": PASSED,
            "supervisor": 403,
            "admin": 403,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "PUT",
        "/api/acw/admin/queues/q1/acw",
        {
            "anonymous": 401,
            "agent": 403,
            "other-agent": 403,
            "supervisor": 403,
            "admin": PASSED,
            "customer": 403,
            "other-customer": 403,
        },
    ),
    (
        "GET",
        "/api/voice/calls",
        {
            "anonymous": 401,
            "agent": 404,
            "other-agent": 404,
            "supervisor": 404,
            "admin": 404,
            "customer": 404,
            "other-customer": 404,
        },
    ),
    (
        "GET",
        "/api/routing/nowhere",
        {
            "anonymous": 401,
            "agent": 404,
            "other-agent": 404,
            "supervisor": 404,
            "admin": 404,
            "customer": 404,
            "other-customer": 404,
        },
    ),
    (
        "GET",
        "/api/routing/agents/{agent}/%2e%2e/%2e%2e/admin/queues",
        {
            "anonymous": 401,
            "agent": 404,
            "other-agent": 404,
            "supervisor": 404,
            "admin": 404,
            "customer": 404,
            "other-customer": 404,
        },
    ),
    (
        "POST",
        "/ws/tickets",
        {
            "anonymous": 401,
            "agent": 200,
            "other-agent": 200,
            "supervisor": 200,
            "admin": 200,
            "customer": 200,
            "other-customer": 200,
        },
    ),
]


@pytest.fixture
async def gateway(kafka_bootstrap: str, database_url: str, topic_prefix: str) -> AsyncIterator[Gateway]:
    async with running_gateway(
        kafka_bootstrap,
        database_url,
        topic_prefix,
        routing_url=CLOSED,
        messaging_url=CLOSED,
        acw_url=CLOSED,
        rate_burst=10_000,
    ) as gateway:
        yield gateway


async def test_every_role_against_every_kind_of_route(gateway: Gateway) -> None:
    conversation = str(uuid4())
    tokens = {
        "agent": await gateway.token("ada"),
        "other-agent": await gateway.token("bob"),
        "supervisor": await gateway.token("sue"),
        "admin": await gateway.token("root"),
        "customer": gateway.customer_token(conversation),
        "other-customer": gateway.customer_token(str(uuid4())),
    }
    failures = []
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for method, template, expected in MATRIX:
            assert set(expected) == set(ROLES), template
            path = template.format(agent=gateway.agent_a, conversation=conversation)
            for role in ROLES:
                headers = {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}
                body = b"{}" if method in ("POST", "PUT", "PATCH") else None
                response = await http.request(
                    method, path, headers={**headers, "content-type": "application/json"}, content=body
                )
                if response.status_code != expected[role]:
                    failures.append(
                        f"{role:>14} {method:6} {template}: {response.status_code} != {expected[role]}"
                    )
                if response.status_code >= 400:
                    assert response.headers["content-type"] == "application/problem+json", (
                        role,
                        method,
                        template,
                    )
                if response.status_code == PASSED:
                    assert response.json()["type"].endswith("/errors/upstream-unavailable")
    assert not failures, "\n".join(failures)
