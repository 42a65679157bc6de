"""The invoice example (Camunda's asyncAfter announcement) parses into the model it shows."""

from __future__ import annotations

from pathlib import Path

from safepoint.model import (
    EndEvent,
    ExclusiveGateway,
    Implementation,
    ImplementationKind,
    ServiceTask,
    StartEvent,
    UserTask,
)
from safepoint.parser import parse_definitions

ROOT = Path(__file__).parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "bpmn" / "invoice.bpmn"
SHIPPED = ROOT / "shared" / "safepoint" / "examples" / "invoice.bpmn"


def test_the_shipped_example_is_the_fixture() -> None:
    assert SHIPPED.read_bytes() == FIXTURE.read_bytes()


def test_invoice_parses_with_its_async_markers_and_delegates() -> None:
    definitions = parse_definitions(SHIPPED.read_bytes(), resource_name="invoice.bpmn")

    assert [process.id for process in definitions.processes] == ["invoice"]
    assert definitions.target_namespace == "http://bpmn.io/schema/bpmn"
    process = definitions.process("invoice")
    assert process.name == "Invoice"
    assert process.history_time_to_live == "180"
    assert process.start_event_ids == ("StartEvent_InvoiceReceived",)
    assert isinstance(process.initial_start_event(process.id), StartEvent)

    generate = process.node("Task_GenerateInvoice")
    assert isinstance(generate, ServiceTask)
    assert (generate.async_before, generate.async_after, generate.exclusive) == (False, True, True)
    assert generate.implementation == Implementation(
        ImplementationKind.DELEGATE_EXPRESSION, "${generateInvoice}"
    )
    assert generate.outgoing == ("Flow_LargeAmount", "Flow_SmallAmount")
    assert process.flow("Flow_LargeAmount").condition == "${amount > 1000}"
    assert process.flow("Flow_SmallAmount").condition == "${amount <= 1000}"

    approve = process.node("Task_ApproveInvoice")
    assert isinstance(approve, UserTask)
    assert approve.name == "Approve invoice"
    assert approve.candidate_groups == ("accounting",)

    join = process.node("Gateway_Approved")
    assert isinstance(join, ExclusiveGateway)
    assert join.incoming == ("Flow_SmallAmount", "Flow_Approved")
    assert join.default_flow is None

    send = process.node("Task_SendInvoice")
    assert isinstance(send, ServiceTask)
    assert (send.async_before, send.async_after) == (True, False)
    assert send.retry_time_cycle == "R3/PT10S"
    assert send.implementation == Implementation(
        ImplementationKind.DELEGATE_EXPRESSION, "${sendInvoice}"
    )

    archive = process.node("Task_ArchiveInvoice")
    assert isinstance(archive, ServiceTask)
    assert archive.implementation == Implementation(ImplementationKind.CLASS, "archiveInvoice")
    assert [flow.target_ref for flow in process.outgoing(archive)] == ["EndEvent_InvoiceProcessed"]

    end = process.node("EndEvent_InvoiceProcessed")
    assert isinstance(end, EndEvent)
    assert not end.terminate
    assert end.outgoing == ()


def test_every_node_and_flow_points_at_its_own_line() -> None:
    text = SHIPPED.read_text()
    lines = text.splitlines()
    process = parse_definitions(SHIPPED.read_bytes()).process("invoice")
    located = [(node.id, node.line) for node in process.flow_nodes.values()]
    located += [(flow.id, flow.line) for flow in process.sequence_flows.values()]
    for element_id, line in located:
        assert line is not None
        assert f'id="{element_id}"' in lines[line - 1]
