"""The BPMN models of the benchmark, generated (one definition per size)."""

from __future__ import annotations

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
)


def _document(process_id: str, elements: list[str]) -> bytes:
    body = "\n    ".join(elements)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="defs_{process_id}" '
        f'targetNamespace="http://safepoint.bench">\n  <bpmn:process id="{process_id}" '
        f'isExecutable="true">\n    {body}\n  </bpmn:process>\n</bpmn:definitions>\n'
    ).encode()


def _flow(source: str, target: str) -> str:
    return (
        f'<bpmn:sequenceFlow id="f_{source}_{target}" sourceRef="{source}" targetRef="{target}"/>'
    )


def _service_task(task_id: str) -> str:
    return (
        f'<bpmn:serviceTask id="{task_id}" camunda:asyncBefore="true" '
        'camunda:delegateExpression="${noop}"/>'
    )


def async_chain(process_id: str, tasks: int) -> bytes:
    """start → ``tasks`` asyncBefore service tasks (no-op delegate) → end."""
    ids = ["start", *(f"t{n}" for n in range(1, tasks + 1)), "end"]
    elements = ['<bpmn:startEvent id="start"/>']
    elements += [_service_task(task_id) for task_id in ids[1:-1]]
    elements.append('<bpmn:endEvent id="end"/>')
    elements += [_flow(a, b) for a, b in zip(ids, ids[1:], strict=False)]
    return _document(process_id, elements)


def async_fork(process_id: str, branches: int) -> bytes:
    """start → fork → ``branches`` asyncBefore service tasks → join → end."""
    elements = [
        '<bpmn:startEvent id="start"/>',
        '<bpmn:parallelGateway id="fork"/>',
        '<bpmn:parallelGateway id="join"/>',
        '<bpmn:endEvent id="end"/>',
        _flow("start", "fork"),
        _flow("join", "end"),
    ]
    for n in range(1, branches + 1):
        elements += [_service_task(f"b{n}"), _flow("fork", f"b{n}"), _flow(f"b{n}", "join")]
    return _document(process_id, elements)


def linear(process_id: str, tasks: int) -> bytes:
    """start → ``tasks`` plain tasks (no behaviour, no safe point) → end."""
    ids = ["start", *(f"t{n}" for n in range(1, tasks + 1)), "end"]
    elements = ['<bpmn:startEvent id="start"/>']
    elements += [f'<bpmn:task id="{task_id}"/>' for task_id in ids[1:-1]]
    elements.append('<bpmn:endEvent id="end"/>')
    elements += [_flow(a, b) for a, b in zip(ids, ids[1:], strict=False)]
    return _document(process_id, elements)


def parallel(process_id: str, branches: int) -> bytes:
    """start → fork → ``branches`` plain tasks → join → end (synchronous)."""
    elements = [
        '<bpmn:startEvent id="start"/>',
        '<bpmn:parallelGateway id="fork"/>',
        '<bpmn:parallelGateway id="join"/>',
        '<bpmn:endEvent id="end"/>',
        _flow("start", "fork"),
        _flow("join", "end"),
    ]
    for n in range(1, branches + 1):
        elements += [f'<bpmn:task id="b{n}"/>', _flow("fork", f"b{n}"), _flow(f"b{n}", "join")]
    return _document(process_id, elements)


def waiting(process_id: str) -> bytes:
    """start → a user task (the instance waits there for ever) → end."""
    elements = [
        '<bpmn:startEvent id="start"/>',
        '<bpmn:userTask id="wait"/>',
        '<bpmn:endEvent id="end"/>',
        _flow("start", "wait"),
        _flow("wait", "end"),
    ]
    return _document(process_id, elements)


def flow_nodes_linear(tasks: int) -> int:
    """Flow nodes one instance of :func:`linear` passes: start, the tasks, end."""
    return tasks + 2


def flow_nodes_parallel(branches: int) -> int:
    """Flow nodes of :func:`parallel`: start, fork, the branches, join (once), end."""
    return branches + 4
