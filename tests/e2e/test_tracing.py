"""One trace per run across the three services, exported over OTLP to a real receiver.

The deployer, the engine and a job-executor run as processes exporting OTLP/HTTP to a
receiver this test owns (:class:`OtlpReceiver`, built on ``opentelemetry-proto``). The
test is a traced client: a root span around the run, whose ``traceparent`` goes with
every HTTP request, and a traced external worker that answers over RabbitMQ.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from bpmn_doc import definitions, element, flow, process, retry_time_cycle
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from safepoint.contract import CompleteExternalTask
from safepoint.messaging.topology import declare_external_topic

INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5
"""OTLP span kinds."""
STATUS_ERROR = 2

ENGINE, DEPLOYER, EXECUTOR, CLIENT_SERVICE = (
    "safepoint-engine",
    "safepoint-deployer",
    "safepoint-job-executor",
    "e2e-client",
)

PROCESS_KEY = "traced_order"
TOPIC = "ship"

ORDER = definitions(
    process(
        PROCESS_KEY,
        element("startEvent", "start"),
        flow("start", "prepare"),
        element(
            "serviceTask",
            "prepare",
            camunda__asyncBefore="true",
            camunda__asyncAfter="true",
            camunda__delegateExpression="${work}",
        ),
        flow("prepare", "charge"),
        element(
            "serviceTask",
            "charge",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${fails_once}",
            extensions=retry_time_cycle("R3/PT1S"),
        ),
        flow("charge", "ship"),
        element("serviceTask", "ship", camunda__type="external", camunda__topic=TOPIC),
        flow("ship", "end"),
        element("endEvent", "end"),
    )
)
"""asyncBefore and asyncAfter on ``prepare``; ``charge`` fails once, then succeeds on its
retry 1 s later (published by the engine's dispatcher); ``ship`` is an external task."""


# --------------------------------------------------------------------------------------
# The OTLP/HTTP receiver
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    status: int
    events: tuple[str, ...]


@dataclass
class OtlpReceiver:
    """Keeps every span POSTed to ``/v1/traces`` (protobuf, gzip or not)."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes: dict[str, Any] = {}
                    for attribute in span.attributes:
                        value = attribute.value
                        kind = value.WhichOneof("value")
                        attributes[attribute.key] = getattr(value, kind) if kind else None
                    received.append(
                        ReceivedSpan(
                            service=resource.get("service.name", ""),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes=attributes,
                            status=span.status.code,
                            events=tuple(event.name for event in span.events),
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def otel_env(receiver: OtlpReceiver, service: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": service,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


# --------------------------------------------------------------------------------------
# The traced client
# --------------------------------------------------------------------------------------


def request(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, Any]:
    call = urllib.request.Request(url, body, headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(errors="replace")


def multipart(name: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = f"----safepoint{secrets.token_hex(12)}"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="deployment-name"\r\n\r\n'
            f'{name}\r\n--{boundary}\r\nContent-Disposition: form-data; name="{filename}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def run_order(
    broker: Any, engine_url: str, deployer_url: str, wait_until: Any, tracer: Any
) -> tuple[str, str]:
    """Deploy ``ORDER``, start it, complete its external task; return its id and trace id.

    The run is one span of ``tracer`` (a no-op tracer: no trace), whose ``traceparent``
    goes with every request; the external worker answers over RabbitMQ with spans of its
    own (consumer, then producer of its command).
    """
    broker.call(declare_external_topic(broker.publisher.channel, TOPIC, broker.topology))
    with tracer.start_as_current_span("order run") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        headers: dict[str, str] = {}
        inject(headers)

        body, content_type = multipart("traced", "order.bpmn", ORDER)
        status, _ = request(
            "POST",
            f"{deployer_url}/engine-rest/deployment/create",
            {**headers, "Content-Type": content_type},
            body,
        )
        assert status == 200
        status, started = request(
            "POST",
            f"{engine_url}/engine-rest/process-definition/key/{PROCESS_KEY}/start",
            {**headers, "Content-Type": "application/json"},
            b'{"businessKey": "ORDER-1"}',
        )
        assert status == 200, started
        instance_id: str = started["id"]

        # The external worker: takes the task, answers with a command over RabbitMQ.
        queue = broker.topology.external_queue(TOPIC)
        task = broker.get(queue, timeout=60)
        with tracer.start_as_current_span(
            f"process {queue}", context=extract(dict(task.headers)), kind=SpanKind.CONSUMER
        ):
            with tracer.start_as_current_span(
                f"publish {broker.topology.commands_exchange}", kind=SpanKind.PRODUCER
            ):
                answer_headers: dict[str, str] = {}
                inject(answer_headers)
                broker.call(
                    broker.publisher.publish(
                        broker.topology.commands_exchange,
                        broker.topology.commands_routing_key,
                        CompleteExternalTask(
                            external_task_id=task.body["externalTaskId"], worker_id="e2e-worker"
                        ),
                        headers=answer_headers,
                    )
                )

        def ended() -> bool:
            status, _ = request(
                "GET", f"{engine_url}/engine-rest/process-instance/{instance_id}", headers
            )
            return status == 404

        wait_until(ended, timeout=60, what="the instance to end")
    return instance_id, trace_id


@pytest.mark.parametrize("follow_ups", ["0", "100"], ids=["every-job-queued", "follow-ups"])
def test_one_trace_spans_every_hop_of_an_instance(
    follow_ups: str,
    otlp: OtlpReceiver,
    broker: Any,
    start_engine: Any,
    start_service: Any,
    start_executor: Any,
    wait_until: Any,
) -> None:
    """HTTP → engine → jobs (asyncBefore/After, a retry) → external worker → end: one trace.

    Every consumer span is a child of a producer span, the retried job's spans are in the
    trace (its second run published by the engine's dispatcher), and each span names the
    service that made it. With every job through the queue, and with follow-up jobs run
    right after the job that created them (no message: a child of that job's span).
    """
    engine = start_engine(otel_env(otlp, ENGINE))
    deployer = start_service("safepoint_deployer", env=otel_env(otlp, DEPLOYER), name="deployer")
    start_executor({**otel_env(otlp, EXECUTOR), "SAFEPOINT_EXECUTOR_FOLLOW_UPS": follow_ups})

    provider = TracerProvider(resource=Resource.create({"service.name": CLIENT_SERVICE}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp.url}/v1/traces"))
    )
    try:
        instance_id, trace_id = run_order(
            broker, engine.url, deployer.url, wait_until, provider.get_tracer("e2e")
        )
    finally:
        provider.shutdown()

    def complete() -> bool:
        spans = otlp.snapshot()
        executions = [s for s in spans if s.attributes.get("bpmn.activity_id")]
        return (
            len(executions) >= 4
            and any(s.name.startswith("process safepoint.commands") for s in spans)
            and any(s.kind == PRODUCER and s.service == ENGINE for s in spans)
        )

    wait_until(complete, timeout=30, what="the spans of the run")
    time.sleep(1.0)  # the last batches (100 ms apart)
    spans = otlp.snapshot()
    by_id = {span.span_id: span for span in spans}
    summary = "\n".join(
        f"{s.service} {s.trace_id[:8]} {s.kind} {s.name} {s.attributes.get('bpmn.activity_id')}"
        for s in spans
    )

    # One trace id for the whole run, with spans from all three services.
    assert {span.trace_id for span in spans} == {trace_id}, summary
    assert {ENGINE, DEPLOYER, EXECUTOR, CLIENT_SERVICE} <= {span.service for span in spans}

    # Every consumer span is a child of the producer span of its message.
    consumers = [span for span in spans if span.kind == CONSUMER]
    assert consumers, summary
    for consumer in consumers:
        parent = by_id.get(consumer.parent_span_id)
        assert parent is not None and parent.kind == PRODUCER, (consumer, summary)

    # service.name is right on each kind of span.
    for span in spans:
        if span.name == "process safepoint.jobs" or span.name.startswith("execute job"):
            assert span.service == EXECUTOR, span
        if span.name == "process safepoint.commands":
            assert span.service == ENGINE, span
        if span.kind == SERVER and "deployment" in span.name:
            assert span.service == DEPLOYER, span
        if span.kind == SERVER and "process-definition" in span.name:
            assert span.service == ENGINE, span
    assert any(s.kind == SERVER and s.service == DEPLOYER for s in spans), summary
    assert any(s.kind == CLIENT and s.service == EXECUTOR for s in spans), "no SQL spans"
    # No span for a checkout from the connection pool (the instrumentation's "connect").
    assert not [s for s in spans if s.name == "connect"], summary

    # Job spans: the attributes, and the retried job's two runs in the trace.
    jobs = [s for s in spans if s.name.startswith("execute job")]
    for job in jobs:
        assert job.attributes["bpmn.process_instance_id"] == instance_id
        assert job.attributes["bpmn.process_definition_key"] == PROCESS_KEY
        assert {"safepoint.job.id", "safepoint.job.configuration", "safepoint.job.retries"} <= set(
            job.attributes
        )
        # Run for its message: under its consumer span; run as a follow-up, right after
        # the job of the instance that created it: under that job's span.
        parent = by_id[job.parent_span_id]
        assert parent.kind == CONSUMER or parent.name.startswith("execute job"), summary
    followed = [j for j in jobs if by_id[j.parent_span_id].name.startswith("execute job")]
    if follow_ups == "0":
        assert not followed, summary
    else:  # prepare's asyncAfter job follows its asyncBefore job, charge's first run that
        assert [j.attributes["bpmn.activity_id"] for j in followed] == ["prepare", "charge"]
    assert sorted(j.attributes["bpmn.activity_id"] for j in jobs) == [
        "charge",
        "charge",
        "prepare",
        "prepare",
    ], summary
    failed, retried = sorted(
        (j for j in jobs if j.attributes["bpmn.activity_id"] == "charge"),
        key=lambda j: -j.attributes["safepoint.job.retries"],
    )
    assert failed.status == STATUS_ERROR and "exception" in failed.events
    assert retried.status != STATUS_ERROR
    assert failed.attributes["safepoint.job.id"] == retried.attributes["safepoint.job.id"]
    # The retry was published by the engine's dispatcher, from the row's stored context.
    retry_producer = by_id[by_id[retried.parent_span_id].parent_span_id]
    assert retry_producer.service == ENGINE and retry_producer.kind == PRODUCER
    # A span per activity executed, inside the span of the job that ran it.
    activities = [s for s in spans if s.name.startswith("activity ")]
    assert activities, summary
    for activity in activities:
        parent = by_id[activity.parent_span_id]
        assert parent.name.startswith("execute job"), (activity, summary)
        assert activity.attributes["bpmn.process_instance_id"] == instance_id
    executed = {a.attributes["bpmn.activity_id"] for a in activities}
    assert {"prepare", "charge"} <= executed, summary
    # A job created during a run is published as a child of that run's span.
    executor_publishes = [
        s
        for s in spans
        if s.kind == PRODUCER and s.service == EXECUTOR and s.name == "publish safepoint.jobs"
    ]
    assert executor_publishes or follow_ups != "0", summary
    for publish in executor_publishes:
        assert by_id[publish.parent_span_id].name.startswith("execute job"), (publish, summary)
    # The job's own statements, run on the driver directly, have their spans too.
    for job in (s for s in spans if s.name.startswith("execute job")):
        statements = {s.name for s in spans if s.parent_span_id == job.span_id and s.kind == CLIENT}
        assert {"SELECT process_instances", "WITH process_instances"} <= statements, summary


def test_metrics_count_what_ran(
    broker: Any,
    start_engine: Any,
    start_service: Any,
    start_executor: Any,
    wait_until: Any,
) -> None:
    """After the same run (tracing off: no endpoint), ``/metrics`` agrees with it.

    ``prepare`` ran twice (asyncBefore, asyncAfter), ``charge`` failed once, was retried
    and then ran; one instance started (engine) and completed (executor); the dispatcher
    published the retry; nothing was dead-lettered or rejected.
    """
    engine = start_engine()
    deployer = start_service("safepoint_deployer", name="deployer")
    executor = start_executor()
    instance_id, _ = run_order(
        broker, engine.url, deployer.url, wait_until, trace.NoOpTracerProvider().get_tracer("x")
    )
    assert instance_id
    assert "tracing on" not in engine.output() + executor.output()

    key = f'process_definition_key="{PROCESS_KEY}"'

    def runs(activity: str, outcome: str) -> float:
        samples = executor.metrics()
        name = f'safepoint_job_runs_total{{activity_id="{activity}",outcome="{outcome}",{key}}}'
        return samples.get(name, 0.0)

    assert runs("prepare", "executed") == 2
    assert runs("charge", "failed") == 1
    assert runs("charge", "retried") == 1
    assert runs("charge", "executed") == 1
    assert runs("charge", "dead_lettered") == 0
    executor_samples, engine_samples = executor.metrics(), engine.metrics()
    assert executor_samples["safepoint_jobs_executed_total"] == 3
    assert executor_samples["safepoint_job_hop_latency_seconds_count"] == 4
    both = [executor_samples, engine_samples]
    started = f"safepoint_process_instances_started_total{{{key}}}"
    completed = f"safepoint_process_instances_completed_total{{{key}}}"
    assert sum(samples.get(started, 0.0) for samples in both) == 1
    assert sum(samples.get(completed, 0.0) for samples in both) == 1
    assert engine_samples['safepoint_dispatcher_published_total{kind="job"}'] >= 1
    assert engine_samples["safepoint_dispatcher_lag_seconds_count"] >= 1
    assert not any(name.startswith("safepoint_messages_rejected_total") for name in both[1])
    assert "process_resident_memory_bytes" in deployer.metrics()
