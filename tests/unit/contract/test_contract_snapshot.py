"""The committed JSON Schemas and AsyncAPI document are what the code generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from safepoint.contract import MESSAGE_TYPES
from safepoint.contract.channels import Topology
from safepoint.contract.export import DEFAULT_OUT, differences, main, render, write

CONTRACTS = Path(__file__).parents[3] / "shared" / "contracts"


def test_the_exporter_writes_to_shared_contracts() -> None:
    assert DEFAULT_OUT == CONTRACTS


def test_committed_contract_files_match_the_code() -> None:
    generated = render()

    on_disk = {
        str(path.relative_to(CONTRACTS)): path.read_text(encoding="utf-8")
        for path in sorted(CONTRACTS.rglob("*"))
        if path.is_file()
    }
    assert sorted(on_disk) == sorted(generated), "run `python -m safepoint.contract.export`"
    for name, text in generated.items():
        assert on_disk[name] == text, f"{name} is stale: run `python -m safepoint.contract.export`"


def test_rendering_is_byte_identical_every_time() -> None:
    assert render() == render()


def test_check_reports_drift_and_write_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = render()
    write(tmp_path, files)
    assert main(["--check", "--out", str(tmp_path)]) == 0

    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 2.0.0\n", encoding="utf-8")
    (tmp_path / "schemas" / "safepoint.job.execute.v1.json").unlink()
    (tmp_path / "schemas" / "safepoint.gone.v1.json").write_text("{}", encoding="utf-8")
    capsys.readouterr()

    assert main(["--check", "--out", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    assert "changed: asyncapi.yaml" in report
    assert "missing: schemas/safepoint.job.execute.v1.json" in report
    assert "stale: schemas/safepoint.gone.v1.json" in report

    assert main(["--out", str(tmp_path)]) == 0
    assert differences(tmp_path, files) == []
    assert not (tmp_path / "schemas" / "safepoint.gone.v1.json").exists()


def _asyncapi() -> dict[str, Any]:
    document = yaml.safe_load(render()["asyncapi.yaml"])
    assert isinstance(document, dict)
    return document


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], pointer: str) -> object:
    node: object = document
    for part in pointer.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, pointer
        node = node[part]
    return node


def test_asyncapi_references_resolve_and_payloads_are_the_schema_files() -> None:
    document = _asyncapi()
    files = render()

    assert document["asyncapi"] == "3.0.0"
    for ref in _refs(document):
        if ref.startswith("#/"):
            _resolve(document, ref)
        else:
            assert ref.removeprefix("./") in files, ref
    payloads = {
        m["name"]: m["payload"]["$ref"] for m in document["components"]["messages"].values()
    }
    assert payloads == {name: f"./schemas/{name}.json" for name in MESSAGE_TYPES}


def test_asyncapi_channels_are_the_topology() -> None:
    document = _asyncapi()
    topology = Topology()
    amqp = {name: channel["bindings"]["amqp"] for name, channel in document["channels"].items()}

    exchanges = {b["exchange"]["name"] for b in amqp.values() if b["is"] == "routingKey"}
    queues = {b["queue"]["name"] for b in amqp.values() if b["is"] == "queue"}
    assert exchanges == {
        e.name for e in topology.exchanges if e.name != topology.dead_letter_exchange
    } | {""}
    assert queues == {q.name for q in topology.queues} | {"safepoint.external.{topic}"}
    assert document["channels"]["jobsQueue"]["x-queue-arguments"] == topology.work_queue_arguments(
        topology.jobs_queue
    )
    assert document["servers"]["local"]["host"] == "localhost:5672"


def test_each_schema_file_describes_its_message() -> None:
    for name, text in render().items():
        if not name.startswith("schemas/"):
            continue
        schema = json.loads(text)
        type_name = name.removeprefix("schemas/").removesuffix(".json")
        assert schema["title"] == MESSAGE_TYPES[type_name].__name__
        assert schema["additionalProperties"] is False
        # Every required property is named as it travels (camelCase).
        assert all("_" not in prop for prop in schema.get("required", []))
