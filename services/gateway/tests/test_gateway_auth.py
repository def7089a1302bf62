"""Authentication at the gateway: tokens by RFC 8725's rules, problem+json refusals, login limits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from switchboard.gateway.testing import PASSWORD, SECRET, Gateway

pytestmark = pytest.mark.kafka


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "switchboard-gateway",
        "aud": "switchboard",
        "sub": "someone",
        "iat": now,
        "exp": now + 300,
        "roles": ["agent"],
        "agent_id": "4b9b8f8e-5a57-4a55-9a41-2f0b8f5f2b11",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def _me(gateway: Gateway, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await http.get("/me", headers={"Authorization": f"Bearer {token}"})


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/errors/{slug}")
    return body


async def test_login_issues_a_short_lived_token_that_names_the_agent(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/auth/token", json={"username": "ada", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["agent_id"] == gateway.agent_a
    me = (await _me(gateway, body["access_token"])).json()
    assert me["roles"] == ["agent"]
    assert me["agent_id"] == gateway.agent_a
    assert me["name"] == "Ada"


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong password here"), ("nobody", PASSWORD), ("", PASSWORD)]
)
async def test_wrong_credentials_are_a_problem_not_a_hint(
    gateway: Gateway, username: str, password: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/auth/token", json={"username": username, "password": password})
    if username:
        body = _problem(response, 401, "invalid-credentials")
        assert body["detail"] == "Unknown user or wrong password."
    else:
        _problem(response, 422, "validation-error")


async def test_repeated_login_attempts_are_rate_limited(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        statuses = [
            (
                await http.post("/auth/token", json={"username": "ada", "password": "guess number one"})
            ).status_code
            for _ in range(gateway.settings.login_attempts_per_minute + 2)
        ]
        refused = await http.post("/auth/token", json={"username": "ada", "password": PASSWORD})
    assert statuses[0] == 401
    assert statuses[-1] == 429
    body = _problem(refused, 429, "too-many-requests")
    assert body["status"] == 429
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (
            jwt.encode(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000), SECRET, "HS256"),
            "expired",
        ),
        (jwt.encode(_claims(aud="someone-else"), SECRET, "HS256"), "not valid"),
        (jwt.encode(_claims(iss="evil"), SECRET, "HS256"), "not valid"),
        (jwt.encode(_claims(exp=None), SECRET, "HS256"), "not valid"),
        (jwt.encode(_claims(), "another-secret-" + "y" * 40, "HS256"), "not valid"),
        (jwt.encode(_claims(), None, "none"), "algorithm"),
        (jwt.encode(_claims(), SECRET + "z" * 20, "HS512"), "algorithm"),
        (jwt.encode(_claims(iat=int(time.time()) + 3600), SECRET, "HS256"), "iat"),
        (jwt.encode(_claims(roles=["root"]), SECRET, "HS256"), "no Switchboard role"),
        (jwt.encode(_claims(roles=["customer", "admin"], conversation_id="c"), SECRET, "HS256"), "customer"),
        ("not-a-jwt", "not a JWT"),
    ],
    ids=[
        "expired",
        "audience",
        "issuer",
        "no-exp",
        "other-key",
        "alg-none",
        "alg-hs512",
        "future-iat",
        "no-role",
        "customer-plus",
        "garbage",
    ],
)
async def test_bad_tokens_are_refused_with_401(gateway: Gateway, token: str, detail: str) -> None:
    body = _problem(await _me(gateway, token), 401, "unauthenticated")
    assert detail in body["detail"]


async def test_missing_or_malformed_authorization_header(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        missing = await http.get("/me")
        basic = await http.get("/me", headers={"Authorization": "Basic YWRhOnB3"})
    assert _problem(missing, 401, "unauthenticated")["detail"].startswith("Send 'Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    _problem(basic, 401, "unauthenticated")


async def test_security_headers_and_cors(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.get("/healthz")
        preflight = await http.options(
            "/me", headers={"Origin": "http://console.test", "Access-Control-Request-Method": "GET"}
        )
        foreign = await http.options(
            "/me", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"}
        )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert preflight.headers["access-control-allow-origin"] == "http://console.test"
    assert "access-control-allow-origin" not in foreign.headers
