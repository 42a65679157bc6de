"""safepoint.tracing's set-up: off without an endpoint, OTEL_* honoured, root queries dropped.

Each case runs in a fresh interpreter: the tracer provider is process-global.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from safepoint import tracing

    configured = tracing.configure("svc-default")
    out = {"on": configured is not None, "headers": tracing.current_headers()}
    if configured is not None:
        out["service"] = configured.service_name
        tracer = trace.get_tracer("probe")
        with tracer.start_as_current_span("root query", kind=SpanKind.CLIENT) as span:
            out["root_client_sampled"] = span.is_recording()
        with tracer.start_as_current_span("request", kind=SpanKind.SERVER) as span:
            out["server_sampled"] = span.is_recording()
            out["inner"] = tracing.current_headers()
            with tracer.start_as_current_span("query", kind=SpanKind.CLIENT) as child:
                out["child_client_sampled"] = child.is_recording()
            headers = {}
            with tracing.producer_span(
                "safepoint.jobs", "safepoint.jobs", headers, message_id="m", message_type="t"
            ):
                pass
            out["published"] = headers
        tracing.shutdown()
    print(json.dumps(out))
    """
)


def probe(**env: str) -> dict[str, object]:
    clean = {"PATH": "/usr/bin:/bin", **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_tracing_is_off_without_an_endpoint() -> None:
    assert probe() == {"on": False, "headers": {}}


def test_tracing_follows_otel_variables_and_drops_root_queries() -> None:
    answer = probe(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",  # nothing listens: export fails quietly
        OTEL_SERVICE_NAME="svc-from-env",
        OTEL_BSP_EXPORT_TIMEOUT="100",
        OTEL_EXPORTER_OTLP_TIMEOUT="0.2",
    )
    assert answer["on"] is True
    assert answer["service"] == "svc-from-env"
    assert answer["root_client_sampled"] is False
    assert answer["server_sampled"] is True and answer["child_client_sampled"] is True
    inner = answer["inner"]
    published = answer["published"]
    assert isinstance(inner, dict) and isinstance(published, dict)
    # The publish is a child span in the request's trace: same trace id, new span id.
    assert published["traceparent"].split("-")[1] == inner["traceparent"].split("-")[1]
    assert published["traceparent"] != inner["traceparent"]


def test_default_service_name_when_otel_service_name_is_unset() -> None:
    answer = probe(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT="0.2"
    )
    assert answer["service"] == "svc-default"
