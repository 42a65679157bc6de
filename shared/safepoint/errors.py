"""Every error Safepoint raises, under one root.

The tree::

    SafepointError
    ├── BpmnParseError(problems)          a deployment was refused; every Problem listed
    ├── BadUserRequest                    the caller asked for something invalid (HTTP 400)
    │   └── NotFound(entity, id)          the thing asked for does not exist (HTTP 404)
    ├── EngineError                       the engine cannot go on with a process instance
    │   ├── ExpressionError(expression)   an expression failed to parse or evaluate
    │   ├── DelegateNotFound(name)        a delegate name is not in the registry
    │   └── NoOutgoingFlow(activity_id)   an exclusive gateway found no flow to take
    ├── BpmnError(error_code)             a delegate signals a business error (not a failure)
    ├── PersistenceError                  the database failed or refused
    │   └── OptimisticLockError           another transaction changed the same state first
    ├── DuplicateCommand(command_id)      a command with this id was carried out already
    └── MessagingError                    the broker failed or refused
        ├── BrokerUnavailable             no connection to the broker
        └── ContractViolation(reason)     a message does not match its schema

Adapters translate their library's errors at their boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass


class SafepointError(Exception):
    """The root of every error Safepoint raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a BPMN document, with where it is.

    ``line`` is the 1-based line in the resource (``None`` when the document could not
    be read far enough to know), ``element_id`` the id of the element concerned, if any.
    """

    message: str
    line: int | None = None
    element_id: str | None = None
    resource_name: str | None = None
    column: int | None = None

    def __str__(self) -> str:
        """``resource:line [element] message``, leaving out what is unknown."""
        where = ":".join(str(part) for part in (self.resource_name, self.line) if part is not None)
        element = f" [{self.element_id}]" if self.element_id else ""
        prefix = f"{where}{element}: " if where or element else ""
        return f"{prefix}{self.message}"


class BpmnParseError(SafepointError):
    """A BPMN document was refused: ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in BPMN:\n{lines}")


class BadUserRequest(SafepointError):
    """The caller asked for something that cannot be done as asked."""


class NotFound(BadUserRequest):
    """The entity asked for does not exist."""

    def __init__(self, entity: str, entity_id: str) -> None:
        self.entity = entity
        self.entity_id = entity_id
        super().__init__(f"{entity} {entity_id!r} not found")


class EngineError(SafepointError):
    """The engine cannot continue a process instance from where it is."""


class ExpressionError(EngineError):
    """An expression could not be parsed or evaluated."""

    def __init__(self, message: str, *, expression: str, position: int | None = None) -> None:
        self.expression = expression
        self.position = position
        self.reason = message
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{at} in expression {expression!r}")


class DelegateNotFound(EngineError):
    """A BPMN element names a delegate that is not in the registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no delegate registered under the name {name!r}")


class NoOutgoingFlow(EngineError):
    """A gateway found no outgoing sequence flow to take."""

    def __init__(self, activity_id: str) -> None:
        self.activity_id = activity_id
        super().__init__(
            f"no outgoing sequence flow of {activity_id!r} can be selected: "
            "no condition holds and there is no default flow"
        )


class BpmnError(SafepointError):
    """Raised by a delegate to signal a business error with ``error_code``.

    It is not a technical failure: it uses up no retries.
    """

    def __init__(self, error_code: str, message: str | None = None) -> None:
        self.error_code = error_code
        super().__init__(message or error_code)


class PersistenceError(SafepointError):
    """The database failed or refused a statement."""


class OptimisticLockError(PersistenceError):
    """Another transaction changed the same process instance first; retry the command."""


class DuplicateCommand(SafepointError):
    """A command with this id was carried out already: its transaction rolled back.

    Raised by a transaction that records ``command_id`` as processed
    (:func:`safepoint.embedded.recording_command`) when the id is recorded already,
    by an earlier delivery of the same command or by a concurrent one that committed
    first. Nothing the transaction did is kept.
    """

    def __init__(self, command_id: str) -> None:
        self.command_id = command_id
        super().__init__(f"command {command_id!r} was carried out already")


class MessagingError(SafepointError):
    """The message broker failed or refused."""


class BrokerUnavailable(MessagingError):
    """There is no usable connection to the broker."""


class ContractViolation(MessagingError):
    """A message does not match the schema of its type."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
