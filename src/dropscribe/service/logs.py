"""Logging: readable lines on a terminal, one JSON object per line otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from dropscribe.errors import scrub
from dropscribe.outbox.naming import display_path

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
SECRET_FIELDS = frozenset({"token", "api_key", "authorization", "password"})


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Never let a secret reach a log line, whatever a caller passed."""
    for key in SECRET_FIELDS & event.keys():
        event[key] = "[redacted]"
    return event


def scrub_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace every known secret and credential in the line's text (a server's words
    and a traceback included), whatever key it came under."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, (list, tuple, dict)):
            text = repr(value)
            if (cleaned := scrub(text)) != text:
                event[key] = cleaned  # its text, then: the value itself held a secret
    return event


def printable_paths(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Write file names that are not UTF-8 with ``\\xNN`` escapes: a raw one cannot be
    printed, and one upload must never stop the daemon by its name."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = display_path(value)
    return event


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            scrub_secrets,  # after format_exc_info: a traceback can quote a server's words
            printable_paths,  # after format_exc_info: a traceback can hold a raw name
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
