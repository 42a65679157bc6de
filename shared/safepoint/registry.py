"""The delegate registry of a service: names → delegates, from entry points and a module.

BPMN files refer to delegates by name only (``camunda:class="generateInvoice"``,
``camunda:delegateExpression="${generateInvoice}"``); the names are resolved in the
registry this module builds, never by importing what the BPMN file says. Two sources:

* the Python entry point group ``safepoint.delegates`` of the installed distributions,
  each entry point's name being the delegate's name::

      [project.entry-points."safepoint.delegates"]
      generateInvoice = "invoicing.delegates:generate_invoice"

* a module named by the operator (``SAFEPOINT_DELEGATES_MODULE=invoicing.delegates``)
  exposing a ``DELEGATES`` mapping of names to delegates.

A name found twice is an error: which delegate runs must never depend on load order.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib import metadata

from safepoint.errors import SafepointError
from safepoint.settings import DELEGATES_ENTRY_POINT_GROUP, DelegatesSettings

MODULE_ATTRIBUTE = "DELEGATES"
"""The name of the mapping a delegates module exposes."""


class DelegateRegistryError(SafepointError):
    """The delegate registry cannot be built: a module, entry point or name is wrong."""


def load_delegates(settings: DelegatesSettings | None = None) -> dict[str, object]:
    """Build the delegate registry described by ``settings``.

    Returns:
        Delegate names → delegates (callables taking an execution, or objects with
        ``execute``/``notify``), as ``safepoint.Engine(delegates=...)`` takes them.

    Raises:
        DelegateRegistryError: a module or entry point cannot be loaded, the module has
            no ``DELEGATES`` mapping, or a name is registered twice.
    """
    settings = settings or DelegatesSettings()
    registry: dict[str, object] = {}
    sources: dict[str, str] = {}
    if settings.use_entry_points:
        for name, delegate, source in _from_entry_points(settings.entry_point_group):
            _register(registry, sources, name, delegate, source)
    if settings.module is not None:
        for name, delegate in _from_module(settings.module).items():
            _register(registry, sources, name, delegate, f"module {settings.module}")
    return registry


def _register(
    registry: dict[str, object], sources: dict[str, str], name: str, delegate: object, source: str
) -> None:
    if name in registry:
        raise DelegateRegistryError(
            f"delegate {name!r} is registered twice: by {sources[name]} and by {source}"
        )
    registry[name] = delegate
    sources[name] = source


def _from_entry_points(group: str = DELEGATES_ENTRY_POINT_GROUP) -> list[tuple[str, object, str]]:
    """``(name, delegate, source)`` for every entry point of ``group``."""
    found: list[tuple[str, object, str]] = []
    for entry_point in metadata.entry_points(group=group):
        source = f"entry point {entry_point.name} = {entry_point.value}"
        try:
            delegate = entry_point.load()
        except Exception as exc:  # whatever the import raises, the registry cannot be built
            raise DelegateRegistryError(f"{source} cannot be loaded: {exc!r}") from exc
        found.append((entry_point.name, delegate, source))
    return found


def _from_module(module_name: str) -> Mapping[str, object]:
    """The ``DELEGATES`` mapping of the module ``module_name``."""
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # whatever the import raises, the registry cannot be built
        raise DelegateRegistryError(
            f"delegates module {module_name!r} cannot be imported: {exc!r}"
        ) from exc
    delegates = getattr(module, MODULE_ATTRIBUTE, None)
    if not isinstance(delegates, Mapping):
        raise DelegateRegistryError(
            f"delegates module {module_name!r} must define {MODULE_ATTRIBUTE} as a mapping "
            f"of names to delegates, not {type(delegates).__name__}"
        )
    for name in delegates:
        if not isinstance(name, str) or not name:
            raise DelegateRegistryError(
                f"{module_name}.{MODULE_ATTRIBUTE} has a key that is not a name: {name!r}"
            )
    return delegates
