"""The message that gives an external task to workers of its topic, in any language.

Published to the topic exchange ``safepoint.external`` with the topic as routing key;
workers consume ``safepoint.external.<topic>``, do the work, publish their answer
(:class:`~safepoint.contract.commands.CompleteExternalTask`, ``FailExternalTask`` or
``ExternalTaskBpmnError``) to ``safepoint.commands``, and only then ack.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from safepoint.contract.base import Message, MessageType
from safepoint.contract.variables import TypedVariables


class ExternalTaskCreated(Message):
    """An external task waits for a worker of ``topic``; ``variables`` are the instance's.

    ``retries`` is ``None`` until a worker reported a failure (Camunda's convention).
    """

    message_type: ClassVar[MessageType] = MessageType.EXTERNAL_TASK_CREATED

    external_task_id: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    process_instance_id: str
    process_definition_key: str
    activity_id: str
    business_key: str | None = None
    variables: TypedVariables = Field(default_factory=dict)
    retries: int | None = Field(default=None, ge=0)
    priority: int = 0
