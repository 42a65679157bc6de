"""The cache of parsed process models: bounded, the definitions used last kept."""

from __future__ import annotations

from typing import Any

import pytest
from bpmn_doc import chain, definitions, element, process

from safepoint import Engine
from safepoint.embedded import repository


def _model(key: str) -> bytes:
    return definitions(
        process(
            key,
            element("startEvent", "start"),
            element("userTask", "work"),
            element("endEvent", "end"),
            *chain("start", "work", "end"),
        )
    )


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resource names the cache parsed, in order."""
    parsed: list[str] = []
    parse = repository.parse_definitions

    def counting(xml: bytes, *, resource_name: str) -> Any:
        parsed.append(resource_name)
        return parse(xml, resource_name=resource_name)

    monkeypatch.setattr(repository, "parse_definitions", counting)
    return parsed


def test_the_definitions_used_last_stay_parsed(database_url: str, parses: list[str]) -> None:
    with Engine(database_url, definition_cache_size=2) as engine:
        for key in ("a", "b", "c"):
            engine.deploy(key, {f"{key}.bpmn": _model(key)})
        parses.clear()  # deploying parses too, without the cache

        for key in ("a", "b", "a", "c", "a", "b"):
            instance = engine.start_process_instance_by_key(key)
            assert engine.active_activity_ids(instance.id) == ["work"]

    # c evicted b (used before a), then b evicted c: a, used most, was parsed once.
    assert parses == ["a.bpmn", "b.bpmn", "c.bpmn", "b.bpmn"]


def test_the_cache_holds_at_least_one_definition() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        repository.DefinitionCache(0)
