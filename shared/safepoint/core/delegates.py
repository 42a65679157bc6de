"""What delegates and listeners see (``DelegateExecution``) and how they are invoked."""

from __future__ import annotations

from collections.abc import Mapping

from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution
from safepoint.core.variables import VariableMap, VariableScope
from safepoint.errors import DelegateNotFound, EngineError


class DelegateExecution:
    """The execution handed to a delegate or execution listener.

    ``variables`` reads through the variable scopes (innermost first) and writes with
    Camunda's ``setVariable`` rule: update where the name exists, else create it on the
    process instance. ``event_name`` is ``start``, ``end`` or ``take`` for listeners
    and ``None`` for service task delegates.
    """

    __slots__ = ("_ctx", "_execution", "_scope", "event_name", "current_transition_id")

    def __init__(
        self,
        ctx: CommandContext,
        execution: Execution,
        *,
        event_name: str | None = None,
        current_transition_id: str | None = None,
    ) -> None:
        self._ctx = ctx
        self._execution = execution
        self._scope = VariableScope(ctx, execution)
        self.event_name = event_name
        self.current_transition_id = current_transition_id

    @property
    def id(self) -> str:
        """The execution id."""
        return self._execution.id

    @property
    def process_instance_id(self) -> str:
        """The process instance id."""
        return self._ctx.state.id

    @property
    def business_key(self) -> str | None:
        """The business key of the process instance."""
        return self._ctx.state.instance.business_key

    @property
    def activity_id(self) -> str | None:
        """The id of the activity the execution is at."""
        return self._execution.activity_id

    @property
    def activity_name(self) -> str | None:
        """The name of that activity, if it has one."""
        node = self._ctx.process.flow_nodes.get(self._execution.activity_id or "")
        return node.name if node else None

    @property
    def process_definition_id(self) -> str:
        """The id of the process definition."""
        return self._ctx.definition.id

    @property
    def process_definition_key(self) -> str:
        """The key of the process definition (the BPMN process id)."""
        return self._ctx.definition.key

    @property
    def variables(self) -> VariableMap:
        """The variables visible here, as a mutable mapping."""
        return VariableMap(self._scope)

    def get_variable(self, name: str, default: object = None) -> object:
        """The value of a visible variable, or ``default``."""
        return self._scope.get(name, default)

    def set_variable(self, name: str, value: object) -> None:
        """Set a variable where it exists, else on the process instance."""
        self._scope.set(name, value)

    def get_variable_local(self, name: str, default: object = None) -> object:
        """The value of a variable in the innermost scope, or ``default``."""
        return self._scope.get_local(name, default)

    def set_variable_local(self, name: str, value: object) -> None:
        """Set a variable in the innermost scope."""
        self._scope.set_local(name, value)

    def has_variable(self, name: str) -> bool:
        """Whether a variable of this name is visible."""
        return self._scope.has(name)

    def remove_variable(self, name: str) -> None:
        """Remove the innermost variable of this name."""
        self._scope.remove(name)

    def __repr__(self) -> str:
        return (
            f"DelegateExecution(id={self.id!r}, activity_id={self.activity_id!r}, "
            f"process_instance_id={self.process_instance_id!r}, event_name={self.event_name!r})"
        )


EXECUTION_METHODS: Mapping[str, str] = {
    "getVariable": "get_variable",
    "setVariable": "set_variable",
    "getVariableLocal": "get_variable_local",
    "setVariableLocal": "set_variable_local",
    "hasVariable": "has_variable",
    "removeVariable": "remove_variable",
    "get_variable": "get_variable",
    "set_variable": "set_variable",
    "get_variable_local": "get_variable_local",
    "set_variable_local": "set_variable_local",
    "has_variable": "has_variable",
    "remove_variable": "remove_variable",
}
"""The methods an expression may call on ``execution`` (Camunda's names and Python's)."""

EXECUTION_PROPERTIES: Mapping[str, str] = {
    "id": "id",
    "processInstanceId": "process_instance_id",
    "process_instance_id": "process_instance_id",
    "businessKey": "business_key",
    "processBusinessKey": "business_key",
    "business_key": "business_key",
    "activityId": "activity_id",
    "currentActivityId": "activity_id",
    "activity_id": "activity_id",
    "currentActivityName": "activity_name",
    "activity_name": "activity_name",
    "eventName": "event_name",
    "event_name": "event_name",
    "processDefinitionId": "process_definition_id",
    "process_definition_id": "process_definition_id",
    "currentTransitionId": "current_transition_id",
}
"""The properties an expression may read on ``execution``."""


def resolve_delegate(ctx: CommandContext, name: str) -> object:
    """The delegate registered under ``name``; a registered class is instantiated."""
    try:
        target = ctx.delegates[name]
    except KeyError:
        raise DelegateNotFound(name) from None
    return target() if isinstance(target, type) else target


def call_delegate(target: object, execution: DelegateExecution, *, listener: bool) -> object:
    """Run a delegate object: ``notify`` for listeners, ``execute``, or a plain call."""
    if listener and callable(getattr(target, "notify", None)):
        return target.notify(execution)  # type: ignore[attr-defined]
    if callable(getattr(target, "execute", None)):
        return target.execute(execution)  # type: ignore[attr-defined]
    if callable(target):
        return target(execution)
    raise EngineError(
        f"delegate {target!r} is neither callable nor has an execute() or notify() method"
    )
