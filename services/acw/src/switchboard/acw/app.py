"""ACW wiring: settings, tables, consumers, the expiry timer and the HTTP API (port 8105).

``switchboard serve acw`` and ``make run`` call :func:`create_app`; tests build a runtime with their own
settings and clock with :func:`create_runtime` and serve :func:`create_app` over it.
"""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.acw.api import build_router
from switchboard.acw.handlers import register_handlers
from switchboard.acw.models import ACW_TABLES
from switchboard.runtime.clock import Clock
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import ServiceSettings, load_settings

SERVICE = "acw"
HTTP_PORT = 8105


def create_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        settings or load_settings(SERVICE, defaults={"http_port": HTTP_PORT}), tables=ACW_TABLES, clock=clock
    )
    register_handlers(runtime)
    return runtime


def create_app(
    settings: ServiceSettings | None = None,
    clock: Clock | None = None,
    *,
    runtime: ServiceRuntime | None = None,
) -> FastAPI:
    service = runtime or create_runtime(settings, clock)
    return service.http_app(build_router(service), title="Switchboard acw")
