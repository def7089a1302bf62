"""Production mode: tokens from the company's identity provider, verified against its JWKS.

The provider here is a real HTTP server on loopback serving a JWKS document for an RSA key the test
made; the gateway fetches it as it would fetch the provider's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from switchboard.gateway.testing import Gateway, free_port, running_gateway

pytestmark = pytest.mark.kafka

ISSUER = "https://idp.example.test/"
AUDIENCE = "switchboard-console"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {
        "private": private,
        "other": other,
        "jwk": {**public_jwk, "kid": "k1", "use": "sig", "alg": "RS256"},
    }


@pytest.fixture
async def provider(keys: dict[str, Any]) -> AsyncIterator[str]:
    app = FastAPI()

    @app.get("/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": [keys["jwk"]]}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/jwks.json"
    server.should_exit = True
    await task


@pytest.fixture
async def gateway(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, provider: str
) -> AsyncIterator[Gateway]:
    async with running_gateway(
        kafka_bootstrap,
        database_url,
        topic_prefix,
        jwt_secret=None,  # production: no local tokens at all
        oidc_jwks_url=provider,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
    ) as gateway:
        yield gateway


def _token(key: Any, *, kid: str = "k1", algorithm: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "oidc-user-1",
        "iat": now,
        "exp": now + 300,
        "roles": ["supervisor"],
        "name": "Sam",
        "queues": ["q-1"],
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def _hs256_by_hand(claims: dict[str, Any], secret: bytes) -> str:
    # PyJWT refuses to sign with a public key as an HMAC secret; an attacker's tool would not.
    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(
        b"="
    )
    return (signing_input + b"." + signature).decode()


async def _me(gateway: Gateway, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await http.get("/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_provider_token_is_accepted_with_its_roles(gateway: Gateway, keys: dict[str, Any]) -> None:
    response = await _me(gateway, _token(keys["private"]))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["supervisor"]
    assert response.json()["queues"] == ["q-1"]


@pytest.mark.parametrize(
    ("variant", "detail"),
    [
        ("other-key", "not valid"),
        ("unknown-kid", "unknown key"),
        ("wrong-issuer", "not valid"),
        ("wrong-audience", "not valid"),
        ("expired", "expired"),
        ("hmac-with-public-key", "algorithm"),
    ],
)
async def test_provider_tokens_that_must_not_pass(
    gateway: Gateway, keys: dict[str, Any], variant: str, detail: str
) -> None:
    now = int(time.time())
    token = {
        "other-key": lambda: _token(keys["other"]),
        "unknown-kid": lambda: _token(keys["private"], kid="k9"),
        "wrong-issuer": lambda: _token(keys["private"], iss="https://evil.test/"),
        "wrong-audience": lambda: _token(keys["private"], aud="someone-else"),
        "expired": lambda: _token(keys["private"], iat=now - 4000, exp=now - 3600),
        # The classic confusion attack: sign with HMAC using the public key as the secret. The gateway
        # has no local secret in this mode, so HS256 is simply not an accepted algorithm.
        "hmac-with-public-key": lambda: _hs256_by_hand(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60, "roles": ["admin"]},
            json.dumps(keys["jwk"]).encode(),
        ),
    }[variant]()
    response = await _me(gateway, token)
    assert response.status_code == 401, response.text
    assert detail in response.json()["detail"]
