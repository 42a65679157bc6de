"""The activity listener hears every activity instance start and end, before the commit."""

from __future__ import annotations

from bpmn_doc import definitions, element, flow, process

from safepoint import Engine, HistoricActivityInstance, ManualClock


def test_the_listener_hears_each_activity_start_and_end_in_order(
    database_url: str, clock: ManualClock
) -> None:
    heard: list[tuple[str, str]] = []

    def listen(event: str, instance: HistoricActivityInstance) -> None:
        heard.append((event, instance.activity_id))

    with Engine(database_url, clock=clock, activity_listener=listen) as engine:
        engine.deploy(
            "listened",
            {
                "l.bpmn": definitions(
                    process(
                        "listened",
                        element("startEvent", "start"),
                        flow("start", "work"),
                        element("task", "work"),
                        flow("work", "wait"),
                        element("userTask", "wait", camunda__asyncBefore="true"),
                        flow("wait", "end"),
                        element("endEvent", "end"),
                    )
                )
            },
        )
        instance = engine.start_process_instance_by_key("listened")
        assert heard == [
            ("start", "start"),
            ("end", "start"),
            ("start", "work"),
            ("end", "work"),
        ]  # the user task waits behind its asyncBefore job
        engine.execute_job(engine.jobs(instance.id)[0].id)
        assert heard[-1] == ("start", "wait")  # entered; it waits for a person
        engine.complete_task(engine.tasks(instance.id)[0].id)
        assert heard[-3:] == [("end", "wait"), ("start", "end"), ("end", "end")]
