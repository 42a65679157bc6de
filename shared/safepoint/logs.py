"""Log set-up for the services: one JSON object per line, or human-readable lines.

Library code only logs (``logger = logging.getLogger(__name__)``); a service's
``__main__`` calls :func:`configure_logging` once, which puts a single handler on the
root logger and routes uvicorn's and aio-pika's loggers through it.

Formats (``SAFEPOINT_LOG_FORMAT``):

- ``json``: one object per line with ``timestamp`` (ISO 8601, UTC), ``level``,
  ``logger``, ``message``, and when known ``trace_id``, ``span_id``,
  ``process_instance_id``, ``job_id`` and ``exception`` (the formatted traceback);
- ``text``: ``timestamp level logger [thread]: message`` followed by the same ids,
  for a terminal (``make run``);
- ``auto``: ``text`` when the stream is a terminal, else ``json``.

Where the ids come from, in order:

- ``extra={"process_instance_id": ..., "job_id": ...}`` on the logging call;
- :func:`log_context`, which the code handling a job or a command sets around it (a
  context variable, so it follows the call into worker threads started with
  ``asyncio.to_thread``);
- for ``trace_id``/``span_id``: the current OpenTelemetry span when tracing is on,
  else the W3C trace context the command runs under (a callable handed to
  :func:`configure_logging`; this module sits below ``safepoint.embedded``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

from opentelemetry import trace

from safepoint.settings import LogFormat

TraceContextSource = Callable[[], Mapping[str, str] | None]
"""Returns the W3C trace headers (``traceparent``) the current command runs under."""

ID_FIELDS: Final = ("trace_id", "span_id", "process_instance_id", "job_id")
"""The optional fields of a record, in the order they are written."""

ROUTED_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "aio_pika", "aiormq")
"""Third-party loggers that get no handler of their own: they propagate to the root."""

QUIET_LOGGERS: Final = ("aio_pika", "aiormq")
"""Loggers kept at ``WARNING`` or above: they log every reconnection attempt."""

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"

_context: ContextVar[Mapping[str, str] | None] = ContextVar("safepoint_log_context", default=None)


@contextmanager
def log_context(
    *, process_instance_id: str | None = None, job_id: str | None = None
) -> Iterator[None]:
    """Log the block's lines with these ids (added to those of an enclosing block).

    Args:
        process_instance_id: the process instance the block works on.
        job_id: the job the block executes.
    """
    fields = dict(_context.get() or {})
    if process_instance_id:
        fields["process_instance_id"] = process_instance_id
    if job_id:
        fields["job_id"] = job_id
    token = _context.set(fields)
    try:
        yield
    finally:
        _context.reset(token)


def _ids_from_traceparent(traceparent: str) -> tuple[str, str] | None:
    parts = traceparent.strip().lower().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2]


class ContextFilter(logging.Filter):
    """Puts ``trace_id``, ``span_id``, ``process_instance_id`` and ``job_id`` on records.

    Values given with ``extra=`` are kept. Never drops a record.

    Args:
        trace_context: the W3C context of the running command, used when no
            OpenTelemetry span is current.
    """

    def __init__(self, trace_context: TraceContextSource | None = None) -> None:
        super().__init__()
        self._trace_context = trace_context

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the ids this thread knows of to ``record``; always ``True``."""
        for name, value in (_context.get() or {}).items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        if not getattr(record, "trace_id", None):
            ids = self._trace_ids()
            if ids is not None:
                record.trace_id, record.span_id = ids
        return True

    def _trace_ids(self) -> tuple[str, str] | None:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
        if self._trace_context is None:
            return None
        try:
            headers = self._trace_context()
        except Exception:  # a log line must never fail because of its context
            return None
        traceparent = (headers or {}).get("traceparent")
        return _ids_from_traceparent(traceparent) if traceparent else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """``record`` as a JSON object (see the module docstring for the fields)."""
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines: :data:`TEXT_FORMAT`, then the ids that are known."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The line without the traceback, with ``name=value`` for each id known."""
        line = super().formatMessage(record)
        ids = [
            f"{name}={getattr(record, name)}"
            for name in ID_FIELDS
            if name != "span_id" and getattr(record, name, None)
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


def resolve_format(log_format: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """The format ``auto`` stands for on ``stream``: ``text`` on a terminal, else ``json``."""
    if log_format != "auto":
        return log_format
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return "json"


def configure_logging(
    level: str,
    log_format: LogFormat = "auto",
    *,
    stream: TextIO | None = None,
    trace_context: TraceContextSource | None = None,
) -> logging.Handler:
    """Log everything at ``level`` or above to ``stream`` in ``log_format``.

    Replaces the root logger's handlers with one handler, makes uvicorn's and
    aio-pika's loggers propagate to it (without handlers of their own), and keeps
    aio-pika and aiormq at ``WARNING`` or above. Call it once, from ``__main__``;
    uvicorn must then be started with ``log_config=None``.

    Args:
        level: ``SAFEPOINT_LOG_LEVEL`` (``INFO``, ``DEBUG``, ...).
        log_format: ``SAFEPOINT_LOG_FORMAT``.
        stream: where lines go (stderr by default).
        trace_context: the W3C context of the running command, for ``trace_id`` and
            ``span_id`` when tracing is off.

    Returns:
        The handler installed on the root logger.
    """
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter(trace_context))
    if resolve_format(log_format, stream) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    for name in ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        for old in list(routed.handlers):
            routed.removeHandler(old)
        routed.propagate = True
        routed.setLevel(max(numeric, logging.WARNING) if name in QUIET_LOGGERS else logging.NOTSET)
    return handler
