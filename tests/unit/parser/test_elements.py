"""Every supported element type of a Camunda Modeler file lands in the model field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from safepoint.model import (
    Definitions,
    EndEvent,
    ExclusiveGateway,
    ExecutionListener,
    Implementation,
    ImplementationKind,
    InclusiveGateway,
    InputOutput,
    IntermediateCatchEvent,
    IoParameter,
    ListenerEvent,
    ListValue,
    ManualTask,
    MapValue,
    Message,
    ParallelGateway,
    Process,
    ReceiveTask,
    SendTask,
    ServiceTask,
    StartEvent,
    SubProcess,
    Task,
    UserTask,
)
from safepoint.parser import ELEMENT_PARSERS, parse_definitions

FIXTURE = Path(__file__).parents[2] / "fixtures" / "bpmn" / "order_fulfilment.bpmn"


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return parse_definitions(FIXTURE.read_bytes(), resource_name="order_fulfilment.bpmn")


@pytest.fixture(scope="module")
def process(definitions: Definitions) -> Process:
    return definitions.process("order")


def test_only_the_executable_process_is_deployed(definitions: Definitions) -> None:
    assert [process.id for process in definitions.processes] == ["order"]
    assert definitions.target_namespace == "http://example.com/order"
    assert definitions.messages == {
        "Message_Payment": Message("Message_Payment", "PaymentReceived"),
        "Message_Shipment": Message("Message_Shipment", "ShipmentConfirmed"),
    }


def test_process_attributes_and_listeners(process: Process) -> None:
    assert process.name == "Order fulfilment"
    assert process.job_priority == "10"
    assert process.history_time_to_live == "P30D"
    assert process.version_tag == "1.2"
    assert process.listeners == (
        ExecutionListener(
            ListenerEvent.START, Implementation(ImplementationKind.CLASS, "auditStart")
        ),
        ExecutionListener(
            ListenerEvent.END,
            Implementation(ImplementationKind.EXPRESSION, "${audit.end(execution)}"),
        ),
    )
    assert process.line == 11


def test_every_supported_type_is_in_the_fixture(process: Process) -> None:
    types = {node.element_type for node in process.flow_nodes.values()}
    supported = {tag.split("}")[1] for tag in ELEMENT_PARSERS}
    assert types == supported


def test_top_level_and_nested_scopes(process: Process) -> None:
    assert process.flow_node_ids == (
        "StartEvent_Order",
        "Task_Validate",
        "Gateway_Valid",
        "EndEvent_Rejected",
        "Gateway_Fork",
        "ReceiveTask_Payment",
        "SubProcess_Shipping",
        "Gateway_Join",
        "Gateway_Options",
        "UserTask_Wrap",
        "ManualTask_Check",
        "Task_Nothing",
        "Gateway_OptionsJoin",
        "EndEvent_Done",
    )
    assert process.start_event_ids == ("StartEvent_Order",)
    shipping = process.node("SubProcess_Shipping")
    assert isinstance(shipping, SubProcess)
    assert shipping.scope_id == "order"
    assert shipping.async_after
    assert shipping.flow_node_ids == (
        "StartEvent_Shipping",
        "ExternalTask_Pack",
        "SubProcess_Carrier",
        "EndEvent_Shipping",
    )
    assert shipping.start_event_ids == ("StartEvent_Shipping",)
    carrier = process.node("SubProcess_Carrier")
    assert isinstance(carrier, SubProcess)
    assert carrier.scope_id == "SubProcess_Shipping"
    assert carrier.start_event_ids == ("StartEvent_Carrier",)
    for node_id in carrier.flow_node_ids:
        assert process.node(node_id).scope_id == "SubProcess_Carrier"
    assert process.scope_chain("CatchEvent_Shipment") == (
        "SubProcess_Carrier",
        "SubProcess_Shipping",
        "order",
    )
    assert process.initial_start_event("SubProcess_Carrier").id == "StartEvent_Carrier"
    assert process.flow("Flow_ToConfirmation").source_ref == "SendTask_BookCarrier"


def test_start_event(process: Process) -> None:
    start = process.node("StartEvent_Order")
    assert isinstance(start, StartEvent)
    assert start.name == "Order placed"
    assert start.async_before
    assert start.incoming == ()
    assert start.outgoing == ("Flow_ToValidate",)
    assert start.line == 28


def test_service_task_with_expression_listeners_io_and_legacy_async(process: Process) -> None:
    task = process.node("Task_Validate")
    assert isinstance(task, ServiceTask)
    assert task.implementation == Implementation(
        ImplementationKind.EXPRESSION, "${orderService.validate(execution)}"
    )
    assert task.result_variable == "valid"
    assert task.topic is None
    assert (task.async_before, task.async_after, task.exclusive) == (True, False, False)
    assert task.job_priority == "${priority}"
    assert task.retry_time_cycle == "PT1M,PT5M"  # from the legacy fox: namespace
    assert task.listeners_for(ListenerEvent.START) == (
        ExecutionListener(
            ListenerEvent.START,
            Implementation(ImplementationKind.DELEGATE_EXPRESSION, "${validationStarted}"),
        ),
    )
    assert task.listeners_for(ListenerEvent.END) == (
        ExecutionListener(
            ListenerEvent.END, Implementation(ImplementationKind.CLASS, "validationEnded")
        ),
    )
    assert task.input_output == InputOutput(
        inputs=(
            IoParameter("customer", "${order.customer}"),
            IoParameter("greeting", "Hello ${order.customer}!"),
            IoParameter(
                "channels", ListValue(("mail", "${preferredChannel}", ListValue(("nested",))))
            ),
            IoParameter(
                "limits",
                MapValue(
                    (
                        ("max", "${limit}"),
                        ("min", "1"),
                        ("tiers", ListValue(("gold",))),
                        ("none", None),
                    )
                ),
            ),
            IoParameter("nothing", None),
        ),
        outputs=(IoParameter("orderValid", "${valid}"),),
    )


def test_exclusive_gateway_with_default_flow(process: Process) -> None:
    gateway = process.node("Gateway_Valid")
    assert isinstance(gateway, ExclusiveGateway)
    assert gateway.default_flow == "Flow_Invalid"
    assert gateway.outgoing == ("Flow_Valid", "Flow_Invalid")
    assert process.flow("Flow_Valid").condition == "${valid && amount > 0}"
    assert process.flow("Flow_Valid").name == "yes"
    assert process.flow("Flow_Invalid").condition is None


def test_terminate_and_none_end_events(process: Process) -> None:
    rejected = process.node("EndEvent_Rejected")
    done = process.node("EndEvent_Done")
    assert isinstance(rejected, EndEvent) and rejected.terminate
    assert isinstance(done, EndEvent) and not done.terminate


def test_parallel_gateway_ignores_conditions_and_flows_keep_take_listeners(
    process: Process,
) -> None:
    fork = process.node("Gateway_Fork")
    assert isinstance(fork, ParallelGateway)
    assert fork.outgoing == ("Flow_ToPayment", "Flow_ToShipping")
    to_payment = process.flow("Flow_ToPayment")
    assert to_payment.condition is None
    assert to_payment.listeners == (
        ExecutionListener(
            ListenerEvent.TAKE,
            Implementation(ImplementationKind.EXPRESSION, "${audit.took(execution)}"),
        ),
    )
    join = process.node("Gateway_Join")
    assert isinstance(join, ParallelGateway)
    assert join.incoming == ("Flow_PaymentToJoin", "Flow_ShippingToJoin")


def test_message_waits(process: Process) -> None:
    receive = process.node("ReceiveTask_Payment")
    assert isinstance(receive, ReceiveTask)
    assert receive.message_name == "PaymentReceived"
    catch = process.node("CatchEvent_Shipment")
    assert isinstance(catch, IntermediateCatchEvent)
    assert catch.message_name == "ShipmentConfirmed"


def test_external_task_and_send_task(process: Process) -> None:
    pack = process.node("ExternalTask_Pack")
    assert isinstance(pack, ServiceTask)
    assert pack.topic == "pack"
    assert pack.is_external
    assert pack.implementation is None
    book = process.node("SendTask_BookCarrier")
    assert isinstance(book, SendTask)
    assert book.implementation == Implementation(ImplementationKind.CLASS, "bookCarrier")
    assert not book.is_external


def test_inclusive_gateway_user_manual_and_plain_tasks(process: Process) -> None:
    options = process.node("Gateway_Options")
    assert isinstance(options, InclusiveGateway)
    assert options.default_flow == "Flow_NoExtras"
    assert process.flow("Flow_GiftWrap").condition == "${giftWrap}"
    assert process.flow("Flow_ManualCheck").condition == "#{manualCheck}"
    wrap = process.node("UserTask_Wrap")
    assert isinstance(wrap, UserTask)
    assert wrap.assignee == "${packer}"
    assert wrap.candidate_groups == (
        "warehouse",
        "${region.lookup(customer, 'staff')}",
        "gift-team",
    )
    assert isinstance(process.node("ManualTask_Check"), ManualTask)
    assert isinstance(process.node("Task_Nothing"), Task)


def test_a_flow_without_id_gets_a_stable_generated_id(process: Process) -> None:
    nothing = process.node("Task_Nothing")
    assert nothing.outgoing == ("Task_Nothing->Gateway_OptionsJoin#1",)
    flow = process.flow("Task_Nothing->Gateway_OptionsJoin#1")
    assert (flow.source_ref, flow.target_ref, flow.line) == (
        "Task_Nothing",
        "Gateway_OptionsJoin",
        183,
    )
    join = process.node("Gateway_OptionsJoin")
    assert join.incoming == (
        "Flow_WrapToJoin",
        "Flow_CheckToJoin",
        "Task_Nothing->Gateway_OptionsJoin#1",
    )


def test_incoming_and_outgoing_come_from_the_flows(process: Process) -> None:
    for flow in process.sequence_flows.values():
        assert flow.id in process.node(flow.source_ref).outgoing
        assert flow.id in process.node(flow.target_ref).incoming
    for node in process.flow_nodes.values():
        assert all(process.flow(flow_id).target_ref == node.id for flow_id in node.incoming)
        assert all(process.flow(flow_id).source_ref == node.id for flow_id in node.outgoing)


def test_parsing_twice_gives_equal_models() -> None:
    xml = FIXTURE.read_bytes()
    assert parse_definitions(xml) == parse_definitions(xml)
