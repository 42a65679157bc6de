"""safepoint.otlp writes exactly the OTLP request the SDK's encoder builds, for any span."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from safepoint.otlp import encode_spans

REMOTE_PARENT = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
)


def _spans(
    resource: Resource, scope: str = "safepoint", version: str | None = None
) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(scope, version, schema_url="https://opentelemetry.io/schemas/1")
    remote = set_span_in_context(NonRecordingSpan(REMOTE_PARENT))
    with tracer.start_as_current_span(
        "process safepoint.jobs",
        context=remote,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rabbitmq",
            "safepoint.message.delivery_count": 0,
            "big": 2**62,
            "negative": -5,
            "ratio": 0.25,
            "flag": False,
            "on": True,
            "empty": "",
            "long": "x" * 300,
            "unicode": "größe ✓",
            "strings": ["a", "b"],
            "numbers": [1, -2, 3],
            "floats": (1.5, 2.0),
            "bools": [True, False],
        },
    ):
        with tracer.start_as_current_span("execute job t1", record_exception=True) as job:
            job.add_event("retry", {"attempt": 2})
            job.record_exception(ValueError("boom ü"))
            job.set_status(Status(StatusCode.ERROR, "ValueError: boom"))
            for kind in (SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.SERVER):
                with tracer.start_as_current_span(f"child {kind.name}", kind=kind):
                    pass
        with tracer.start_as_current_span(
            "linked", links=[Link(REMOTE_PARENT, {"why": "correlated later"}), Link(REMOTE_PARENT)]
        ) as linked:
            linked.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("a root, no attributes"):
        pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    first = Resource.create({"service.name": "job-executor", "service.instance.id": "a"})
    second = Resource({"service.name": "engine", "weight": 3}, schema_url="https://x/1")
    yield _spans(first) + _spans(second, scope="other", version="1.2") + _spans(first)


def test_the_request_parses_to_what_the_sdk_encoder_builds(spans: list[ReadableSpan]) -> None:
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))

    assert ours == sdk_encode(spans)
    assert len(ours.resource_spans) == 2  # grouped by resource, then by scope
    assert sum(len(s.spans) for r in ours.resource_spans for s in r.scope_spans) == len(spans)


def test_each_span_alone_matches_too(spans: list[ReadableSpan]) -> None:
    for span in spans:
        assert ExportTraceServiceRequest.FromString(encode_spans([span])) == sdk_encode([span])


def test_no_spans_is_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert ExportTraceServiceRequest.FromString(b"") == sdk_encode([])
