"""Messaging wiring: settings, runtime (database, outbox, consumers), HTTP app.

``switchboard serve messaging`` and ``make run`` call :func:`create_app` (port 8102 by default).
Tests build the runtime themselves to pass settings and a ManualClock::

    runtime = create_runtime(settings_for("messaging", ...), clock=ManualClock())
    app = create_app(runtime=runtime)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from switchboard.messaging.api import create_router
from switchboard.messaging.api_files import create_files_router
from switchboard.messaging.api_forms import create_forms_router
from switchboard.messaging.api_library import create_library_router
from switchboard.messaging.blobstore import BlobStore
from switchboard.messaging.crypto import FormCipher, development_key
from switchboard.messaging.domain import InvalidFormSubmission, MessagingError
from switchboard.messaging.handlers import register_handlers
from switchboard.messaging.models import TABLES
from switchboard.messaging.providers import ComposeProvider, LocalCompose, OpenAICompatibleCompose
from switchboard.messaging.service import Messaging, TypingLimiter
from switchboard.messaging.settings import MessagingSettings, messaging_settings
from switchboard.runtime.clock import Clock
from switchboard.runtime.errors import problem_response
from switchboard.runtime.service import ServiceRuntime
from switchboard.runtime.settings import ServiceSettings


class MessagingRuntime(ServiceRuntime):
    """The kit's runtime, carrying messaging's operations for tests, benchmarks and the app."""

    messaging: Messaging


def _compose_provider(settings: MessagingSettings) -> ComposeProvider:
    if settings.ai_base_url:
        return OpenAICompatibleCompose(
            settings.ai_base_url,
            api_key=settings.ai_api_key,
            model=settings.ai_model,
            timeout=settings.ai_timeout_seconds,
        )
    return LocalCompose()


def build_messaging(settings: ServiceSettings | None = None, clock: Clock | None = None) -> Messaging:
    resolved = settings if isinstance(settings, MessagingSettings) else messaging_settings(settings)
    runtime = MessagingRuntime(resolved, tables=TABLES, clock=clock)
    key = (
        resolved.forms_key.get_secret_value()
        if resolved.forms_key is not None
        else development_key(resolved.data_dir / "messaging-forms.key")
    )
    messaging = Messaging(
        runtime=runtime,
        settings=resolved,
        blobs=BlobStore(resolved.effective_blob_dir),
        cipher=FormCipher(key),
        compose=_compose_provider(resolved),
        typing=TypingLimiter(
            min_interval=timedelta(seconds=resolved.typing_min_interval_seconds),
            ttl=timedelta(seconds=resolved.typing_ttl_seconds),
        ),
        sentiment=SentimentIntensityAnalyzer(),
    )
    register_handlers(messaging)
    runtime.messaging = messaging
    return messaging


def create_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> MessagingRuntime:
    """The messaging runtime; its :class:`Messaging` operations are at ``runtime.messaging``."""
    runtime = build_messaging(settings, clock).runtime
    assert isinstance(runtime, MessagingRuntime)
    return runtime


def create_app(
    settings: ServiceSettings | None = None,
    clock: Clock | None = None,
    *,
    runtime: MessagingRuntime | None = None,
) -> FastAPI:
    messaging = runtime.messaging if runtime is not None else build_messaging(settings, clock)
    app = messaging.runtime.http_app(
        create_router(messaging),
        create_files_router(messaging),
        create_forms_router(messaging),
        create_library_router(messaging),
        title="Switchboard messaging",
    )
    type_base = messaging.settings.problem_type_base

    async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MessagingError)
        extensions: dict[str, Any] = {}
        if isinstance(exc, InvalidFormSubmission):
            extensions["field_errors"] = dict(exc.field_errors)
        return problem_response(
            exc.status,
            exc.slug,
            detail=exc.detail,
            instance=request.url.path,
            type_base=type_base,
            **extensions,
        )

    app.add_exception_handler(MessagingError, on_refusal)
    return app
