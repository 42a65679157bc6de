"""The W3C trace context a command runs under, stored on the jobs it creates.

Whoever calls the engine (an HTTP request, a command message) sets the context it
received with :func:`use_trace_context`; every job and external task the command
creates keeps it, and its message carries it (``traceparent``/``tracestate``
headers), so all hops of a process instance join one trace. A command that arrives
without one starts a new trace. A context variable carries it, so it follows the
call into worker threads (``asyncio.to_thread`` and anyio copy the context).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PATTERN = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_current: ContextVar[dict[str, str] | None] = ContextVar("safepoint_trace_context", default=None)


def new_traceparent() -> str:
    """A new root ``traceparent`` (version 00, sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def valid(traceparent: str | None) -> bool:
    """Whether ``traceparent`` is a well-formed W3C version-00 header with non-zero ids."""
    if not traceparent:
        return False
    match = _PATTERN.match(traceparent.strip().lower())
    if match is None:
        return False
    return set(match.group(1)) != {"0"} and set(match.group(2)) != {"0"}


def extract(headers: Mapping[str, object]) -> dict[str, str]:
    """The trace headers of a request or message, if they are valid; else nothing."""
    traceparent = headers.get(TRACEPARENT)
    if not isinstance(traceparent, str) or not valid(traceparent):
        return {}
    context = {TRACEPARENT: traceparent.strip().lower()}
    tracestate = headers.get(TRACESTATE)
    if isinstance(tracestate, str) and tracestate:
        context[TRACESTATE] = tracestate
    return context


@contextmanager
def use_trace_context(context: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block under ``context`` (ignored when empty or invalid)."""
    token = _current.set(extract(context or {}) or None)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> dict[str, str]:
    """The context set by the caller (empty when none was set)."""
    context = _current.get()
    return dict(context) if context else {}


def current_or_new(inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's context, else ``inherited`` (a job's stored one), else a new trace.

    A job executor running a job under the job's own span sets that span as the
    caller's context, so the jobs the run creates are its children; without one the
    run continues the context stored on the job.
    """
    return current() or extract(inherited or {}) or {TRACEPARENT: new_traceparent()}
