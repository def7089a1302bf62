"""Messaging's settings: the kit's settings plus attachments, secure forms and the AI compose provider.

Read from the environment like every service (``MESSAGING_<NAME>`` beats ``<NAME>``), e.g.
``MESSAGING_FORMS_KEY`` (a base64url AES-256 key), ``MESSAGING_AI_BASE_URL``, ``MESSAGING_AI_API_KEY``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from switchboard.messaging.domain import DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_ATTACHMENTS
from switchboard.runtime.settings import ServiceSettings

SERVICE = "messaging"
HTTP_PORT = 8102
# The multipart envelope around one file (boundary, headers, other fields) stays well under this.
_MULTIPART_OVERHEAD = 1024 * 1024


class MessagingSettings(ServiceSettings):
    blob_dir: Path | None = Field(
        default=None, description="Folder for attachment bytes; default <data_dir>/messaging-blobs"
    )
    max_attachment_bytes: int = Field(default=DEFAULT_MAX_ATTACHMENT_BYTES, ge=1)
    max_attachments: int = Field(default=DEFAULT_MAX_ATTACHMENTS, ge=1, le=20)
    forms_key: SecretStr | None = Field(
        default=None,
        description="base64url of 32 random bytes (AES-256-GCM) encrypting secure-form answers at rest; "
        "without it a key file is created under data_dir (development only)",
    )
    form_ttl_seconds: int = Field(default=15 * 60, ge=1, le=7 * 24 * 3600)
    ai_compose_default: bool = Field(
        default=False, description="Whether AI-enhanced compose is on for tenants that did not choose"
    )
    ai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. https://api.example.com/v1"
    )
    ai_api_key: SecretStr | None = None
    ai_model: str = "gpt-4o-mini"
    ai_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    typing_min_interval_seconds: float = Field(default=2.0, ge=0)
    typing_ttl_seconds: float = Field(default=6.0, gt=0)

    @property
    def effective_blob_dir(self) -> Path:
        return (self.blob_dir or self.data_dir / "messaging-blobs").resolve()

    @property
    def form_ttl(self) -> timedelta:
        return timedelta(seconds=self.form_ttl_seconds)


def messaging_settings(base: ServiceSettings | None = None, **overrides: Any) -> MessagingSettings:
    """Messaging settings from the environment, or from ``base`` (e.g. a test's ``settings_for``) plus
    messaging's own names taken from the environment, with ``overrides`` on top of both."""
    prefix = f"{SERVICE.upper()}_"
    values: dict[str, Any] = {"http_port": HTTP_PORT}
    own = set(MessagingSettings.model_fields) - set(ServiceSettings.model_fields)
    names = own if base is not None else set(MessagingSettings.model_fields)
    for name in names:
        if (prefixed := os.environ.get(prefix + name.upper())) is not None:
            values[name] = prefixed
        elif (shared := os.environ.get(name.upper())) is not None:
            values[name] = shared
    if base is not None:
        values.update({name: getattr(base, name) for name in ServiceSettings.model_fields})
    values.update(overrides)
    values["service"] = SERVICE
    settings = MessagingSettings.model_validate(values)
    # Uploads are one file per part; the whole request may carry one maximal file plus its envelope.
    floor = settings.max_attachment_bytes + _MULTIPART_OVERHEAD
    if settings.max_body_bytes < floor:
        settings = settings.model_copy(update={"max_body_bytes": floor})
    return settings
