"""structlog set-up: one JSON or console line per event, with the transaction id in each."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from . import tid


def _add_tid(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    current = tid.current.get()
    if current != "sid_unknown":
        event.setdefault("tid", current)
    return event


def configure(level: str = "info", json: bool = False) -> None:
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     # plain: rich's default shows locals, and rendering a huge request body
                     # there stalls the event loop
                     else structlog.dev.ConsoleRenderer(
                         colors=False, exception_formatter=structlog.dev.plain_traceback))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_tid,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get(name: str) -> Any:
    return structlog.get_logger(name)
