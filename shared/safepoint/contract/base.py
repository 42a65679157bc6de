"""The base of every message model: wire names, strictness, message types and timestamps.

Every message is a frozen pydantic model whose JSON uses camelCase names, as Camunda's
REST API does (``businessKey``, ``processVariables``); Python code may also use the
snake_case field names. Unknown fields are refused: a misspelt ``processVarables`` would
otherwise start a process instance without its variables, silently. The price is that
adding a field is a new schema version (``...v2``), which consumers accept next to v1.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel


class MessageType(StrEnum):
    """The AMQP ``type`` of every message: ``safepoint.<subject>.<verb>.v<schema version>``."""

    EXECUTE_JOB = "safepoint.job.execute.v1"
    START_PROCESS_INSTANCE = "safepoint.process-instance.start.v1"
    CORRELATE_MESSAGE = "safepoint.message.correlate.v1"
    COMPLETE_TASK = "safepoint.task.complete.v1"
    COMPLETE_EXTERNAL_TASK = "safepoint.external-task.complete.v1"
    FAIL_EXTERNAL_TASK = "safepoint.external-task.failure.v1"
    EXTERNAL_TASK_BPMN_ERROR = "safepoint.external-task.bpmn-error.v1"
    SET_JOB_RETRIES = "safepoint.job.set-retries.v1"
    COMMAND_REPLY = "safepoint.command.reply.v1"
    EXTERNAL_TASK_CREATED = "safepoint.external-task.created.v1"
    PROCESS_INSTANCE_STARTED = "safepoint.process-instance.started.v1"
    PROCESS_INSTANCE_COMPLETED = "safepoint.process-instance.completed.v1"
    ACTIVITY_COMPLETED = "safepoint.activity.completed.v1"
    INCIDENT_CREATED = "safepoint.incident.created.v1"
    DEPLOYMENT_CREATED = "safepoint.deployment.created.v1"


WIRE_CONFIG = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
    extra="forbid",
    frozen=True,
    field_title_generator=lambda name, _info: name.replace("_", " "),
)
"""The model configuration of every part of a message (camelCase on the wire, strict)."""


class Message(BaseModel):
    """A message Safepoint sends or receives; ``message_type`` names it and its version."""

    model_config = WIRE_CONFIG

    message_type: ClassVar[MessageType]


def validation_reason(error: ValidationError, *, limit: int = 10) -> str:
    """A pydantic error as one readable line: ``where: what; where: what``.

    ``where`` is the path in the JSON (wire names, e.g. ``variables.amount``); at most
    ``limit`` problems are listed, then how many more there are. Inputs are not repeated,
    so a large or secret value does not end up in a log or a header.
    """
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    more = len(problems) - limit
    text = "; ".join(problems[:limit])
    return f"{text}; and {more} more" if more > 0 else text


# --------------------------------------------------------------------------------------
# Timestamps: Camunda's date format, UTC, always with an offset.
# --------------------------------------------------------------------------------------

_ISO_DATE_TIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})",
    re.ASCII,
)
_DATE_TIME_SCHEMA_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"


def format_date(value: datetime) -> str:
    """Format an aware datetime as Camunda writes dates: ``2026-01-01T10:00:00.000+0000``.

    The result is in UTC with millisecond precision, Camunda's (Java ``Date``) precision.

    Raises:
        ValueError: ``value`` is naive (has no timezone).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no timezone; give it one, e.g. datetime.now(timezone.utc)"
        )
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


MAX_RETRIES = 2**31 - 1
"""The most retries a job or external task holds (Camunda's ``Integer``)."""
MAX_RETRY_TIMEOUT_MS = 36_525 * 86_400_000
"""The longest ``retryTimeout`` of an external task's failure: a hundred years."""


def parse_date(text: str) -> datetime:
    """Parse an ISO 8601 date-time with an offset into an aware datetime in UTC.

    Accepts Camunda's ``2026-01-01T10:00:00.000+0000`` as well as ``...Z`` and
    ``...+00:00``, with 0 to 9 fractional digits (beyond microseconds is cut off).

    Raises:
        ValueError: ``text`` is not such a date-time, or has no offset.
    """
    match = _ISO_DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date-time with an offset, "
            "e.g. 2026-01-01T10:00:00.000+0000 or 2026-01-01T10:00:00Z"
        )
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    offset = match["offset"]
    if offset != "Z" and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{match['base']}.{fraction}{offset}")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date-time: {exc}") from None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range once converted to UTC") from None


def _to_datetime(value: Any) -> Any:
    """Let strings through :func:`parse_date`; leave other inputs to pydantic."""
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{value.isoformat()} has no timezone")
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_to_datetime),
    PlainSerializer(format_date, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _DATE_TIME_SCHEMA_PATTERN,
            "description": "UTC date-time as Camunda writes it, e.g. "
            "2026-01-01T10:00:00.000+0000 (Z and +00:00 are accepted too)",
        }
    ),
]
"""An aware datetime; JSON as Camunda's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` in UTC."""
