"""The job message: one per safe point, on ``safepoint.jobs``, consumed by job-executors.

The job row in the database is the source of truth; the message only says which row to
run. A message whose row is gone is a duplicate, acknowledged and dropped.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from safepoint.contract.base import Message, MessageType


class ExecuteJob(Message):
    """Continue a process instance from the job's safe point.

    ``configuration`` is the deferred atomic operation (``transition-create-scope``,
    ``transition-notify-listener-take$<flowId>``, ...); ``exclusive`` jobs of one
    instance never run at the same time; ``retries`` is what the row held at publish
    time (the row, not the message, decides).
    """

    message_type: ClassVar[MessageType] = MessageType.EXECUTE_JOB

    job_id: str = Field(min_length=1)
    process_instance_id: str = Field(min_length=1)
    process_definition_key: str
    activity_id: str
    configuration: str
    exclusive: bool = True
    retries: int = Field(ge=0)
