"""Test helpers: BPMN documents written compactly, recording delegates and listeners."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def definitions(*processes: str, messages: Iterable[str] = ()) -> bytes:
    """A BPMN document holding ``processes`` and ``bpmn:message`` elements named ``messages``."""
    declared = "".join(f'<bpmn:message id="msg_{name}" name="{name}"/>' for name in messages)
    body = "\n".join(processes)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES} '
        f'id="defs" targetNamespace="http://safepoint.test">\n{declared}\n{body}\n'
        "</bpmn:definitions>\n"
    ).encode()


def process(process_id: str, *elements: str, listeners: str = "", attrs: str = "") -> str:
    """A ``bpmn:process`` with ``elements`` (``listeners`` go into its extension elements)."""
    extension = f"<bpmn:extensionElements>{listeners}</bpmn:extensionElements>" if listeners else ""
    inner = "\n  ".join(elements)
    return (
        f'<bpmn:process id="{process_id}" isExecutable="true" {attrs}>{extension}\n  {inner}\n'
        "</bpmn:process>"
    )


def flow(
    source: str,
    target: str,
    flow_id: str | None = None,
    condition: str | None = None,
    listeners: str = "",
) -> str:
    """A sequence flow; the id defaults to ``source_target``."""
    flow_id = flow_id or f"{source}_{target}"
    inner = ""
    if listeners:
        inner += f"<bpmn:extensionElements>{listeners}</bpmn:extensionElements>"
    if condition is not None:
        inner += (
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
            f"<![CDATA[{condition}]]></bpmn:conditionExpression>"
        )
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f"{inner}</bpmn:sequenceFlow>"
    )


def listener(event: str, delegate: str = "record") -> str:
    """A ``camunda:executionListener`` running the registered delegate ``delegate``."""
    return f'<camunda:executionListener event="{event}" delegateExpression="${{{delegate}}}"/>'


def element(
    tag: str, element_id: str, *, extensions: str = "", body: str = "", **attrs: str
) -> str:
    """Any flow node: ``element("serviceTask", "s", **{"camunda:asyncBefore": "true"})``."""
    rendered = " ".join(f'{name.replace("__", ":")}="{value}"' for name, value in attrs.items())
    extension = (
        f"<bpmn:extensionElements>{extensions}</bpmn:extensionElements>" if extensions else ""
    )
    return f'<bpmn:{tag} id="{element_id}" {rendered}>{extension}{body}</bpmn:{tag}>'


@dataclass
class Recorder:
    """A delegate and listener that records each call and marks it in variables.

    As a listener it sets ``listener_<event>_<activity>`` = True; as a task delegate it
    sets ``invoked_<activity>`` = True. ``events`` keeps ``(event or 'execute', activity)``.
    """

    events: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, execution: Any) -> None:
        event = execution.event_name or "execute"
        self.events.append((event, execution.activity_id))
        if execution.event_name:
            execution.set_variable(f"listener_{event}_{execution.activity_id}", True)
        else:
            execution.set_variable(f"invoked_{execution.activity_id}", True)


class Failing:
    """A delegate that raises while the variable ``fail`` is true (or always, by default)."""

    def __init__(self, message: str = "expected failure") -> None:
        self.message = message
        self.calls = 0

    def __call__(self, execution: Any) -> None:
        self.calls += 1
        if execution.get_variable("fail", True):
            raise RuntimeError(self.message)


# --- helpers added for the async-continuation scenarios (appended; nothing above changed) ---


def set_variable_listener(event: str, name: str, value: str = "true") -> str:
    """A listener whose expression sets variable ``name`` to ``value`` (an EL literal).

    ``set_variable_listener("end", "listener", "'listener invoked'")`` sets a string.
    """
    return (
        f'<camunda:executionListener event="{event}" '
        f"expression=\"${{execution.setVariable('{name}', {value})}}\"/>"
    )


def input_output(
    inputs: Iterable[tuple[str, str]] = (), outputs: Iterable[tuple[str, str]] = ()
) -> str:
    """A ``camunda:inputOutput`` with ``(name, expression)`` input and output parameters."""
    parameters = "".join(
        f'<camunda:inputParameter name="{name}">{value}</camunda:inputParameter>'
        for name, value in inputs
    ) + "".join(
        f'<camunda:outputParameter name="{name}">{value}</camunda:outputParameter>'
        for name, value in outputs
    )
    return f"<camunda:inputOutput>{parameters}</camunda:inputOutput>"


def retry_time_cycle(cycle: str) -> str:
    """A ``camunda:failedJobRetryTimeCycle`` extension element."""
    return f"<camunda:failedJobRetryTimeCycle>{cycle}</camunda:failedJobRetryTimeCycle>"


def message_definition(name: str) -> str:
    """A ``messageEventDefinition`` referring to the message declared by ``definitions``."""
    return f'<bpmn:messageEventDefinition messageRef="msg_{name}"/>'


TERMINATE = "<bpmn:terminateEventDefinition/>"
"""The body of a terminate end event: ``element("endEvent", "t", body=TERMINATE)``."""


def sub_process(sub_process_id: str, *elements: str, extensions: str = "", **attrs: str) -> str:
    """An embedded ``bpmn:subProcess`` holding ``elements`` (attrs as for ``element``)."""
    return element(
        "subProcess", sub_process_id, extensions=extensions, body="\n".join(elements), **attrs
    )


def class_listener(event: str, class_name: str) -> str:
    """A ``camunda:executionListener`` naming ``class_name`` (e.g. one never registered)."""
    return f'<camunda:executionListener event="{event}" class="{class_name}"/>'


def chain(*element_ids: str) -> list[str]:
    """Sequence flows joining ``element_ids`` one after the other (ids ``a_b``)."""
    pairs = zip(element_ids, element_ids[1:], strict=False)
    return [flow(source, target) for source, target in pairs]


def deploy(engine: Any, *elements: str, messages: tuple[str, ...] = (), **kwargs: str) -> None:
    """Deploy one process ``p`` made of ``elements`` (and declared ``messages``)."""
    engine.deploy(
        "test", {"test.bpmn": definitions(process("p", *elements, **kwargs), messages=messages)}
    )


def only_job(engine: Any, process_instance_id: str) -> Any:
    """The one job of an instance (fails when there is not exactly one)."""
    jobs = engine.jobs(process_instance_id)
    assert len(jobs) == 1, jobs
    return jobs[0]
