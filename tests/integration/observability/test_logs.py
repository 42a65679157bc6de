"""safepoint.logs: JSON lines with ids from extra, log_context and the trace context; text lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from safepoint.logs import (
    ROUTED_LOGGERS,
    configure_logging,
    log_context,
    resolve_format,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root logger and the routed loggers back as they were."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    routed = {
        name: (
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
        )
        for name in ROUTED_LOGGERS
    }
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, level, propagate) in routed.items():
        target = logging.getLogger(name)
        target.handlers[:] = handlers
        target.setLevel(level)
        target.propagate = propagate


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_have_the_fields_and_no_unknown_ids() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("safepoint.test").info("hello %s", "world")
    logging.getLogger("safepoint.test").debug("not at INFO")
    [entry] = lines(stream)
    assert entry["message"] == "hello world"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "safepoint.test"
    assert str(entry["timestamp"]).endswith("+00:00")
    assert set(entry) == {"timestamp", "level", "logger", "message"}


def test_ids_from_extra_and_from_log_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log = logging.getLogger("safepoint.test")
    log.info("from extra", extra={"process_instance_id": "pi-1", "job_id": "job-1"})
    with log_context(process_instance_id="pi-2"), log_context(job_id="job-2"):
        log.info("from the context")
        log.info("extra wins", extra={"job_id": "job-3"})
    log.info("outside")
    first, second, third, outside = lines(stream)
    assert (first["process_instance_id"], first["job_id"]) == ("pi-1", "job-1")
    assert (second["process_instance_id"], second["job_id"]) == ("pi-2", "job-2")
    assert (third["process_instance_id"], third["job_id"]) == ("pi-2", "job-3")
    assert "job_id" not in outside and "process_instance_id" not in outside


def test_trace_ids_from_the_w3c_context_then_from_the_current_span() -> None:
    stream = io.StringIO()
    current: dict[str, str] | None = {"traceparent": TRACEPARENT}
    configure_logging("INFO", "json", stream=stream, trace_context=lambda: current)
    log = logging.getLogger("safepoint.test")
    log.info("under the command's context")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("span") as span:
        log.info("under a span")
    current = None
    log.info("no context")
    command, spanned, none = lines(stream)
    assert command["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert command["span_id"] == "b7ad6b7169203331"
    context = span.get_span_context()
    assert spanned["trace_id"] == f"{context.trace_id:032x}"
    assert spanned["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in none and "span_id" not in none


def test_exception_is_a_string_field() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("safepoint.test").exception("failed")
    [entry] = lines(stream)
    assert isinstance(entry["exception"], str)
    assert "ValueError: boom" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_text_lines_for_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    with log_context(job_id="job-1"):
        logging.getLogger("safepoint.test").warning("careful")
    [line] = stream.getvalue().splitlines()
    assert " WARNING safepoint.test [MainThread]: careful [job_id=job-1]" in line


def test_auto_is_text_on_a_terminal_else_json() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", Terminal()) == "json"


def test_uvicorn_and_aio_pika_go_through_the_same_handler() -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    logging.getLogger("uvicorn.error").propagate = False
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("aio_pika.robust_connection").info("reconnecting (quiet below WARNING)")
    logging.getLogger("aio_pika.robust_connection").warning("connection lost")
    assert [(e["logger"], e["message"]) for e in lines(stream)] == [
        ("uvicorn.error", "Started server process"),
        ("aio_pika.robust_connection", "connection lost"),
    ]
