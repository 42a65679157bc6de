"""Process variables as an execution sees them: local scopes first, the process last."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping

from safepoint.core.context import CommandContext
from safepoint.core.entities import Execution
from safepoint.core.tree import variable_scope_ids

_MISSING = object()


class VariableScope:
    """Reads and writes variables from one execution, with Camunda's scoping rules.

    ``get`` finds the innermost scope that has the name. ``set`` updates the variable
    where it already exists, and otherwise creates it on the process instance;
    ``set_local`` always writes the innermost scope.
    """

    __slots__ = ("_ctx", "_execution_id")

    def __init__(self, ctx: CommandContext, execution: Execution) -> None:
        self._ctx = ctx
        self._execution_id = execution.id

    def scope_ids(self) -> list[str]:
        """The visible variable scopes, innermost first."""
        execution = self._ctx.execution(self._execution_id)
        return variable_scope_ids(self._ctx.state, self._ctx.process, execution)

    def _scope(self, scope_id: str) -> dict[str, object]:
        return self._ctx.state.variables.setdefault(scope_id, {})

    def lookup(self, name: str) -> object:
        """The value of ``name`` from the innermost scope that has it, or ``_MISSING``."""
        for scope_id in self.scope_ids():
            values = self._ctx.state.variables.get(scope_id)
            if values is not None and name in values:
                return values[name]
        return _MISSING

    def has(self, name: str) -> bool:
        """Whether any visible scope has ``name``."""
        return self.lookup(name) is not _MISSING

    def get(self, name: str, default: object = None) -> object:
        """The value of ``name``, or ``default`` when no visible scope has it."""
        value = self.lookup(name)
        return default if value is _MISSING else value

    def set(self, name: str, value: object) -> None:
        """Update ``name`` where it exists, else create it on the process instance."""
        scope_ids = self.scope_ids()
        for scope_id in scope_ids:
            values = self._ctx.state.variables.get(scope_id)
            if values is not None and name in values:
                values[name] = value
                return
        self._scope(scope_ids[-1])[name] = value

    def set_local(self, name: str, value: object) -> None:
        """Create or update ``name`` in the innermost scope."""
        self._scope(self.scope_ids()[0])[name] = value

    def get_local(self, name: str, default: object = None) -> object:
        """The value of ``name`` in the innermost scope only."""
        return self._ctx.state.variables.get(self.scope_ids()[0], {}).get(name, default)

    def remove(self, name: str) -> None:
        """Remove ``name`` from the innermost scope that has it."""
        for scope_id in self.scope_ids():
            values = self._ctx.state.variables.get(scope_id)
            if values is not None and name in values:
                del values[name]
                return
        raise KeyError(name)

    def snapshot(self) -> dict[str, object]:
        """All visible variables, inner scopes hiding outer ones."""
        merged: dict[str, object] = {}
        for scope_id in reversed(self.scope_ids()):
            merged.update(self._ctx.state.variables.get(scope_id, {}))
        return merged


class VariableMap(MutableMapping[str, object]):
    """``execution.variables``: a mapping view that reads and writes through the scopes."""

    __slots__ = ("_scope",)

    def __init__(self, scope: VariableScope) -> None:
        self._scope = scope

    def __getitem__(self, name: str) -> object:
        value = self._scope.lookup(name)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: object) -> None:
        self._scope.set(name, value)

    def __delitem__(self, name: str) -> None:
        self._scope.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._scope.snapshot())

    def __len__(self) -> int:
        return len(self._scope.snapshot())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._scope.has(name)

    def __repr__(self) -> str:
        return f"VariableMap({self._scope.snapshot()!r})"


def set_variables(scope: VariableScope, values: Mapping[str, object] | None) -> None:
    """Set every variable in ``values`` with ``set`` semantics."""
    for name, value in (values or {}).items():
        scope.set(name, value)
