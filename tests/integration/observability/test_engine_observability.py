"""The engine's incidents-open gauge, and the span link of a message correlated later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bpmn_doc import definitions, element, flow, process
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from safepoint import Engine, ManualClock, metrics, tracing
from safepoint.contract import CorrelateMessage
from safepoint.embedded import use_trace_context
from safepoint.settings import DatabaseSettings
from safepoint_engine.app import create_app
from safepoint_engine.consumers import execute_command
from safepoint_engine.observability import count_open_incidents
from safepoint_engine.settings import Settings

REST = "/engine-rest"
INSTANCE_TRACE = "0af7651916cd43dd8448eb211c80319c"
INSTANCE_TRACEPARENT = f"00-{INSTANCE_TRACE}-b7ad6b7169203331-01"

# A payment is awaited while the order is packed (an external task, pending meanwhile).
ORDER = definitions(
    process(
        "order",
        element("startEvent", "start"),
        element("parallelGateway", "fork"),
        element("receiveTask", "wait", messageRef="msg_PaymentReceived"),
        element("serviceTask", "pack", **{"camunda:type": "external", "camunda:topic": "pack"}),
        element("endEvent", "paid"),
        element("endEvent", "packed"),
        flow("start", "fork"),
        flow("fork", "wait"),
        flow("fork", "pack"),
        flow("wait", "paid"),
        flow("pack", "packed"),
    ),
    messages=["PaymentReceived"],
)


def test_incidents_open_is_cached_and_left_out_when_the_count_fails() -> None:
    now = [0.0]
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("database down")
        return len(calls)

    gauge = metrics.IncidentsOpen(count, max_age=2.0, clock=lambda: now[0])
    assert gauge.value() == 1
    now[0] = 1.5
    assert gauge.value() == 1  # cached
    now[0] = 2.0
    assert gauge.value() == 2
    now[0] = 4.0
    assert list(gauge.collect()) == []  # the failure: no sample
    now[0] = 4.1
    [family] = gauge.collect()
    assert family.name == metrics.INCIDENTS_OPEN_NAME
    assert [sample.value for sample in family.samples] == [4]


def test_count_open_incidents_reads_the_database(engine: Engine) -> None:
    assert count_open_incidents(engine.store) == 0


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on, in this process, with the finished spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer(tracing.INSTRUMENTATION_NAME)
    monkeypatch.setattr(
        tracing, "_tracing", tracing.Tracing(provider, "engine-test", tracer, processor)
    )
    yield exporter
    provider.shutdown()


def start_waiting_order(database_url: str, clock: ManualClock, business_key: str) -> str:
    """An order instance started under INSTANCE_TRACE, waiting for its payment."""
    with Engine(database_url, clock=clock) as engine:
        engine.deploy("orders", {"order.bpmn": ORDER})
        with use_trace_context({"traceparent": INSTANCE_TRACEPARENT}):
            instance = engine.start_process_instance_by_key("order", business_key=business_key)
        [task] = engine.external_tasks(process_instance_id=instance.id)
        assert task.trace_context["traceparent"] == INSTANCE_TRACEPARENT
        return instance.id


def links_to_instance(span: ReadableSpan) -> list[str]:
    return [
        str(link.attributes.get(tracing.PROCESS_INSTANCE_ID) if link.attributes else None)
        for link in span.links
        if f"{link.context.trace_id:032x}" == INSTANCE_TRACE
    ]


def test_http_correlation_has_its_own_trace_linked_to_the_instance(
    database_url: str, clock: ManualClock, spans: InMemorySpanExporter
) -> None:
    instance_id = start_waiting_order(database_url, clock, "ORDER-1")
    settings = Settings(database=DatabaseSettings(url=database_url))
    app = create_app(settings, delegates={}, clock=clock, messaging=False)
    with TestClient(app) as client:
        response = client.post(
            f"{REST}/message", json={"messageName": "PaymentReceived", "businessKey": "ORDER-1"}
        )
    assert response.status_code == 204, response.text
    [server] = [
        span
        for span in spans.get_finished_spans()
        if span.kind is trace.SpanKind.SERVER and span.name.startswith("POST")
    ]
    assert server.context is not None
    assert f"{server.context.trace_id:032x}" != INSTANCE_TRACE  # its own trace
    assert links_to_instance(server) == [instance_id]


def test_correlate_command_links_its_span_to_the_instance(
    database_url: str, clock: ManualClock, spans: InMemorySpanExporter
) -> None:
    instance_id = start_waiting_order(database_url, clock, "ORDER-2")
    tracer = tracing._tracing.provider.get_tracer("test") if tracing._tracing else None
    assert tracer is not None
    with Engine(database_url, clock=clock) as engine:
        with tracer.start_as_current_span("process safepoint.commands") as span:
            execute_command(
                engine, CorrelateMessage(message_name="PaymentReceived", business_key="ORDER-2")
            )
        assert "wait" not in engine.active_activity_ids(instance_id)
    assert isinstance(span, ReadableSpan)
    assert links_to_instance(span) == [instance_id]


def test_no_link_when_tracing_is_off(database_url: str, clock: ManualClock) -> None:
    start_waiting_order(database_url, clock, "ORDER-3")
    provider = TracerProvider()
    with Engine(database_url, clock=clock) as engine:
        with provider.get_tracer("test").start_as_current_span("request") as span:
            execute_command(
                engine, CorrelateMessage(message_name="PaymentReceived", business_key="ORDER-3")
            )
    assert isinstance(span, ReadableSpan)
    assert span.links == ()


WAITS_FOR_PAYMENT = definitions(
    process(
        "invoice_payment",
        element("startEvent", "start"),
        flow("start", "wait"),
        element("receiveTask", "wait", messageRef="msg_PaymentReceived"),
        flow("wait", "end"),
        element("endEvent", "end"),
    ),
    messages=["PaymentReceived"],
)


def test_a_correlation_links_to_an_instance_that_only_waits_for_the_message(
    database_url: str, clock: ManualClock, spans: InMemorySpanExporter
) -> None:
    """No job or external task is pending: the link comes from the instance's own row."""
    with Engine(database_url, clock=clock) as engine:
        engine.deploy("payments", {"payment.bpmn": WAITS_FOR_PAYMENT})
        with use_trace_context({"traceparent": INSTANCE_TRACEPARENT}):
            instance = engine.start_process_instance_by_key(
                "invoice_payment", business_key="ORDER-3"
            )
        assert engine.jobs(instance.id) == []
        assert engine.external_tasks(process_instance_id=instance.id) == []
    settings = Settings(database=DatabaseSettings(url=database_url))
    app = create_app(settings, delegates={}, clock=clock, messaging=False)
    with TestClient(app) as client:
        response = client.post(
            f"{REST}/message", json={"messageName": "PaymentReceived", "businessKey": "ORDER-3"}
        )
    assert response.status_code == 204, response.text
    [server] = [
        span
        for span in spans.get_finished_spans()
        if span.kind is trace.SpanKind.SERVER and span.name.startswith("POST")
    ]
    assert links_to_instance(server) == [instance.id]
