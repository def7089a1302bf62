"""Structured logs (structlog): JSON lines in production, readable lines for ``make run``.

Every line carries the service name and, inside a request or a handler, the correlation id and the
event id, so one customer's conversation can be followed across services.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog


def setup_logging(service: str, *, fmt: Literal["json", "console"] = "json", level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn) log through the standard library; keep them quiet but visible.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s {service} %(name)s %(levelname)s %(message)s",
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
