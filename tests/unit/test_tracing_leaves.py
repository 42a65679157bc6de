"""Safepoint's leaf spans (statements, activities, publishes) look like the SDK's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Span, SpanKind, StatusCode

from safepoint import tracing
from safepoint.core.entities import HistoricActivityInstance

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def _install(monkeypatch: pytest.MonkeyPatch, **provider_args: object) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "probe"}), **provider_args)  # type: ignore[arg-type]
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer(tracing.INSTRUMENTATION_NAME)
    monkeypatch.setattr(tracing, "_tracing", tracing.Tracing(provider, "probe", tracer, processor))
    return exporter


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    yield _install(monkeypatch)


def _activity(event: str, *, canceled: bool = False) -> None:
    tracing.activity_listener(
        event,
        HistoricActivityInstance(
            id="t1:ai-1",
            process_instance_id="pi-1",
            activity_id="t1",
            activity_type="serviceTask",
            execution_id="pi-1",
            parent_activity_instance_id="pi-1",
            started_at=T0,
            ordinal=1,
            canceled=canceled,
        ),
    )


def _run_activity() -> None:
    """What a job does inside its span: an activity starts, a statement runs, it ends."""
    _activity("start")
    with tracing.database_span("SELECT process_instances", "SELECT 1"):
        pass
    _activity("end")


def _job() -> AbstractContextManager[Span | None]:
    return tracing.job_span(
        job_id="job-1",
        process_instance_id="pi-1",
        process_definition_key="chain",
        activity_id="t1",
        configuration="transition-create-scope",
        retries=3,
    )


def _publish(headers: dict[str, object]) -> AbstractContextManager[None]:
    return tracing.producer_span(
        "", "safepoint.jobs", headers, message_id="m-1", message_type="ExecuteJob"
    )


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_leaves_are_children_of_the_job_span_in_its_trace(
    spans: InMemorySpanExporter,
) -> None:
    headers: dict[str, object] = {}
    with _job():
        _run_activity()
        with _publish(headers):
            pass

    found = _by_name(spans)
    job = found["execute job t1"]
    assert set(found) == {
        "execute job t1",
        "activity t1",
        "SELECT process_instances",
        "publish safepoint.jobs",
    }
    for name in ("activity t1", "SELECT process_instances", "publish safepoint.jobs"):
        leaf = found[name]
        assert leaf.parent is not None and leaf.parent.span_id == job.context.span_id
        assert leaf.context.trace_id == job.context.trace_id
        assert leaf.context.span_id not in (0, job.context.span_id)
        assert leaf.resource == job.resource
        assert leaf.instrumentation_scope == job.instrumentation_scope
        assert leaf.status.status_code is StatusCode.UNSET
        assert leaf.start_time is not None and leaf.end_time is not None
        assert job.start_time <= leaf.start_time <= leaf.end_time <= job.end_time  # type: ignore[operator]
    assert found["SELECT process_instances"].kind is SpanKind.CLIENT
    assert found["SELECT process_instances"].attributes == {
        "db.system": "postgresql",
        "db.operation": "SELECT",
        "db.statement": "SELECT 1",
    }
    assert found["activity t1"].attributes[tracing.ACTIVITY_INSTANCE_ID] == "t1:ai-1"  # type: ignore[index]
    publish = found["publish safepoint.jobs"]
    assert publish.kind is SpanKind.PRODUCER
    trace_id, span_id = f"{publish.context.trace_id:032x}", f"{publish.context.span_id:016x}"
    flags = f"{job.context.trace_flags:02x}"  # the job's, as an SDK child would have
    assert headers["traceparent"] == f"00-{trace_id}-{span_id}-{flags}"  # the message's parent


def test_a_failed_statement_records_the_exception_as_the_sdk_does(
    spans: InMemorySpanExporter,
) -> None:
    with _job(), pytest.raises(ValueError, match="boom"):
        with tracing.database_span("WITH process_instances", "WITH ..."):
            raise ValueError("boom")
    with trace.get_tracer("reference").start_as_current_span("sdk") as reference:
        reference.record_exception(ValueError("boom"))

    found = _by_name(spans)
    leaf = found["WITH process_instances"]
    assert leaf.status.status_code is StatusCode.ERROR
    assert leaf.status.description == "ValueError: boom"
    [event] = leaf.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "boom"
    assert "raise ValueError" in str(event.attributes["exception.stacktrace"])
    assert set(event.attributes) >= {"exception.type", "exception.message", "exception.stacktrace"}


def test_waiting_and_canceled_activities_are_marked(spans: InMemorySpanExporter) -> None:
    with _job():
        _activity("start")  # still running when the job ends: a wait state
    with _job():
        _activity("start")
        _activity("end", canceled=True)

    activities = [s for s in spans.get_finished_spans() if s.name == "activity t1"]
    assert [dict(s.attributes or {}).get(tracing.ACTIVITY_WAITING) for s in activities] == [
        True,
        None,
    ]
    assert dict(activities[1].attributes or {}).get(tracing.ACTIVITY_CANCELED) is True


def test_without_a_parent_a_statement_is_not_recorded_and_a_publish_starts_a_trace(
    spans: InMemorySpanExporter,
) -> None:
    headers: dict[str, object] = {}
    with tracing.database_span("SELECT jobs", "SELECT 1"):
        pass
    with _publish(headers):
        pass

    [publish] = spans.get_finished_spans()
    assert publish.name == "publish safepoint.jobs" and publish.parent is None
    assert f"{publish.context.span_id:016x}" in str(headers["traceparent"])


def test_under_a_span_not_sampled_nothing_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = _install(monkeypatch, sampler=ALWAYS_OFF)
    with _job():
        _run_activity()

    assert exporter.get_finished_spans() == ()


UNSAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
"""A remote parent that is not sampled (W3C flags ``00``)."""


def _consume(headers: dict[str, object]) -> AbstractContextManager[Span | None]:
    return tracing.consumer_span(
        "safepoint.jobs",
        headers,
        exchange="safepoint.jobs",
        routing_key="safepoint.jobs",
        message_id="m-1",
        message_type="ExecuteJob",
        delivery_count=0,
    )


def test_a_message_of_an_unsampled_trace_makes_no_span_and_passes_the_context_on(
    spans: InMemorySpanExporter,
) -> None:
    published: dict[str, object] = {}
    with _consume({"traceparent": UNSAMPLED}) as consumer:
        assert consumer is None
        assert tracing.current_headers()["traceparent"] == UNSAMPLED
        with _job() as job:
            assert job is None
            _run_activity()
            with _publish(published):
                pass
    stored = {"traceparent": UNSAMPLED}  # a job row's context: the message keeps it
    with _publish(stored):
        pass

    assert spans.get_finished_spans() == ()
    assert published["traceparent"] == UNSAMPLED  # the next hop stays unsampled too
    assert stored["traceparent"] == UNSAMPLED
    assert tracing.current_headers() == {}  # the parent was current inside only


def test_a_message_of_a_sampled_trace_makes_its_spans(spans: InMemorySpanExporter) -> None:
    sampled = UNSAMPLED[:-2] + "01"
    with _consume({"traceparent": sampled}) as consumer, _job() as job:
        assert consumer is not None and job is not None

    found = _by_name(spans)
    assert set(found) == {"process safepoint.jobs", "execute job t1"}
    assert f"{found['process safepoint.jobs'].parent.span_id:016x}" == sampled.split("-")[2]  # type: ignore[union-attr]


def test_a_sampler_that_ignores_the_parent_decides_for_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = _install(monkeypatch, sampler=ALWAYS_ON)  # samples under any parent
    monkeypatch.setattr(tracing, "_tracing", replace(tracing._tracing, follows_parent=False))  # type: ignore[type-var]
    with _consume({"traceparent": UNSAMPLED}) as consumer:
        assert consumer is not None

    [span] = exporter.get_finished_spans()
    assert span.name == "process safepoint.jobs"


@pytest.mark.parametrize(
    ("sampler", "follows_parent"),
    [
        (None, True),  # the default: parentbased_always_on
        ("parentbased_traceidratio", True),
        ("always_off", True),
        ("always_on", False),
        ("traceidratio", False),
    ],
)
def test_which_samplers_follow_an_unsampled_parent(
    monkeypatch: pytest.MonkeyPatch, sampler: str | None, follows_parent: bool
) -> None:
    if sampler is None:
        monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    else:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    assert tracing._sampler()[1] is follows_parent
