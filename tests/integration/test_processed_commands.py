"""Commands recorded as processed: a command delivered twice changes the state once."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from bpmn_doc import chain, definitions, element, process

from safepoint import Engine, ManualClock
from safepoint.embedded import CommandOutcome, recording_command
from safepoint.errors import DuplicateCommand, NotFound

REVIEW = definitions(
    process(
        "review",
        element("startEvent", "start"),
        element("userTask", "check"),
        element("endEvent", "end"),
        *chain("start", "check", "end"),
    )
)

REVIEW_THEN_SLOW = definitions(
    process(
        "review_then_slow",
        element("startEvent", "start"),
        element("userTask", "check"),
        element("serviceTask", "work", camunda__delegateExpression="${slow}"),
        element("userTask", "wait"),
        element("endEvent", "end"),
        *chain("start", "check", "work", "wait", "end"),
    )
)

SLOW = definitions(
    process(
        "slow",
        element("startEvent", "start"),
        element("serviceTask", "work", camunda__delegateExpression="${slow}"),
        element("userTask", "wait"),
        element("endEvent", "end"),
        *chain("start", "work", "wait", "end"),
    )
)


FAILING = definitions(
    process(
        "f",
        element("startEvent", "start"),
        element(
            "serviceTask",
            "boom",
            camunda__asyncBefore="true",
            camunda__delegateExpression="${failing}",
        ),
        element("endEvent", "end"),
        *chain("start", "boom", "end"),
    )
)


def _instance_ids(outcomes: Sequence[CommandOutcome]) -> dict[str, Any]:
    return {"started": [outcome.process_instance_id for outcome in outcomes if outcome.started]}


@pytest.fixture
def reviewing(engine: Engine) -> Engine:
    engine.deploy("review", {"review.bpmn": REVIEW})
    return engine


def test_the_first_commit_records_the_command_with_its_answer(
    reviewing: Engine, clock: ManualClock
) -> None:
    with recording_command("cmd-1", "start.v1", answer=_instance_ids):
        instance = reviewing.start_process_instance_by_key("review")

    done = reviewing.processed_command("cmd-1")
    assert done is not None
    assert (done.id, done.command_type, done.processed_at) == ("cmd-1", "start.v1", clock())
    assert done.result == {"started": [instance.id]}
    assert reviewing.processed_command("cmd-2") is None


def test_a_command_carried_out_already_is_rolled_back_whole(reviewing: Engine) -> None:
    with recording_command("cmd-1", "start.v1"):
        first = reviewing.start_process_instance_by_key("review", business_key="A")

    with pytest.raises(DuplicateCommand) as raised, recording_command("cmd-1", "start.v1"):
        reviewing.start_process_instance_by_key("review", business_key="A")

    assert raised.value.command_id == "cmd-1"
    assert [i.id for i in reviewing.process_instances()] == [first.id]
    assert reviewing.processed_command("cmd-1") is not None


def test_a_refused_command_records_nothing_and_can_run_again(reviewing: Engine) -> None:
    with pytest.raises(NotFound), recording_command("cmd-1", "start.v1"):
        reviewing.start_process_instance_by_key("no-such-process")
    assert reviewing.processed_command("cmd-1") is None

    with recording_command("cmd-1", "start.v1"):
        reviewing.start_process_instance_by_key("review")
    assert reviewing.processed_command("cmd-1") is not None


def test_later_transactions_in_the_block_are_not_recorded_again(reviewing: Engine) -> None:
    with recording_command("cmd-1", "complete.v1") as pending:
        instance = reviewing.start_process_instance_by_key("review")
        assert pending.recorded
        (task,) = reviewing.tasks(instance.id)
        reviewing.complete_task(task.id)

    assert reviewing.process_instance(instance.id).ended


def test_outside_a_block_nothing_is_recorded(reviewing: Engine) -> None:
    reviewing.start_process_instance_by_key("review")
    reviewing.start_process_instance_by_key("review")

    assert len(reviewing.process_instances()) == 2
    assert reviewing.prune_processed_commands(timedelta(0)) == 0


def test_pruning_forgets_commands_older_than_the_retention(
    reviewing: Engine, clock: ManualClock
) -> None:
    with recording_command("old", "start.v1"):
        reviewing.start_process_instance_by_key("review")
    clock.advance(timedelta(days=6))
    with recording_command("recent", "start.v1"):
        reviewing.start_process_instance_by_key("review")
    clock.advance(timedelta(days=1, seconds=1))

    assert reviewing.prune_processed_commands(timedelta(days=7)) == 1

    assert reviewing.processed_command("old") is None
    assert reviewing.processed_command("recent") is not None
    # Forgotten: the same id is a new command now.
    with recording_command("old", "start.v1"):
        reviewing.start_process_instance_by_key("review")
    assert len(reviewing.process_instances()) == 3


def test_pruning_goes_in_batches(reviewing: Engine, clock: ManualClock) -> None:
    for number in range(5):
        with recording_command(f"cmd-{number}", "start.v1"):
            reviewing.start_process_instance_by_key("review")
    clock.advance(timedelta(days=1))

    assert reviewing.prune_processed_commands(timedelta(hours=1), limit=2) == 2
    assert reviewing.prune_processed_commands(timedelta(hours=1), limit=2) == 2
    assert reviewing.prune_processed_commands(timedelta(hours=1), limit=2) == 1
    assert reviewing.prune_processed_commands(timedelta(hours=1), limit=2) == 0


class Slow:
    """Says when its first call has begun, then takes ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.begun = threading.Event()

    def __call__(self, execution: Any) -> None:
        self.begun.set()
        time.sleep(self.seconds)


def test_two_deliveries_at_once_start_one_instance(database_url: str, clock: ManualClock) -> None:
    """The second delivery arrives while the first one's transaction is still open."""
    slow = Slow(0.3)
    with Engine(database_url, delegates={"slow": slow}, clock=clock) as engine:
        engine.deploy("slow", {"slow.bpmn": SLOW})

        def deliver() -> str:
            try:
                with recording_command("cmd-1", "start.v1"):
                    engine.start_process_instance_by_key("slow")
            except DuplicateCommand:
                return "duplicate"
            return "started"

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(deliver)
            assert slow.begun.wait(10)
            second = pool.submit(deliver)
            results = sorted([first.result(30), second.result(30)])

        assert results == ["duplicate", "started"]
        assert len(engine.process_instances()) == 1


def test_a_completion_delivered_twice_at_once_completes_once(
    database_url: str, clock: ManualClock
) -> None:
    """The copy waits for the first run's transaction, then finds the command done.

    (Had it run, it would have met the first's change: a conflict, then the task gone.)
    """
    slow = Slow(0.3)
    with Engine(database_url, delegates={"slow": slow}, clock=clock) as engine:
        engine.deploy("review_then_slow", {"r.bpmn": REVIEW_THEN_SLOW})
        instance = engine.start_process_instance_by_key("review_then_slow")
        (task,) = engine.tasks(instance.id)

        def deliver() -> str:
            try:
                with recording_command("complete-1", "complete.v1"):
                    engine.complete_task(task.id)
            except DuplicateCommand:
                return "duplicate"
            return "completed"

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(deliver)
            assert slow.begun.wait(10)
            second = pool.submit(deliver)
            results = sorted([first.result(30), second.result(30)])

        assert results == ["completed", "duplicate"]
        assert engine.active_activity_ids(instance.id) == ["wait"]


def test_a_job_failure_recorded_afterwards_does_not_record_the_command(
    engine: Engine, clock: ManualClock
) -> None:
    engine.deploy("f", {"f.bpmn": FAILING})
    instance = engine.start_process_instance_by_key("f")
    (job,) = engine.jobs(instance.id)

    with pytest.raises(RuntimeError), recording_command("run-1", "job.v1"):
        engine.execute_job(job.id)

    assert engine.processed_command("run-1") is None
    assert engine.job(job.id).retries == 2  # the failure itself was recorded
