"""Who is asking: JWT bearer tokens, verified by the RFC 8725 rules, and the roles they carry.

Local installs issue HS256 tokens from the gateway's user store; production verifies the company's
OIDC tokens against its JWKS (RS256/ES256/EdDSA only). Either way the accepted algorithms are a fixed
list, and ``exp``, ``iat``, ``iss`` and ``aud`` are required and checked with a bounded clock skew.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import uuid4

import httpx
import jwt
from fastapi import Request

from switchboard.gateway.settings import GatewaySettings
from switchboard.runtime.errors import Problem

LOCAL_ALGORITHMS = ["HS256"]
OIDC_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
JWKS_CACHE_SECONDS = 300


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    name: str = ""
    agent_id: str | None = None
    conversation_id: str | None = None  # a customer's token reaches exactly this conversation
    queues: frozenset[str] = field(default_factory=frozenset)  # what a supervisor supervises
    token_id: str = ""

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail=detail, headers={"WWW-Authenticate": "Bearer"})


class TokenService:
    def __init__(self, settings: GatewaySettings, *, now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.now = now
        self._jwks: dict[str, Any] = {}
        self._jwks_at = 0.0
        if settings.oidc_jwks_url is None and settings.jwt_secret is None:
            raise ValueError("set GATEWAY_JWT_SECRET (local tokens) or GATEWAY_OIDC_JWKS_URL (OIDC)")
        if settings.jwt_secret is not None and len(settings.jwt_secret.get_secret_value()) < 32:
            raise ValueError("GATEWAY_JWT_SECRET must be at least 32 characters")

    # -- issuing (local user store) ---------------------------------------------------------------

    def issue(self, principal: Principal, *, lifetime: int | None = None) -> tuple[str, int]:
        if self.settings.jwt_secret is None:
            raise Problem(
                404, "not-found", detail="This gateway does not issue tokens; use the identity provider."
            )
        issued = int(self.now())
        ttl = lifetime or self.settings.access_token_seconds
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": principal.subject,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": uuid4().hex,
            "roles": sorted(principal.roles),
            "name": principal.name,
        }
        if principal.agent_id:
            claims["agent_id"] = principal.agent_id
        if principal.conversation_id:
            claims["conversation_id"] = principal.conversation_id
        if principal.queues:
            claims["queues"] = sorted(principal.queues)
        token = jwt.encode(claims, self.settings.jwt_secret.get_secret_value(), algorithm="HS256")
        return token, ttl

    # -- verifying ----------------------------------------------------------------------------------

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthenticated("The bearer token is not a JWT.") from exc
        algorithm = header.get("alg")
        if self.settings.jwt_secret is not None and algorithm in LOCAL_ALGORITHMS:
            key: Any = self.settings.jwt_secret.get_secret_value()
            issuer, audience, algorithms = (
                self.settings.jwt_issuer,
                self.settings.jwt_audience,
                LOCAL_ALGORITHMS,
            )
        elif self.settings.oidc_jwks_url is not None and algorithm in OIDC_ALGORITHMS:
            key = await self._oidc_key(str(header.get("kid", "")))
            issuer = self.settings.oidc_issuer or ""
            audience = self.settings.oidc_audience or self.settings.jwt_audience
            algorithms = OIDC_ALGORITHMS
        else:
            # "none", a public-key token presented as HMAC, or anything unexpected (RFC 8725 §2.1).
            raise unauthenticated("The token's algorithm is not accepted.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                leeway=self.settings.clock_skew_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthenticated("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"The token is not valid: {exc}.") from exc
        if claims["iat"] > self.now() + self.settings.clock_skew_seconds:
            raise unauthenticated("The token was issued in the future.")
        return _principal(claims, self.settings.oidc_roles_claim)

    async def _oidc_key(self, kid: str) -> Any:
        if not self._jwks or self.now() - self._jwks_at > JWKS_CACHE_SECONDS or kid not in self._jwks:
            assert self.settings.oidc_jwks_url is not None
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self.settings.oidc_jwks_url)
                    response.raise_for_status()
                    keys = response.json().get("keys", [])
            except (httpx.HTTPError, ValueError) as exc:
                raise Problem(
                    503,
                    "identity-provider-unavailable",
                    detail="The identity provider's keys could not be fetched.",
                ) from exc
            self._jwks = {k.get("kid", ""): jwt.PyJWK(k).key for k in keys if k.get("use", "sig") == "sig"}
            self._jwks_at = self.now()
        if kid not in self._jwks:
            raise unauthenticated("The token was signed with an unknown key.")
        return self._jwks[kid]


def _principal(claims: dict[str, Any], roles_claim: str) -> Principal:
    raw_roles = claims.get(roles_claim) or claims.get("roles") or []
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    roles = frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
    if not roles:
        raise unauthenticated("The token carries no Switchboard role.")
    conversation = claims.get("conversation_id")
    if Role.CUSTOMER in roles and (len(roles) > 1 or not conversation):
        raise unauthenticated("A customer token reaches exactly one conversation and nothing else.")
    return Principal(
        subject=str(claims["sub"]),
        roles=roles,
        name=str(claims.get("name", "")),
        agent_id=claims.get("agent_id"),
        conversation_id=conversation,
        queues=frozenset(str(q) for q in claims.get("queues", [])),
        token_id=str(claims.get("jti", "")),
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Send 'Authorization: Bearer <token>'.")
    return token.strip()


def requires(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: the verified principal, who must hold one of ``roles``."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        tokens: TokenService = request.app.state.tokens
        principal = await tokens.verify(bearer_token(request))
        if allowed and not principal.roles.intersection(allowed):
            raise Problem(
                403, "forbidden", detail=f"This needs one of the roles: {', '.join(sorted(allowed))}."
            )
        limiter = getattr(request.app.state, "limiter", None)
        if limiter is not None:
            limiter.check(f"sub:{principal.subject}")
        request.state.principal = principal
        return principal

    return dependency


def role_names(roles: Iterable[Role]) -> list[str]:
    return sorted(str(r) for r in roles)
