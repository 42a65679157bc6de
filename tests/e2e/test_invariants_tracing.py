"""Trace context across every hop: one W3C trace per process instance (DESIGN §5, §7).

Every job message carries a W3C ``traceparent`` header, and the job row stores the
trace context that created it (``Job.trace_context``), so that a job published later by
the dispatcher (after a retry delay) still joins its instance's trace. The instances
here take three hops, each published by another party: the first job by the engine
service's outbox relay (after ``POST .../start``), the second by a job-executor's relay,
and its retry by the engine's dispatcher.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from typing import Any

from bpmn_doc import definitions, element, flow, process, retry_time_cycle

from safepoint import Engine

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")
"""A W3C ``traceparent`` of version 00; group 1 is the trace id."""

TRACED = definitions(
    process(
        "traced",
        element("startEvent", "start"),
        flow("start", "prepare"),
        element(
            "serviceTask",
            "prepare",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${work}",
        ),
        flow("prepare", "deliver"),
        element(
            "serviceTask",
            "deliver",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${fails_once}",
            extensions=retry_time_cycle("R2/PT1S"),
        ),
        flow("deliver", "end"),
        element("endEvent", "end"),
    )
)
"""``prepare`` (relay of the engine), ``deliver`` (relay of an executor; it fails once, so
its retry is published by the dispatcher a second later)."""

HOPS = ("prepare", "deliver", "deliver")
"""The job messages of one instance, in order."""


def trace_id(traceparent: str) -> str:
    """The trace id of a valid ``traceparent`` (fails the test on an invalid one)."""
    match = TRACEPARENT.fullmatch(traceparent)
    assert match is not None, f"not a W3C traceparent: {traceparent!r}"
    assert match.group(1) != "0" * 32, "the all-zero trace id is invalid"
    assert match.group(2) != "0" * 16, "the all-zero parent id is invalid"
    return match.group(1)


def test_every_job_message_carries_its_instance_s_trace_and_the_job_rows_store_it(
    engine: Engine,
    job_tap: Any,
    start_engine: Any,
    start_executor: Any,
    http: Any,
    wait_until: Any,
) -> None:
    """Every job message has a valid ``traceparent``; one instance's jobs share one trace id.

    Instances started without a trace each get a trace of their own; an instance
    started with a client's ``traceparent`` continues the client's trace. The first
    job's row stores the ``traceparent`` its message carries.
    """
    engine.deploy("traced", {"traced.bpmn": TRACED})
    engine_service = start_engine()

    own = http.start_instances(engine_service.url, "traced", 3, business_key="OWN-")
    client_trace = secrets.token_hex(16)
    client_header = {"traceparent": f"00-{client_trace}-{secrets.token_hex(8)}-01"}
    (joined,) = http.start_instances(engine_service.url, "traced", 1, headers=client_header)
    ids = [*own, joined]

    # The rows store the trace context of the command that created them.
    stored = {}
    for pid in ids:
        (job,) = engine.jobs(pid)
        assert "traceparent" in job.trace_context, (pid, job.trace_context)
        stored[pid] = job.trace_context["traceparent"]
        trace_id(stored[pid])
    assert trace_id(stored[joined]) == client_trace, "the client's trace is continued"
    assert len({trace_id(stored[pid]) for pid in own}) == len(own), "a trace per instance"

    # Every job through the queue: a follow-up job would run without a message.
    start_executor({"SAFEPOINT_EXECUTOR_FOLLOW_UPS": "0"})
    wait_until(
        lambda: all(engine.process_instance(pid).ended for pid in ids),
        timeout=30,
        what="every instance ended",
    )

    def by_instance() -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        for delivery in job_tap.deliveries():
            grouped[delivery.body["processInstanceId"]].append(delivery)
        return grouped

    wait_until(
        lambda: all(len(by_instance()[pid]) >= len(HOPS) for pid in ids),
        timeout=10,
        what="every job message seen by the tap",
    )
    messages = by_instance()
    assert set(messages) == set(ids)
    for pid in ids:
        hops = messages[pid]
        assert [delivery.body["activityId"] for delivery in hops] == list(HOPS), pid
        for delivery in hops:
            assert "traceparent" in delivery.headers, (pid, delivery)
        traces = {trace_id(delivery.headers["traceparent"]) for delivery in hops}
        assert traces == {trace_id(stored[pid])}, (pid, [d.headers for d in hops])
        assert hops[0].headers["traceparent"] == stored[pid], "published as stored"
    assert {trace_id(messages[joined][0].headers["traceparent"])} == {client_trace}
