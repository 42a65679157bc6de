"""Variables crossing async boundaries by value (scenario 61, rules 1.3/1.4).

A value is serialized when the transaction commits, not when it is set: a list set and
then mutated in place arrives mutated after the boundary. A deserialized value mutated in
place without being set again is detected and stored too. What a failing job did to the
variables (in place or by setting them) is rolled back.
"""

from __future__ import annotations

from typing import Any

import pytest
from bpmn_doc import deploy, element, flow, only_job, sub_process

from safepoint import DelegateExecution, Engine


def chain(*services: tuple[str, dict[str, str]]) -> tuple[str, ...]:
    """start → the services in order (id, extra attributes) → a user task `wait`."""
    ids = ["start", *(service_id for service_id, _ in services), "wait"]
    parts = [element("startEvent", "start")]
    for service_id, attrs in services:
        parts.append(
            element(
                "serviceTask", service_id, camunda__delegateExpression=f"${{{service_id}}}", **attrs
            )
        )
    parts.append(element("userTask", "wait"))
    parts.extend(flow(source, target) for source, target in zip(ids, ids[1:], strict=False))
    return tuple(parts)


ASYNC = {"camunda__asyncBefore": "true"}


def test_list_set_then_mutated_in_place_crosses_the_boundary_mutated(engine: Engine) -> None:
    """Scenario 61 (`testSerializedVariablesBothAsync`): delegate 1 sets a list and then
    mutates it without setting it again; the async delegate 2 sees the mutated list.
    """
    seen: list[object] = []

    def delegate1(execution: DelegateExecution) -> None:
        items = ["set"]
        execution.set_variable("items", items)
        items.append("mutated after set")

    engine.delegates["delegate1"] = delegate1
    engine.delegates["delegate2"] = lambda execution: seen.append(execution.get_variable("items"))
    deploy(engine, *chain(("delegate1", {}), ("delegate2", ASYNC)))
    instance = engine.start_process_instance_by_key("p")

    assert engine.variables(instance.id)["items"] == ["set", "mutated after set"]
    assert seen == []

    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [["set", "mutated after set"]]


def test_deserialized_dict_mutated_in_place_is_stored(engine: Engine) -> None:
    """Scenario 61 (`testSerializedVariablesThirdAsync`): the async delegate 2 mutates the
    deserialized dict without setting it; the async delegate 3 sees the change.
    """
    seen: list[object] = []

    def delegate1(execution: DelegateExecution) -> None:
        execution.set_variable("data", {"steps": ["delegate1"], "count": 1})

    def delegate2(execution: DelegateExecution) -> None:
        data: Any = execution.get_variable("data")
        data["steps"].append("delegate2")
        data["count"] += 1
        data["new key"] = True

    engine.delegates["delegate1"] = delegate1
    engine.delegates["delegate2"] = delegate2
    engine.delegates["delegate3"] = lambda execution: seen.append(execution.get_variable("data"))
    deploy(engine, *chain(("delegate1", {}), ("delegate2", ASYNC), ("delegate3", ASYNC)))
    instance = engine.start_process_instance_by_key("p")
    engine.execute_job(only_job(engine, instance.id).id)

    assert engine.variables(instance.id)["data"] == {
        "steps": ["delegate1", "delegate2"],
        "count": 2,
        "new key": True,
    }

    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [{"steps": ["delegate1", "delegate2"], "count": 2, "new key": True}]
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["wait"]


def test_mutation_through_the_variables_mapping_is_stored(engine: Engine) -> None:
    """Rule 1.3 (not in the list): the same through ``execution.variables[...]``, across an
    asyncAfter boundary.
    """
    seen: list[object] = []

    def delegate1(execution: DelegateExecution) -> None:
        execution.variables["items"] = [1]
        items: Any = execution.variables["items"]
        items.append(2)

    def delegate2(execution: DelegateExecution) -> None:
        items: Any = execution.variables["items"]
        items.append(3)

    engine.delegates["delegate1"] = delegate1
    engine.delegates["delegate2"] = delegate2
    engine.delegates["delegate3"] = lambda execution: seen.append(execution.variables["items"])
    deploy(
        engine,
        *chain(
            ("delegate1", {"camunda__asyncAfter": "true"}),
            ("delegate2", {"camunda__asyncAfter": "true"}),
            ("delegate3", {}),
        ),
    )
    instance = engine.start_process_instance_by_key("p")
    assert engine.variables(instance.id)["items"] == [1, 2]

    engine.execute_job(only_job(engine, instance.id).id)
    assert engine.variables(instance.id)["items"] == [1, 2, 3]

    engine.execute_job(only_job(engine, instance.id).id)
    assert seen == [[1, 2, 3]]


def test_value_is_copied_at_commit_later_mutations_of_the_object_do_not_leak(
    engine: Engine,
) -> None:
    """Rule 1.3 (not in the list): after the commit the stored value is a copy; mutating the
    object the delegate kept does not change what the next job sees.
    """
    kept: list[list[str]] = []
    seen: list[object] = []

    def delegate1(execution: DelegateExecution) -> None:
        items = ["committed"]
        execution.set_variable("items", items)
        kept.append(items)

    engine.delegates["delegate1"] = delegate1
    engine.delegates["delegate2"] = lambda execution: seen.append(execution.get_variable("items"))
    deploy(engine, *chain(("delegate1", {}), ("delegate2", ASYNC)))
    instance = engine.start_process_instance_by_key("p")

    kept[0].append("after the commit")
    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [["committed"]]


def test_in_place_mutation_by_a_failing_job_is_rolled_back(engine: Engine) -> None:
    """Rules 1.3/1.8 (not in the list): a job that mutates a variable in place (and sets
    another) and then fails leaves the variables as they were before the job.
    """
    attempts: list[object] = []

    def delegate(execution: DelegateExecution) -> None:
        data: Any = execution.get_variable("data")
        attempts.append(list(data["log"]))
        data["log"].append("attempt")
        execution.set_variable("touched", True)
        if execution.get_variable("fail"):
            raise RuntimeError("fails after mutating")

    engine.delegates["delegate"] = delegate
    deploy(engine, *chain(("delegate", ASYNC)))
    instance = engine.start_process_instance_by_key("p", {"data": {"log": []}, "fail": True})
    job = only_job(engine, instance.id)

    with pytest.raises(RuntimeError, match="fails after mutating"):
        engine.execute_job(job.id)

    assert engine.variables(instance.id) == {"data": {"log": []}, "fail": True}
    assert engine.job(job.id).retries == 2

    with pytest.raises(RuntimeError):
        engine.execute_job(job.id)

    assert attempts == [[], []]  # each attempt started from the committed value
    assert engine.variables(instance.id) == {"data": {"log": []}, "fail": True}


def test_start_variables_are_committed_with_the_first_job(engine: Engine) -> None:
    """Rule 1.3: variables passed at start (a dict and a list) are committed with the job and
    read back, equal, in it.
    """
    seen: list[object] = []
    engine.delegates["delegate"] = lambda execution: seen.append(
        (execution.get_variable("order"), execution.get_variable("lines"))
    )
    deploy(engine, *chain(("delegate", ASYNC)))
    order = {"id": 7, "customer": {"name": "Ada"}, "paid": False}
    lines = [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2.5}]
    instance = engine.start_process_instance_by_key("p", {"order": order, "lines": lines})

    order["paid"] = True  # the caller's object is not the stored value

    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [
        (
            {"id": 7, "customer": {"name": "Ada"}, "paid": False},
            [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2.5}],
        )
    ]


def test_local_list_of_a_sub_process_mutated_in_place_crosses_the_boundary(
    engine: Engine,
) -> None:
    """Rule 1.3 (not in the list): the same for a sub-process's local variable (created by an
    input mapping): mutated in place before an asyncBefore task, seen mutated in its job,
    and gone with the sub-process afterwards.
    """
    seen: list[object] = []

    def mutate(execution: DelegateExecution) -> None:
        items: Any = execution.get_variable("items")
        items.append("mutated")

    engine.delegates["mutate"] = mutate
    engine.delegates["read"] = lambda execution: seen.append(execution.get_variable("items"))
    deploy(
        engine,
        element("startEvent", "start"),
        flow("start", "sub"),
        sub_process(
            "sub",
            element("startEvent", "subStart"),
            flow("subStart", "mutate"),
            element("serviceTask", "mutate", camunda__delegateExpression="${mutate}"),
            flow("mutate", "read"),
            element(
                "serviceTask",
                "read",
                camunda__asyncBefore="true",
                camunda__delegateExpression="${read}",
            ),
            flow("read", "subEnd"),
            element("endEvent", "subEnd"),
            extensions='<camunda:inputOutput><camunda:inputParameter name="items">'
            "<camunda:list><camunda:value>input</camunda:value></camunda:list>"
            "</camunda:inputParameter></camunda:inputOutput>",
        ),
        flow("sub", "wait"),
        element("userTask", "wait"),
    )
    instance = engine.start_process_instance_by_key("p")
    assert "items" not in engine.variables(instance.id)

    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [["input", "mutated"]]
    assert "items" not in engine.variables(instance.id)
    assert [t.activity_id for t in engine.tasks(instance.id)] == ["wait"]


def test_removed_variable_stays_removed_after_the_boundary(engine: Engine) -> None:
    """Rule 1.3 (not in the list): removing a variable before an async boundary is committed."""
    seen: list[object] = []
    engine.delegates["remove"] = lambda execution: execution.remove_variable("gone")
    engine.delegates["read"] = lambda execution: seen.append(
        (execution.has_variable("gone"), execution.get_variable("kept"))
    )
    deploy(engine, *chain(("remove", {}), ("read", ASYNC)))
    instance = engine.start_process_instance_by_key("p", {"gone": [1], "kept": {"a": 1}})

    assert engine.variables(instance.id) == {"kept": {"a": 1}}

    engine.execute_job(only_job(engine, instance.id).id)

    assert seen == [(False, {"a": 1})]
