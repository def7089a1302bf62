"""Settings every service reads, from the environment (pydantic-settings).

Shared names (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``TOPIC_PREFIX``...) apply to every service
in a process; a per-service prefix (``ROUTING_DATABASE_URL``) overrides them for one service, so one
shell can run all services against one broker while each keeps its own database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service: str = Field(default="service", pattern=r"^[a-z][a-z0-9_]*$")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    # Overrides the registry's partition count when this service creates topics (tests: 1, to keep a
    # broker hosting thousands of throwaway topics small).
    topic_partitions: int | None = Field(default=None, ge=1, le=1000)
    consumer_group: str | None = None
    database_url: str | None = None
    data_dir: Path = Path(".data")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    timer_poll_seconds: float = Field(default=0.25, gt=0)
    handler_attempts: int = Field(default=3, ge=1, le=20)
    retry_backoff_seconds: float = Field(default=0.2, ge=0)
    kafka_connect_timeout_seconds: float = Field(default=60.0, gt=0)
    kafka_request_timeout_ms: int = Field(default=40_000, ge=1000)
    problem_type_base: str = "https://switchboard.dev/errors/"
    # Shared by the gateway and the services behind it: with it set, a service answers only requests
    # that carry it (health and readiness aside), so nothing but the gateway can act on its API.
    internal_token: SecretStr | None = None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service}.db').resolve()}"

    @property
    def effective_group(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}switchboard.{self.service}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def load_settings(service: str, defaults: dict[str, Any] | None = None, **overrides: Any) -> ServiceSettings:
    """Read settings for one service: ``overrides`` beat ``<SERVICE>_X``, which beats ``X``, which beats
    the service's ``defaults``, which beat the kit's defaults."""
    prefix = f"{service.upper()}_"
    values: dict[str, Any] = dict(defaults or {})
    for name in ServiceSettings.model_fields:
        env_name = name.upper()
        if (prefixed := os.environ.get(prefix + env_name)) is not None:
            values[name] = prefixed
        elif (shared := os.environ.get(env_name)) is not None:
            values[name] = shared
    values["service"] = service
    values.update(overrides)
    return ServiceSettings.model_validate(values)
