"""Camunda's attributes and extension elements, one rule at a time, on small documents."""

from __future__ import annotations

import pytest

from safepoint.errors import BpmnParseError
from safepoint.model import (
    ExecutionListener,
    Implementation,
    ImplementationKind,
    InputOutput,
    IoParameter,
    ListenerEvent,
    ListValue,
    MapValue,
    Process,
    ReceiveTask,
    ServiceTask,
    UserTask,
)
from safepoint.parser import parse_definitions

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' xmlns:tns="http://example.com/tns" id="d" targetNamespace="http://example.com/tns">\n'
)


def document(body: str, *, before: str = "") -> bytes:
    """A document with one executable process ``p`` holding a start event and ``body``."""
    return (
        f'{HEAD}{before}<bpmn:process id="p" isExecutable="true">\n'
        f'<bpmn:startEvent id="start"/>\n{body}\n</bpmn:process>\n</bpmn:definitions>\n'
    ).encode()


def parse(body: str, *, before: str = "") -> Process:
    return parse_definitions(document(body, before=before)).process("p")


def problems(body: str, *, before: str = "") -> list[tuple[str | None, str]]:
    with pytest.raises(BpmnParseError) as caught:
        parse_definitions(document(body, before=before))
    return [(problem.element_id, problem.message) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("attributes", "flags"),
    [
        ("", (False, False, True)),
        ('camunda:asyncBefore="TRUE"', (True, False, True)),
        ('camunda:async="true"', (True, False, True)),
        ('camunda:async="false" camunda:asyncBefore="true"', (True, False, True)),
        ('camunda:asyncAfter="True" camunda:exclusive="FALSE"', (False, True, False)),
        ('camunda:asyncBefore=" true " camunda:asyncAfter="true"', (True, True, True)),
    ],
)
def test_async_flags(attributes: str, flags: tuple[bool, bool, bool]) -> None:
    task = parse(f'<bpmn:task id="t" {attributes}/>').node("t")
    assert (task.async_before, task.async_after, task.exclusive) == flags


def test_a_retry_cycle_expression_is_kept_for_failure_time() -> None:
    task = parse(
        '<bpmn:task id="t" camunda:asyncBefore="true"><bpmn:extensionElements>'
        "<camunda:failedJobRetryTimeCycle> ${cycle} </camunda:failedJobRetryTimeCycle>"
        "</bpmn:extensionElements></bpmn:task>"
    ).node("t")
    assert task.retry_time_cycle == "${cycle}"


def test_an_empty_retry_cycle_means_none() -> None:
    task = parse(
        '<bpmn:task id="t"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle/>'
        "</bpmn:extensionElements></bpmn:task>"
    ).node("t")
    assert task.retry_time_cycle is None


@pytest.mark.parametrize("cycle", ["R5/PT5M", "PT10M,PT17M,PT20M", "R1/P1D"])
def test_valid_retry_cycles(cycle: str) -> None:
    task = parse(
        '<bpmn:task id="t"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle>'
        f"{cycle}</camunda:failedJobRetryTimeCycle></bpmn:extensionElements></bpmn:task>"
    ).node("t")
    assert task.retry_time_cycle == cycle


def test_two_retry_cycles_are_a_problem() -> None:
    assert problems(
        '<bpmn:task id="t"><bpmn:extensionElements>'
        "<camunda:failedJobRetryTimeCycle>R3/PT1M</camunda:failedJobRetryTimeCycle>"
        "<camunda:failedJobRetryTimeCycle>R4/PT1M</camunda:failedJobRetryTimeCycle>"
        "</bpmn:extensionElements></bpmn:task>"
    ) == [("t", "more than one failedJobRetryTimeCycle")]


@pytest.mark.parametrize("priority", ["0", "-20", "1000000", "${priority}"])
def test_job_priority_is_an_integer_or_an_expression(priority: str) -> None:
    assert parse(f'<bpmn:task id="t" camunda:jobPriority="{priority}"/>').node(
        "t"
    ).job_priority == (priority)


def test_a_listener_on_a_flow_is_a_take_listener_even_without_event() -> None:
    process = parse(
        '<bpmn:task id="t"/><bpmn:sequenceFlow id="f" sourceRef="start" targetRef="t">'
        '<bpmn:extensionElements><camunda:executionListener delegateExpression="${onTake}"/>'
        "</bpmn:extensionElements></bpmn:sequenceFlow>"
    )
    assert process.flow("f").listeners == (
        ExecutionListener(
            ListenerEvent.TAKE, Implementation(ImplementationKind.DELEGATE_EXPRESSION, "${onTake}")
        ),
    )


def test_listeners_keep_document_order() -> None:
    task = parse(
        '<bpmn:task id="t"><bpmn:extensionElements>'
        '<camunda:executionListener class="b" event="end"/>'
        '<camunda:executionListener class="a" event="start"/>'
        '<camunda:executionListener class="c" event="end"/>'
        "</bpmn:extensionElements></bpmn:task>"
    ).node("t")
    assert [listener.implementation.value for listener in task.listeners] == ["b", "a", "c"]
    assert [
        listener.implementation.value for listener in task.listeners_for(ListenerEvent.END)
    ] == [
        "b",
        "c",
    ]


def test_io_values_text_list_map_and_null() -> None:
    task = parse(
        '<bpmn:task id="t"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="text">  padded  </camunda:inputParameter>'
        '<camunda:inputParameter name="empty"></camunda:inputParameter>'
        '<camunda:inputParameter name="list"><camunda:list>'
        "<camunda:value>a</camunda:value><camunda:value/>"
        '<camunda:map><camunda:entry key="k">v</camunda:entry></camunda:map>'
        "</camunda:list></camunda:inputParameter>"
        '<camunda:outputParameter name="map"><camunda:map>'
        '<camunda:entry key="z">1</camunda:entry><camunda:entry key="a">'
        "<camunda:list><camunda:value>${x}</camunda:value></camunda:list></camunda:entry>"
        "</camunda:map></camunda:outputParameter>"
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:task>"
    ).node("t")
    assert task.input_output == InputOutput(
        inputs=(
            IoParameter("text", "padded"),
            IoParameter("empty", None),
            IoParameter("list", ListValue(("a", None, MapValue((("k", "v"),))))),
        ),
        outputs=(IoParameter("map", MapValue((("z", "1"), ("a", ListValue(("${x}",)))))),),
    )


def test_a_map_entry_needs_a_key() -> None:
    assert problems(
        '<bpmn:task id="t"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="m"><camunda:map><camunda:entry>1</camunda:entry>'
        "</camunda:map></camunda:inputParameter></camunda:inputOutput>"
        "</bpmn:extensionElements></bpmn:task>"
    ) == [("t", "camunda:entry has no key")]


def test_result_variable_and_its_legacy_spelling() -> None:
    process = parse(
        '<bpmn:serviceTask id="a" camunda:expression="${x}" camunda:resultVariable="r"/>'
        '<bpmn:serviceTask id="b" camunda:expression="${x}" camunda:resultVariableName="s"/>'
    )
    a, b = process.node("a"), process.node("b")
    assert isinstance(a, ServiceTask) and a.result_variable == "r"
    assert isinstance(b, ServiceTask) and b.result_variable == "s"


def test_external_task_type_is_case_insensitive_and_topic_may_be_an_expression() -> None:
    task = parse(
        '<bpmn:serviceTask id="t" camunda:type="External" camunda:topic="${tenant}-pay"/>'
    ).node("t")
    assert isinstance(task, ServiceTask)
    assert task.topic == "${tenant}-pay"
    assert task.implementation is None


def test_candidate_groups_split_at_commas_outside_expressions() -> None:
    task = parse(
        '<bpmn:userTask id="u" camunda:assignee=" " '
        'camunda:candidateGroups=" a,, ${org.groups(b, c)} ,#{d} , "/>'
    ).node("u")
    assert isinstance(task, UserTask)
    assert task.assignee is None
    assert task.candidate_groups == ("a", "${org.groups(b, c)}", "#{d}")


def test_a_message_ref_may_use_a_prefix_bound_to_the_target_namespace() -> None:
    process = parse(
        '<bpmn:receiveTask id="r" messageRef="tns:m"/>',
        before='<bpmn:message id="m" name="Paid"/>',
    )
    receive = process.node("r")
    assert isinstance(receive, ReceiveTask)
    assert receive.message_name == "Paid"


def test_a_message_ref_into_another_namespace_finds_nothing() -> None:
    assert problems(
        '<bpmn:receiveTask id="r" xmlns:x="http://other" messageRef="x:m"/>',
        before='<bpmn:message id="m" name="Paid"/>',
    ) == [("r", "messageRef 'x:m' refers to no bpmn:message")]


@pytest.mark.parametrize(
    "condition",
    [
        '<bpmn:conditionExpression xsi:type="tFormalExpression">${ok}</bpmn:conditionExpression>',
        '<bpmn:conditionExpression language="JUEL">${ok}</bpmn:conditionExpression>',
        "<bpmn:conditionExpression>  ${ok}\n</bpmn:conditionExpression>",
    ],
    ids=["unprefixed type", "juel", "no type"],
)
def test_accepted_condition_forms(condition: str) -> None:
    process = parse(
        f'<bpmn:task id="t"/><bpmn:sequenceFlow id="f" sourceRef="start" targetRef="t">'
        f"{condition}</bpmn:sequenceFlow>"
    )
    assert process.flow("f").condition == "${ok}"


def test_nodes_without_incoming_or_outgoing_flows_are_allowed() -> None:
    process = parse('<bpmn:task id="orphan"/><bpmn:serviceTask id="s" camunda:class="x"/>')
    assert process.node("orphan").incoming == () and process.node("orphan").outgoing == ()


def test_an_exclusive_gateway_may_have_one_flow_without_condition() -> None:
    process = parse(
        '<bpmn:exclusiveGateway id="g"/><bpmn:task id="a"/><bpmn:task id="b"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="g"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="a">'
        "<bpmn:conditionExpression>${x}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="b"/>'
    )
    assert process.node("g").outgoing == ("f1", "f2")


def test_a_default_flow_on_a_task_is_refused() -> None:
    assert problems(
        '<bpmn:task id="t" default="f"/><bpmn:task id="u"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="t" targetRef="u"/>'
    ) == [("t", "a default flow on a bpmn:task is not supported")]


def test_diagram_documentation_and_other_vendors_extensions_are_ignored() -> None:
    process = parse(
        '<bpmn:task id="t"><bpmn:documentation>doc</bpmn:documentation>'
        "<bpmn:extensionElements>"
        '<camunda:properties><camunda:property name="a" value="b"/></camunda:properties>'
        '<other:thing xmlns:other="http://example.com/vendor"><other:deep/></other:thing>'
        "</bpmn:extensionElements></bpmn:task>"
        '<bpmn:laneSet id="ls"><bpmn:lane id="l"/></bpmn:laneSet>'
        '<bpmn:textAnnotation id="ta"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>'
        '<bpmn:association id="as" sourceRef="t" targetRef="ta"/>'
        '<bpmn:group id="gr"/>'
        '<bpmn:dataStoreReference id="ds"/>',
        before='<bpmn:signal id="sig" name="unused"/><bpmn:itemDefinition id="item"/>',
    )
    assert list(process.flow_nodes) == ["start", "t"]


def test_non_executable_processes_are_not_checked() -> None:
    xml = document("", before='<bpmn:process id="q"><bpmn:boundaryEvent id="b"/></bpmn:process>')
    assert [process.id for process in parse_definitions(xml).processes] == ["p"]


def test_an_unknown_bpmn_element_at_the_top_is_refused() -> None:
    assert problems("", before='<bpmn:import importType="x" location="y" namespace="z"/>') == [
        (None, "unsupported element bpmn:import")
    ]


def test_a_loop_marker_on_a_sub_process_is_reported_on_the_sub_process() -> None:
    assert problems(
        '<bpmn:subProcess id="s"><bpmn:multiInstanceLoopCharacteristics/>'
        '<bpmn:startEvent id="inner"/></bpmn:subProcess>'
    ) == [("s", "unsupported element bpmn:multiInstanceLoopCharacteristics")]


def _process_with(attributes: str) -> bytes:
    return (
        f'{HEAD}<bpmn:process id="p" isExecutable="true" {attributes}>\n'
        '<bpmn:startEvent id="start"/>\n</bpmn:process>\n</bpmn:definitions>\n'
    ).encode()


def test_the_history_time_to_live_is_kept_as_written_whatever_it_is() -> None:
    """Checked at deployment only: a definition stored before the check still loads."""
    process = parse_definitions(_process_with('camunda:historyTimeToLive="P1Y"')).process("p")
    assert process.history_time_to_live == "P1Y"


def test_the_version_tag_is_kept() -> None:
    process = parse_definitions(_process_with('camunda:versionTag="2.1-rc"')).process("p")
    assert process.version_tag == "2.1-rc"
