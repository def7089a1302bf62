"""Routing wiring: settings, tables, the single-writer store, Kafka handlers, timers and HTTP routes.

``switchboard serve routing`` and ``make run`` import :func:`create_app`.
"""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.routing import handlers
from switchboard.routing.api import build_api
from switchboard.routing.models import ROUTING_TABLES
from switchboard.routing.store import Routing
from switchboard.runtime.clock import Clock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import ServiceSettings, load_settings

SERVICE = "routing"
HTTP_PORT = 8101


def create_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    """The routing service's runtime with its consumers and timers registered; ``runtime.state``-like
    access to the store is ``runtime.routing`` (set here) for the HTTP app and tests."""
    runtime = ServiceRuntime(
        settings or load_settings(SERVICE, defaults={"http_port": HTTP_PORT}),
        tables=ROUTING_TABLES,
        clock=clock,
    )
    routing = Routing(runtime)
    handlers.register(runtime, routing)
    runtime.routing = routing  # type: ignore[attr-defined]
    return runtime


def routing_of(runtime: ServiceRuntime) -> Routing:
    routing = getattr(runtime, "routing", None)
    if not isinstance(routing, Routing):
        raise TypeError("this runtime was not built by switchboard.routing.app.create_runtime")
    return routing


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    runtime = create_runtime(settings, clock)
    return runtime.http_app(build_api(routing_of(runtime)), title="Switchboard routing")
