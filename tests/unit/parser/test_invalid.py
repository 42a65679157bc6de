"""Invalid documents are refused with every problem, each at its element's line, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from safepoint.errors import BpmnParseError, Problem
from safepoint.parser import parse_definitions

INVALID = Path(__file__).parents[2] / "fixtures" / "bpmn" / "invalid"


def problems_of(name: str) -> list[Problem]:
    with pytest.raises(BpmnParseError) as caught:
        parse_definitions((INVALID / name).read_bytes(), resource_name=name)
    problems = caught.value.problems
    assert all(problem.resource_name == name for problem in problems)
    assert all(problem.message for problem in problems)
    return problems


def places(name: str) -> list[tuple[int | None, str | None]]:
    """(line, element id) of every problem, in the order reported."""
    return [(problem.line, problem.element_id) for problem in problems_of(name)]


def test_a_file_with_many_problems_reports_every_one_with_its_line_and_nothing_else() -> None:
    assert sorted(places("many_problems.bpmn"), key=str) == sorted(
        [
            (4, "broken"),  # camunda:jobPriority="high"
            (5, "Start_1"),  # camunda:asyncBefore="yes"
            (5, "Start_1"),  # a start event with an incoming flow (Flow_FromEnd)
            (6, "Start_2"),  # a second none start event
            (8, "Task_NoImpl"),  # a service task without implementation
            (10, "Task_TwoImpl"),  # class and expression
            (12, "Task_BadExpr"),  # delegateExpression syntax
            (15, "Task_AsyncAfter"),  # the flow without id after asyncAfter
            (18, "Task_Retry"),  # failedJobRetryTimeCycle R3/PT10X
            (20, "Task_Retry"),  # a script listener
            (24, "Task_Retry"),  # a script input parameter
            (27, "Task_Retry"),  # a connector
            (33, "Gateway_1"),  # default="Flow_NotMine"
            (35, "Flow_BadCondition"),  # condition syntax
            (38, "Flow_Script"),  # a javascript condition
            (40, "UserTask_Multi"),  # candidateGroups syntax
            (41, "UserTask_Multi"),  # multiInstanceLoopCharacteristics
            (43, "End_Early"),  # an end event with an outgoing flow
            (45, "Boundary_1"),  # boundaryEvent (its flow is not reported again)
            (49, "Call_1"),  # callActivity
            (50, "Flow_Dangling"),  # targetRef="Nowhere"
            (52, "Catch_1"),  # messageRef to an undeclared message
            (54, "Receive_1"),  # a receive task without messageRef
            (56, "Task_Dup"),  # a duplicate id
            (57, None),  # a task without id
            (58, "Sub_1"),  # a sub-process without start event
            (61, "Flow_Crossing"),  # a flow out of a sub-process
            (62, "EventSub_1"),  # an event sub-process
            (68, "Flow_DefaultWithCondition"),  # a default flow with a condition
            (75, "no_start"),  # a second executable process without start event
        ],
        key=str,
    )


def test_problems_come_in_document_order() -> None:
    lines = [line or 0 for line, _ in places("many_problems.bpmn")]
    assert lines == sorted(lines)


def test_async_after_with_an_unnamed_flow_has_camundas_message() -> None:
    [problem] = problems_of("async_after_flow_without_id.bpmn")
    assert problem.message == (
        "Sequence flow with sourceRef='Task_Generate' must have an id, "
        "activity with id 'Task_Generate' uses 'asyncAfter'."
    )
    assert (problem.line, problem.element_id) == (7, "Task_Generate")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("no_start_event.bpmn", [(3, "Process_1")]),
        ("two_start_events.bpmn", [(5, "Start_2"), (8, "SubStart_2")]),
        ("sub_process_without_start_event.bpmn", [(6, "Sub_1")]),
        ("dangling_reference.bpmn", [(5, "Flow_1"), (6, "Flow_2"), (7, "Flow_3")]),
        ("flow_crosses_scope.bpmn", [(5, "Flow_In"), (9, "Flow_Out")]),
        ("duplicate_ids.bpmn", [(7, "Task_1"), (8, "Shared")]),
        ("flow_node_without_id.bpmn", [(5, None), (6, None)]),
        ("malformed_retry_cycle.bpmn", [(7, "Task_BadCycle"), (12, "Task_BadCycleExpression")]),
        (
            "bad_expression_syntax.bpmn",
            [
                (3, "Process_1"),  # jobPriority
                (6, "Task_Delegate"),  # delegateExpression
                (8, "Task_Expression"),  # jobPriority
                (8, "Task_Expression"),  # expression
                (10, "Task_Expression"),  # listener expression
                (12, "Task_Expression"),  # input parameter template
                (15, "Task_Expression"),  # map entry in an output parameter
                (22, "Flow_3"),  # condition
            ],
        ),
        ("default_flow_with_condition.bpmn", [(7, "Flow_Default")]),
        ("default_flow_not_outgoing.bpmn", [(6, "Gateway_1")]),
        ("end_event_with_outgoing_flow.bpmn", [(6, "End_1")]),
        ("start_event_with_incoming_flow.bpmn", [(4, "Start_1")]),
        (
            "exclusive_gateway_flows.bpmn",
            [
                (6, "Gateway_DeadEnd"),
                (8, "Flow_OnlyOne"),
                (12, "Flow_Plain_1"),
                (13, "Flow_Plain_2"),
                (16, "Flow_Unconditioned"),
            ],
        ),
        (
            "message_references.bpmn",
            [
                (8, "Catch_Undeclared"),
                (11, "Catch_NoRef"),
                (14, "Catch_Nameless"),
                (16, "Receive_Undeclared"),
                (17, "Receive_NoRef"),
            ],
        ),
        (
            "service_task_implementation.bpmn",
            [
                (5, "Task_None"),
                (6, "Task_Two"),
                (7, "Task_Mail"),
                (8, "Task_NoTopic"),
                (9, "Task_ExternalAndClass"),
                (10, "Task_ResultWithClass"),
                (11, "Task_EmptyClass"),
            ],
        ),
        (
            "unsupported_elements.bpmn",
            [
                (7, "Start_Timer"),
                (10, "End_Message"),
                (13, "Catch_Timer"),
                (16, "Boundary_1"),
                (19, "Throw_1"),
                (20, "EventGateway_1"),
                (21, "ComplexGateway_1"),
                (22, "Call_1"),
                (23, "Script_1"),
                (26, "Rule_1"),
                (27, "Transaction_1"),
                (28, "AdHoc_1"),
                (30, "Task_Loop"),
                (33, "Task_Performer"),
                (35, "Task_Compensation"),
                (36, "EventSub_1"),
            ],
        ),
        (
            "unsupported_camunda_extensions.bpmn",
            [
                (5, "Process_1"),  # camunda:inputOutput on a process
                (10, "Task_Fields"),  # field injection
                (12, "Task_Fields"),  # field injection into a listener
                (17, "Task_Fields"),  # a script inside a list
                (26, "Task_Listeners"),  # a task listener
                (31, "Task_Connector"),  # a connector
            ],
        ),
        (
            "bad_boolean.bpmn",
            [(5, "Task_Yes"), (6, "Task_One"), (7, "Task_On"), (8, "Task_Legacy")],
        ),
        (
            "script_condition.bpmn",
            [
                (6, "Flow_Javascript"),
                (9, "Flow_Resource"),
                (12, "Flow_Literal"),
                (15, "Flow_Empty"),
                (18, "Flow_Type"),
            ],
        ),
        (
            "listener_events.bpmn",
            [(5, "Process_1"), (9, "Start_1"), (10, "Start_1"), (11, "Start_1"), (16, "Flow_1")],
        ),
        (
            "input_output_not_allowed.bpmn",
            [
                (4, "Start_1"),
                (11, "Gateway_1"),
                (18, "End_1"),
                (29, "Task_NamelessParameter"),
                (30, "Task_NamelessParameter"),
            ],
        ),
        ("job_priority.bpmn", [(3, "Process_1"), (4, "Start_1")]),
        ("no_executable_process.bpmn", [(2, "Definitions_1")]),
        ("wrong_root.bpmn", [(2, None)]),
    ],
)
def test_each_rule_reports_exactly_its_problems(
    name: str, expected: list[tuple[int | None, str | None]]
) -> None:
    assert places(name) == expected


def test_every_invalid_fixture_is_covered() -> None:
    source = Path(__file__).read_text()
    for path in INVALID.glob("*.bpmn"):
        assert f'"{path.name}"' in source, path.name


def test_the_wording_names_the_unsupported_element() -> None:
    messages = [problem.message for problem in problems_of("unsupported_elements.bpmn")]
    assert "unsupported element bpmn:boundaryEvent" in messages
    assert "unsupported element bpmn:timerEventDefinition" in messages
