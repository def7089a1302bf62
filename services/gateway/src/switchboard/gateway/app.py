"""Gateway wiring: the one HTTP + WebSocket entry for consoles and chat widgets.

Today it carries the platform's operational surface (health, readiness, OpenAPI); the console and
widget API, authentication and WebSocket fan-out are the gateway issue's work.
"""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import load_settings

SERVICE = "gateway"


def create_runtime() -> ServiceRuntime:
    return ServiceRuntime(load_settings(SERVICE, defaults={"http_port": 8080}))


def create_app() -> FastAPI:
    return create_runtime().http_app(title="Switchboard gateway")
