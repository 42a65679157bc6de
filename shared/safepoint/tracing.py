"""OpenTelemetry tracing for the services: set-up from ``OTEL_*``, and Safepoint's own spans.

Tracing is a plug-in around the engine: the core never imports OpenTelemetry. A service
calls :func:`configure` once at start-up; it exports spans over OTLP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and
does nothing at all otherwise (every helper here is then a cheap no-op). Everything
else comes from the standard variables: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``; the
only protocol shipped), ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` and
``OTEL_BSP_*`` (the batch processor).

Spans, following the OpenTelemetry messaging semantic conventions:

- FastAPI server spans and SQLAlchemy client spans (the official instrumentations);
- a ``PRODUCER`` span per publish (:func:`producer_span`): its parent is the context the
  message carries (``traceparent``: the job row's stored context, so a job the
  dispatcher publishes later still joins its trace), else the current span; the
  message then carries the producer span's context;
- a ``CONSUMER`` span per message processed (:func:`consumer_span`), a child of the
  producer span whose context the message carries;
- inside it, a span per job execution (:func:`job_span`) with the ``bpmn.*`` and
  ``safepoint.job.*`` attributes, exceptions recorded with error status;
- a message correlated later keeps the trace of its request or command, and its span
  gets a link (:func:`add_link`) to the trace of the instance it continues.

:func:`current_headers` turns the current span into W3C headers, which the services
hand to :func:`safepoint.embedded.use_trace_context`, so the context stored on a new
job row is the span that created it.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode
from opentelemetry.trace import Span as Span

from safepoint.core.entities import HistoricActivityInstance

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

logger = logging.getLogger(__name__)

T = TypeVar("T")

INSTRUMENTATION_NAME: Final = "safepoint"
"""The instrumentation scope of Safepoint's own spans."""

ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Tracing is on when one of these is set (and ``OTEL_SDK_DISABLED`` is not ``true``)."""

EXCLUDED_URLS: Final = "health,ready,metrics"
"""Requests that get no server span: probes and scrapes."""

MESSAGING_SYSTEM: Final = "rabbitmq"

# Attribute names: the messaging semantic conventions, then Safepoint's own.
MESSAGING_SYSTEM_ATTRIBUTE: Final = "messaging.system"
OPERATION_NAME: Final = "messaging.operation.name"
OPERATION_TYPE: Final = "messaging.operation.type"
DESTINATION_NAME: Final = "messaging.destination.name"
ROUTING_KEY: Final = "messaging.rabbitmq.destination.routing_key"
MESSAGE_ID: Final = "messaging.message.id"
CONVERSATION_ID: Final = "messaging.message.conversation_id"
BODY_SIZE: Final = "messaging.message.body.size"
MESSAGE_TYPE: Final = "safepoint.message.type"
DB_SYSTEM: Final = "db.system"
DB_OPERATION: Final = "db.operation"
DB_STATEMENT: Final = "db.statement"
"""The attribute names the SQLAlchemy instrumentation gives its spans, for the same look."""
DELIVERY_COUNT: Final = "safepoint.message.delivery_count"
PROCESS_DEFINITION_KEY: Final = "bpmn.process_definition_key"
PROCESS_INSTANCE_ID: Final = "bpmn.process_instance_id"
ACTIVITY_ID: Final = "bpmn.activity_id"
JOB_ID: Final = "safepoint.job.id"
JOB_CONFIGURATION: Final = "safepoint.job.configuration"
JOB_RETRIES: Final = "safepoint.job.retries"


@dataclass(frozen=True, slots=True)
class Tracing:
    """Tracing as configured for this process; :meth:`shutdown` flushes what is left."""

    provider: TracerProvider
    service_name: str
    tracer: trace.Tracer
    """Safepoint's tracer, made once (``get_tracer`` builds a new one on every call)."""
    processor: SpanProcessor
    """Where Safepoint's leaf spans go when they end (:class:`_Leaf`): the exporting one."""
    follows_parent: bool = True
    """The sampler never samples a span whose parent is not sampled (``parentbased_*``,
    the default, and ``always_off``): Safepoint's own spans under such a parent are
    then skipped without asking it, and the unsampled context travels on as it is."""

    def shutdown(self) -> None:
        """Export the spans still buffered and stop exporting."""
        self.provider.shutdown()


_tracing: Tracing | None = None


def enabled() -> bool:
    """Whether this process exports spans (:func:`configure` found an endpoint)."""
    return _tracing is not None


def configure(default_service_name: str) -> Tracing | None:
    """Set up tracing from the ``OTEL_*`` variables; ``None`` (off) without an endpoint.

    Idempotent: a second call returns the first result. Turns on the SQLAlchemy
    instrumentation for every engine created afterwards; FastAPI apps are instrumented
    one by one with :func:`instrument_app`.

    Args:
        default_service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` (or
            ``OTEL_RESOURCE_ATTRIBUTES``) names it.
    """
    global _tracing
    if _tracing is not None:
        return _tracing
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if not any(os.environ.get(name, "").strip() for name in ENDPOINT_VARIABLES):
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "unknown_service")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    sampler, follows_parent = _sampler()
    provider = TracerProvider(resource=resource, sampler=sampler)
    processor = BatchSpanProcessor(_exporter())
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.instrumentation.utils import unwrap
    from sqlalchemy.engine.base import Engine

    SQLAlchemyInstrumentor().instrument(tracer_provider=provider)
    # Its span around ``Engine.connect`` is, in a service, a checkout from the pool, once
    # per transaction: a span per job that says nothing, and costs as much as one that
    # does (even unsampled). The statements' spans stay.
    unwrap(Engine, "connect")
    _tracing = Tracing(
        provider,
        str(resource.attributes[SERVICE_NAME]),
        provider.get_tracer(INSTRUMENTATION_NAME),
        processor,
        follows_parent,
    )
    logger.info("tracing on: exporting spans of %s over OTLP", _tracing.service_name)
    return _tracing


def _sampler() -> tuple[Any, bool]:
    """``OTEL_TRACES_SAMPLER``'s sampler, but root ``CLIENT`` spans are never sampled.

    Safepoint's only ``CLIENT`` spans are SQL statements; one without a parent is a
    poll (the dispatcher's leases, readiness checks), a one-span trace every few hundred
    milliseconds that would bury the traces that matter.

    Returns:
        The sampler, and whether it follows an unsampled parent (never samples its
        children): see :attr:`Tracing.follows_parent`.
    """
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
    )
    from opentelemetry.sdk.trace.sampling import _get_from_env_or_default as from_env

    configured = from_env()

    class NoRootQueries(Sampler):
        def should_sample(
            self,
            parent_context: otel_context.Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            if kind is SpanKind.CLIENT:
                parent = trace.get_current_span(parent_context).get_span_context()
                if not parent.is_valid:
                    return SamplingResult(Decision.DROP)
            return configured.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"NoRootQueries{{{configured.get_description()}}}"

    # The environment's parent-based samplers keep the default: no child of an
    # unsampled parent is sampled.
    return NoRootQueries(), configured is ALWAYS_OFF or isinstance(configured, ParentBased)


def _exporter() -> Any:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol != "http/protobuf":
        logger.warning(
            "OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported here; exporting http/protobuf",
            protocol,
        )
    from safepoint.otlp import OTLPSpanExporter  # the SDK's, with a cheaper encoder

    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def shutdown() -> None:
    """Flush and stop tracing (no-op when off); call it once before the process exits."""
    global _tracing
    if _tracing is not None:
        tracing, _tracing = _tracing, None
        tracing.shutdown()


def instrument_app(app: Any) -> None:
    """Give ``app`` FastAPI server spans (not for probes and ``/metrics``); no-op when off.

    ``app`` is a ``FastAPI`` application (not typed as such: the services' use cases
    import this module, and they must not import FastAPI).
    """
    if _tracing is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_tracing.provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )


ACTIVITY_TYPE = "bpmn.activity_type"
ACTIVITY_INSTANCE_ID = "bpmn.activity_instance_id"
ACTIVITY_WAITING = "safepoint.activity.waiting"
ACTIVITY_CANCELED = "safepoint.activity.canceled"

_activity_spans: ContextVar[dict[str, _Leaf] | None] = ContextVar(
    "safepoint_activity_spans", default=None
)
"""The open activity spans of the job running in this context (``None`` outside one)."""


def _tracer() -> trace.Tracer:
    assert _tracing is not None  # every caller returns early when tracing is off
    return _tracing.tracer


def current_headers() -> dict[str, str]:
    """The current span's W3C headers (``traceparent``, ``tracestate``); empty when off."""
    if _tracing is None:
        return {}
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def _text_headers(headers: Mapping[str, object]) -> dict[str, str]:
    carrier = {}
    for name in ("traceparent", "tracestate"):
        value = headers.get(name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str):
            carrier[name] = value
    return carrier


def _parent(headers: Mapping[str, object]) -> otel_context.Context | None:
    """The context ``headers`` carry, or ``None`` (the current one) when they carry none."""
    carrier = _text_headers(headers)
    if not carrier:
        return None
    context = extract(carrier)
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def _unsampled(context: otel_context.Context | None) -> bool:
    """Whether a span under ``context`` (the current one by default) would not be sampled.

    True when that context holds a valid span that is not sampled and the sampler
    follows its parent: the span need not be made at all (the SDK would make a
    non-recording one, at the cost of a recorded one), its parent's context stands in.
    """
    assert _tracing is not None
    if not _tracing.follows_parent:
        return False
    parent = trace.get_current_span(context).get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled


@contextmanager
def producer_span(
    destination: str,
    routing_key: str,
    headers: dict[str, Any],
    *,
    message_id: str | None,
    message_type: str | None,
    correlation_id: str | None = None,
    body_size: int | None = None,
) -> Iterator[None]:
    """A ``PRODUCER`` span around one publish; ``headers`` then carry its context.

    The parent is the context ``headers`` carry already (a job's stored context), else
    the current span. ``headers`` are changed in place. No-op when tracing is off.

    Args:
        destination: the exchange (``""``: the default exchange).
        routing_key: the routing key (the queue, on the default exchange).
        headers: the message's AMQP headers.
        message_id: the AMQP ``message_id``.
        message_type: the contract type.
        correlation_id: the AMQP ``correlation_id``.
        body_size: the body's size in bytes.
    """
    if _tracing is None:
        yield
        return
    context = _parent(headers)
    if _unsampled(context):  # the message carries its unsampled parent's context on
        if context is None:
            _carry(headers, otel_context.get_current())
        yield
        return
    name = destination or routing_key
    attributes: dict[str, str | int] = {
        MESSAGING_SYSTEM_ATTRIBUTE: MESSAGING_SYSTEM,
        OPERATION_NAME: "publish",
        OPERATION_TYPE: "send",
        DESTINATION_NAME: name,
        ROUTING_KEY: routing_key,
    }
    _put(attributes, MESSAGE_ID, message_id)
    _put(attributes, MESSAGE_TYPE, message_type)
    _put(attributes, CONVERSATION_ID, correlation_id)
    _put(attributes, BODY_SIZE, body_size)
    leaf = _Leaf.start(f"publish {name}", SpanKind.PRODUCER, attributes, context)
    if leaf is None:  # a new trace, or one not sampled: the SDK decides
        with _tracer().start_as_current_span(
            f"publish {name}", context=context, kind=SpanKind.PRODUCER, attributes=attributes
        ):
            _carry(headers, otel_context.get_current())
            yield
        return
    _carry(headers, trace.set_span_in_context(NonRecordingSpan(leaf.context)))
    with leaf:
        yield


def _carry(headers: dict[str, Any], context: otel_context.Context) -> None:
    """Make ``headers`` carry ``context`` (replacing the context they carried)."""
    for key in ("traceparent", "tracestate"):
        headers.pop(key, None)
    inject(headers, context=context)


@contextmanager
def consumer_span(
    queue: str,
    headers: Mapping[str, object],
    *,
    exchange: str,
    routing_key: str,
    message_id: str | None,
    message_type: str | None,
    delivery_count: int,
) -> Iterator[Span | None]:
    """A ``CONSUMER`` span around the processing of one message, a child of its producer.

    Yields the span (``None`` when tracing is off or the trace is not sampled) for
    :func:`mark_failed`.
    """
    if _tracing is None:
        yield None
        return
    parent = _parent(headers)
    if parent is not None and _unsampled(parent):  # no span; its parent is current
        token = otel_context.attach(parent)
        try:
            yield None
        finally:
            otel_context.detach(token)
        return
    attributes: dict[str, str | int] = {
        MESSAGING_SYSTEM_ATTRIBUTE: MESSAGING_SYSTEM,
        OPERATION_NAME: "process",
        OPERATION_TYPE: "process",
        DESTINATION_NAME: queue,
        ROUTING_KEY: routing_key,
        DELIVERY_COUNT: delivery_count,
        "messaging.rabbitmq.exchange": exchange,
    }
    _put(attributes, MESSAGE_ID, message_id)
    _put(attributes, MESSAGE_TYPE, message_type)
    with _tracer().start_as_current_span(
        f"process {queue}",
        context=parent or otel_context.Context(),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span


@contextmanager
def continuing(headers: Mapping[str, object]) -> Iterator[None]:
    """Make the context ``headers`` carry current (a job run without its message).

    A follow-up job runs in the job-executor that created it, with no message of its
    own: its span becomes a child of what its stored trace context names (the job that
    created it), as after a delivery. No-op when tracing is off or ``headers`` carry none.
    """
    parent = _parent(headers) if _tracing is not None else None
    if parent is None:
        yield
        return
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def database_span(name: str, statement: str) -> Iterator[None]:
    """A ``CLIENT`` span around one PostgreSQL statement run on the driver directly.

    The persistence hot path bypasses SQLAlchemy (whose instrumentation makes the other
    statements' spans); this gives its statements the same kind of span, for less.
    No-op when tracing is off.

    Args:
        name: the span's name, ``"<operation> <table>"``.
        statement: the SQL text.
    """
    if _tracing is None:
        yield
        return
    attributes: dict[str, str | int] = {
        DB_SYSTEM: "postgresql",
        DB_OPERATION: name.split(" ", 1)[0],
        DB_STATEMENT: statement,
    }
    leaf = _Leaf.start(name, SpanKind.CLIENT, attributes)
    if leaf is None:  # no sampled span around it: a root query, dropped like the others
        yield
        return
    with leaf:
        yield


@contextmanager
def job_span(
    *,
    job_id: str,
    process_instance_id: str,
    process_definition_key: str,
    activity_id: str,
    configuration: str,
    retries: int,
) -> Iterator[Span | None]:
    """An ``INTERNAL`` span around one job execution, with the job's attributes.

    Yields the span (``None`` when tracing is off or the trace is not sampled) for
    :func:`mark_failed`.
    """
    if _tracing is None or _unsampled(None):
        yield None
        return
    attributes: dict[str, str | int] = {
        JOB_ID: job_id,
        PROCESS_INSTANCE_ID: process_instance_id,
        PROCESS_DEFINITION_KEY: process_definition_key,
        ACTIVITY_ID: activity_id,
        JOB_CONFIGURATION: configuration,
        JOB_RETRIES: retries,
    }
    with _tracer().start_as_current_span(
        f"execute job {activity_id}", attributes=attributes, record_exception=True
    ) as span:
        activities: dict[str, _Leaf] = {}
        token = _activity_spans.set(activities)
        try:
            yield span
        finally:
            _activity_spans.reset(token)
            for waiting in activities.values():  # entered, not ended: a wait state
                waiting.attributes[ACTIVITY_WAITING] = True
                waiting.end()


def activity_listener(event: str, instance: HistoricActivityInstance) -> None:
    """The engine's activity listener: a span per activity executed within a job.

    Each activity instance that starts inside :func:`job_span` gets a child span of
    the job's, ended when the activity ends; one still running when the job ends (a
    user task, a receive task, a join waiting for its other tokens) is ended then,
    marked ``safepoint.activity.waiting``. Outside a job span, and with tracing off,
    it does nothing.
    """
    if _tracing is None:
        return
    spans = _activity_spans.get()
    if spans is None:
        return
    if event == "start":
        leaf = _Leaf.start(
            f"activity {instance.activity_id}",
            SpanKind.INTERNAL,
            {
                ACTIVITY_ID: instance.activity_id,
                ACTIVITY_TYPE: instance.activity_type,
                PROCESS_INSTANCE_ID: instance.process_instance_id,
                ACTIVITY_INSTANCE_ID: instance.id,
            },
        )
        if leaf is not None:
            spans[instance.id] = leaf
        return
    leaf = spans.pop(instance.id, None)
    if leaf is not None:
        if instance.canceled:
            leaf.attributes[ACTIVITY_CANCELED] = True
        leaf.end()


def add_link(headers: Mapping[str, object], **attributes: str) -> bool:
    """Link the current span to the span ``headers`` carry, when it is in another trace.

    For work that continues something started in another trace (a message correlated
    later to a waiting instance): the work keeps its own trace, and the link leads to
    the other. No-op when tracing is off, no span is recording, ``headers`` carry no
    valid context or one in the current span's own trace.

    Args:
        headers: W3C headers (``traceparent``, ``tracestate``) of the span to link to.
        **attributes: the link's attributes.

    Returns:
        Whether a link was added.
    """
    if _tracing is None:
        return False
    span = trace.get_current_span()
    if not span.is_recording():
        return False
    context = _parent(headers)
    if context is None:
        return False
    linked = trace.get_current_span(context).get_span_context()
    if linked.trace_id == span.get_span_context().trace_id:
        return False
    span.add_link(linked, dict(attributes))
    return True


def mark_failed(span: Span | None, exc: BaseException | None = None, *, reason: str = "") -> None:
    """Record ``exc`` (when given) on ``span`` and set its status to error."""
    if span is None or not span.is_recording():
        return
    if exc is not None:
        span.record_exception(exc)
    description = reason or (f"{type(exc).__name__}: {exc}" if exc is not None else "")
    span.set_status(Status(StatusCode.ERROR, description or None))


def carry_context(coroutine: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """``coroutine`` run under the current trace context, wherever it is scheduled.

    For work handed from a worker thread to the event loop
    (``asyncio.run_coroutine_threadsafe`` does not carry context variables). Returns
    ``coroutine`` itself when tracing is off.
    """
    if _tracing is None:
        return coroutine
    captured = otel_context.get_current()

    async def run() -> T:
        token = otel_context.attach(captured)
        try:
            return await coroutine
        finally:
            otel_context.detach(token)

    return run()


class _Leaf:
    """A span nothing runs inside, recorded without the SDK's span machinery.

    Most of Safepoint's spans per job are leaves: the statements, the activities, the
    publish. The SDK spends some 150 Python calls on each span (sampler, locks,
    attribute validation, context switches), as much as the rest of the job's
    bookkeeping; a leaf takes the parent's trace and sampling decision, never becomes
    the current span, and hands a finished ``ReadableSpan`` to the exporting processor
    itself. Its attributes are Safepoint's own (valid types, few, bounded). It looks
    the same in the exported trace as an SDK span.
    """

    __slots__ = ("name", "kind", "attributes", "parent", "context", "started")

    def __init__(
        self, name: str, kind: SpanKind, attributes: dict[str, Any], parent: trace.SpanContext
    ) -> None:
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.parent = parent
        assert _tracing is not None
        self.context = trace.SpanContext(
            parent.trace_id,
            _tracing.provider.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=parent.trace_flags,
            trace_state=parent.trace_state,
        )
        self.started = time.time_ns()

    @classmethod
    def start(
        cls,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
        context: otel_context.Context | None = None,
    ) -> _Leaf | None:
        """A leaf under the span of ``context`` (the current one by default).

        ``None`` when tracing is off or that span is not sampled (nothing to record) or
        there is none (a new trace: the caller leaves that to the SDK's sampler).
        """
        if _tracing is None:
            return None
        parent = trace.get_current_span(context).get_span_context()
        if not parent.is_valid or not parent.trace_flags.sampled:
            return None
        return cls(name, kind, attributes, parent)

    def __enter__(self) -> _Leaf:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.end(exc)

    def end(self, error: BaseException | None = None) -> None:
        """Record the span, with ``error`` as an exception event and error status."""
        if _tracing is None:  # shut down meanwhile
            return
        events: tuple[Event, ...] = ()
        status = _UNSET
        if error is not None:
            events = (_exception_event(error),)
            status = Status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
        _tracing.processor.on_end(
            ReadableSpan(
                self.name,
                context=self.context,
                parent=self.parent,
                resource=_tracing.provider.resource,
                attributes=self.attributes,
                events=events,
                kind=self.kind,
                status=status,
                start_time=self.started,
                end_time=time.time_ns(),
                instrumentation_scope=_SCOPE,
            )
        )


_UNSET = Status(StatusCode.UNSET)
_SCOPE = InstrumentationScope(INSTRUMENTATION_NAME, "", "")
"""The scope of the spans of :func:`_tracer`, as ``get_tracer`` makes it (no version)."""


def _exception_event(exc: BaseException) -> Event:
    """The event ``Span.record_exception`` adds, with the same attributes."""
    module, qualname = type(exc).__module__, type(exc).__qualname__
    return Event(
        "exception",
        {
            "exception.type": qualname if module in ("builtins", "") else f"{module}.{qualname}",
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(exc)),
            "exception.escaped": "False",
        },
    )


def _put(attributes: dict[str, str | int], key: str, value: str | int | None) -> None:
    if value is not None and value != "":
        attributes[key] = value
