"""Commands any language may send to ``safepoint.commands``, and the reply to them.

The JSON names are those of Camunda's REST bodies (``businessKey``, ``workerId``,
``errorMessage``, ``retryTimeout``; ``processVariables`` for a message correlation),
plus the id that Camunda has in the URL path (``taskId``, ``externalTaskId``, ``jobId``).
A command sent with ``reply_to`` and ``correlation_id`` is answered with a
:class:`CommandReply`.
"""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from safepoint.contract.base import (
    MAX_RETRIES,
    MAX_RETRY_TIMEOUT_MS,
    WIRE_CONFIG,
    Message,
    MessageType,
)
from safepoint.contract.variables import TypedVariables


class StartProcessInstance(Message):
    """Start an instance of the latest version of a process (by key) or of one version (by id).

    Exactly one of ``process_definition_key`` and ``process_definition_id`` is given.
    """

    message_type: ClassVar[MessageType] = MessageType.START_PROCESS_INSTANCE
    model_config = ConfigDict(
        **WIRE_CONFIG,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["processDefinitionKey"],
                    "properties": {"processDefinitionKey": {"type": "string"}},
                },
                {
                    "required": ["processDefinitionId"],
                    "properties": {"processDefinitionId": {"type": "string"}},
                },
            ]
        },
    )

    process_definition_key: str | None = None
    process_definition_id: str | None = None
    business_key: str | None = None
    variables: TypedVariables = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one_definition(self) -> Self:
        given = (self.process_definition_key, self.process_definition_id)
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of processDefinitionKey and processDefinitionId")
        return self


class CorrelateMessage(Message):
    """Deliver a BPMN message by name to the execution waiting for it (Camunda ``/message``).

    ``business_key`` and ``process_instance_id`` narrow the search; ``variables`` are set
    on the process instance (Camunda's ``processVariables``).
    """

    message_type: ClassVar[MessageType] = MessageType.CORRELATE_MESSAGE

    message_name: str = Field(min_length=1)
    business_key: str | None = None
    process_instance_id: str | None = None
    variables: TypedVariables = Field(default_factory=dict, alias="processVariables")


class CompleteTask(Message):
    """Complete a user task, setting ``variables`` on the process instance."""

    message_type: ClassVar[MessageType] = MessageType.COMPLETE_TASK

    task_id: str = Field(min_length=1)
    variables: TypedVariables = Field(default_factory=dict)


class CompleteExternalTask(Message):
    """An external worker finished a task it was given; ``variables`` are set on the instance."""

    message_type: ClassVar[MessageType] = MessageType.COMPLETE_EXTERNAL_TASK

    external_task_id: str = Field(min_length=1)
    worker_id: str = Field(min_length=1)
    variables: TypedVariables = Field(default_factory=dict)


class FailExternalTask(Message):
    """An external worker failed a task: it is retried ``retries`` more times.

    ``retries`` is the number of attempts left (at 0 an incident is raised);
    ``retry_timeout`` is the delay before the next attempt, in milliseconds.
    """

    message_type: ClassVar[MessageType] = MessageType.FAIL_EXTERNAL_TASK

    external_task_id: str = Field(min_length=1)
    worker_id: str = Field(min_length=1)
    error_message: str | None = None
    error_details: str | None = None
    retries: int = Field(ge=0, le=MAX_RETRIES)
    retry_timeout: int = Field(default=0, ge=0, le=MAX_RETRY_TIMEOUT_MS, description="milliseconds")


class ExternalTaskBpmnError(Message):
    """An external worker reports a business error, caught by a boundary error event."""

    message_type: ClassVar[MessageType] = MessageType.EXTERNAL_TASK_BPMN_ERROR

    external_task_id: str = Field(min_length=1)
    worker_id: str = Field(min_length=1)
    error_code: str = Field(min_length=1)
    error_message: str | None = None
    variables: TypedVariables = Field(default_factory=dict)


class SetJobRetries(Message):
    """Set a job's retries (Camunda ``PUT /job/{id}/retries``): resolves its incident."""

    message_type: ClassVar[MessageType] = MessageType.SET_JOB_RETRIES

    job_id: str = Field(min_length=1)
    retries: int = Field(ge=0, le=MAX_RETRIES)


class CommandError(BaseModel):
    """Why a command failed: the error's class name (e.g. ``NotFound``) and its message."""

    model_config = WIRE_CONFIG

    type: str
    message: str


class CommandReply(Message):
    """The answer to a command sent with ``reply_to``; its ``correlation_id`` is the command's.

    ``ok`` with an optional ``result`` (e.g. ``{"id": <process instance id>}``), or not
    ``ok`` with an ``error``.
    """

    message_type: ClassVar[MessageType] = MessageType.COMMAND_REPLY

    ok: bool
    result: dict[str, JsonValue] | None = None
    error: CommandError | None = None

    @model_validator(mode="after")
    def _error_iff_failed(self) -> Self:
        if self.ok and self.error is not None:
            raise ValueError("a reply with ok=true has no error")
        if not self.ok and self.error is None:
            raise ValueError("a reply with ok=false says why in error")
        return self


COMMANDS: tuple[type[Message], ...] = (
    StartProcessInstance,
    CorrelateMessage,
    CompleteTask,
    CompleteExternalTask,
    FailExternalTask,
    ExternalTaskBpmnError,
    SetJobRetries,
)
"""Every command the engine consumes from ``safepoint.commands``."""
