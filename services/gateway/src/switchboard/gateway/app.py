"""Gateway wiring: the one HTTP + WebSocket entry for consoles and chat widgets."""

from __future__ import annotations

import socket

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from switchboard.gateway import handlers
from switchboard.gateway.api import install_openapi
from switchboard.gateway.api import router as api_router
from switchboard.gateway.auth import TokenService
from switchboard.gateway.models import TABLES
from switchboard.gateway.push import Hub
from switchboard.gateway.security import RateLimiter, SecurityHeaders
from switchboard.gateway.sessions import router as sessions_router
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.sockets import router as sockets_router
from switchboard.gateway.upstream import Upstreams
from switchboard.runtime.clock import Clock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import ServiceSettings, load_settings

SERVICE = "gateway"


def create_runtime(
    settings: ServiceSettings | None = None, *, clock: Clock | None = None, replica: str | None = None
) -> tuple[ServiceRuntime, Hub, str]:
    settings = settings or load_settings(SERVICE, defaults={"http_port": 8080})
    replica = replica or socket.gethostname().replace(".", "-")
    if settings.consumer_group is None:
        # Every replica pushes to its own sockets, so every replica reads every event.
        settings = settings.model_copy(
            update={"consumer_group": f"{settings.topic_prefix}switchboard.gateway.{replica}"}
        )
    runtime = ServiceRuntime(settings, tables=TABLES, clock=clock)
    hub = Hub(GatewaySettings().ws_buffer_frames)
    handlers.register(runtime, hub, replica)
    return runtime, hub, replica


def create_app(
    settings: ServiceSettings | None = None,
    *,
    gateway_settings: GatewaySettings | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    gateway_settings = gateway_settings or GatewaySettings()
    runtime, hub, _ = create_runtime(settings, clock=clock)
    upstreams = Upstreams(
        {
            "routing": gateway_settings.routing_url,
            "messaging": gateway_settings.messaging_url,
            "acw": gateway_settings.acw_url,
        },
        timeout=gateway_settings.upstream_timeout_seconds,
        internal_token=(
            runtime.settings.internal_token.get_secret_value() if runtime.settings.internal_token else None
        ),
    )
    app = runtime.http_app(
        sessions_router,
        sockets_router,
        api_router,
        title="Switchboard gateway",
        on_shutdown=[upstreams.close],
        public=True,
    )
    app.state.upstreams = upstreams
    install_openapi(app)
    app.state.gateway_settings = gateway_settings
    app.state.tokens = TokenService(gateway_settings)
    app.state.hub = hub
    app.state.limiter = RateLimiter(gateway_settings.rate_per_second, gateway_settings.rate_burst)
    app.state.login_limiter = RateLimiter(
        gateway_settings.login_attempts_per_minute / 60, gateway_settings.login_attempts_per_minute
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=gateway_settings.allowed_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Correlation-ID"],
        expose_headers=["X-Correlation-ID", "Retry-After"],
        max_age=600,
    )
    return app
