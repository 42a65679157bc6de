"""The W3C trace context a command runs under is stored on the jobs it creates."""

from __future__ import annotations

import re

from bpmn_doc import definitions, element, flow, process

from safepoint import Engine
from safepoint.embedded import use_trace_context

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$")
CHAIN = definitions(
    process(
        "chain",
        element("startEvent", "start"),
        flow("start", "a"),
        element("task", "a", camunda__asyncBefore="true"),
        flow("a", "b"),
        element("task", "b", camunda__asyncBefore="true"),
        flow("b", "end"),
        element("endEvent", "end"),
    )
)
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_command_without_a_trace_starts_one_that_every_next_job_keeps(engine: Engine) -> None:
    engine.deploy("chain", {"chain.bpmn": CHAIN})
    instance = engine.start_process_instance_by_key("chain")
    (first,) = engine.jobs(instance.id)
    assert TRACEPARENT.match(first.trace_context["traceparent"])
    engine.execute_job(first.id)
    (second,) = engine.jobs(instance.id)
    assert second.trace_context == first.trace_context


def test_the_callers_trace_context_is_kept_and_a_malformed_one_ignored(engine: Engine) -> None:
    engine.deploy("chain", {"chain.bpmn": CHAIN})
    with use_trace_context({"traceparent": CALLER, "tracestate": "vendor=1"}):
        traced = engine.start_process_instance_by_key("chain")
    assert engine.jobs(traced.id)[0].trace_context == {
        "traceparent": CALLER,
        "tracestate": "vendor=1",
    }
    with use_trace_context({"traceparent": "00-not-a-trace"}):
        fresh = engine.start_process_instance_by_key("chain")
    new = engine.jobs(fresh.id)[0].trace_context["traceparent"]
    assert TRACEPARENT.match(new)
    assert new != CALLER
