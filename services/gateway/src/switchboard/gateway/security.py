"""Edge protections: security headers, per-principal rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.runtime.errors import Problem

_API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_STRICT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The interactive docs page loads Swagger UI's script and styles from its CDN.
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"frame-ancestors 'none'",
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(("/docs", "/redoc"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_API_HEADERS)
                headers.append(_DOCS_CSP if docs else _STRICT_CSP)
                if not docs:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimiter:
    """A token bucket per key (a principal, or a client address before login)."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str, cost: float = 1.0) -> None:
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < cost:
            retry = max(1, int((cost - tokens) / self.rate) + 1)
            self._buckets[key] = (tokens, now)
            raise Problem(
                429,
                "too-many-requests",
                detail="Slow down: too many requests for this token.",
                headers={"Retry-After": str(retry)},
            )
        self._buckets[key] = (tokens - cost, now)
        if len(self._buckets) > 100_000:  # bounded memory: forget idle clients
            cutoff = now - self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] >= cutoff}
