"""Every error the engine's HTTP API answers is Camunda's JSON ``{type, message}``, and says
what to fix; values the database cannot keep are refused before anything is committed."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safepoint import Engine
from safepoint.settings import DatabaseSettings
from safepoint_engine.app import create_app
from safepoint_engine.service import EngineService
from safepoint_engine.settings import Settings

REST = "/engine-rest"
INVOICE = resources.files("safepoint.examples").joinpath("invoice.bpmn").read_bytes()
START = f"{REST}/process-definition/key/invoice/start"


def error(response: Any, status: int) -> str:
    """The message of a JSON error answer with ``status`` (checked to be Camunda's form)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"type", "message"}, body
    return str(body["message"])


def instances(client: TestClient) -> list[Any]:
    return list(client.get(f"{REST}/process-instance").json())


def test_an_unknown_route_and_a_wrong_method_are_json_errors(client: TestClient) -> None:
    unknown = client.get(f"{REST}/nothing")
    assert error(unknown, 404) == "there is no resource at /engine-rest/nothing"
    wrong = client.patch(f"{REST}/job")
    assert error(wrong, 405) == "PATCH is not allowed on /engine-rest/job"
    assert "GET" in wrong.headers["allow"]


@pytest.mark.parametrize(
    ("body", "headers", "says"),
    [
        (b'{"businessKey":', {"content-type": "application/json"}, "the body is not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, "the body must be a JSON object"),
        (b"\xff", {"content-type": "application/json"}, "the body cannot be read: send JSON"),
    ],
    ids=["truncated", "array", "not-utf-8"],
)
def test_a_body_that_is_not_a_json_object_is_told_so(
    client: TestClient, deploy: Callable[..., str], body: bytes, headers: dict[str, str], says: str
) -> None:
    deploy()
    assert error(client.post(START, content=body, headers=headers), 400).startswith(says)


def test_a_missing_body_and_a_bad_query_parameter_name_what_is_missing(
    client: TestClient,
) -> None:
    said = error(client.put(f"{REST}/job/some-job/retries"), 400)
    assert said == "a JSON body is required (Content-Type: application/json)"
    said = error(client.get(f"{REST}/process-instance", params={"firstResult": -1}), 400)
    assert said.startswith("query parameter firstResult: ")


def test_retries_beyond_an_integer_are_refused(client: TestClient) -> None:
    said = error(client.put(f"{REST}/job/some-job/retries", json={"retries": 2**31}), 400)
    assert said == "retries: Input should be less than or equal to 2147483647"


@pytest.mark.parametrize(
    "variables",
    [
        {"amount": {"value": 10, "type": "Integer"}, "x": {"value": "NaN", "type": "Json"}},
        {"amount": {"value": 10, "type": "Integer"}, "x": {"value": "Infinity", "type": "Json"}},
        {
            "amount": {"value": 10, "type": "Integer"},
            "x": {"value": "9999-12-31T23:59:59.000-1400", "type": "Date"},
        },
    ],
    ids=["nan", "infinity", "date-beyond-9999-in-utc"],
)
def test_values_json_or_a_date_cannot_carry_are_refused_and_nothing_starts(
    client: TestClient, deploy: Callable[..., str], variables: dict[str, Any]
) -> None:
    deploy()

    said = error(client.post(START, json={"variables": variables}), 400)

    assert said.startswith("variables.x: ")
    assert instances(client) == []


@pytest.mark.parametrize("text", ["x\u0000y", "\ud800"], ids=["nul", "lone-surrogate"])
def test_a_text_the_database_cannot_keep_is_refused_without_echoing_data(
    client: TestClient, deploy: Callable[..., str], database_url: str, text: str
) -> None:
    deploy()
    body = {"businessKey": text, "variables": {"amount": {"value": 10, "type": "Integer"}}}

    response = client.post(  # the escape \ud800 in the JSON text, as any client sends it
        START, content=json.dumps(body), headers={"content-type": "application/json"}
    )

    if database_url.startswith("sqlite") and "\u0000" in text:
        assert response.status_code == 200  # SQLite keeps a NUL in a text
        return
    said = error(response, 400)
    assert said.startswith("a text value holds ")
    assert "invoice" not in said  # no statement data (PostgreSQL's CONTEXT) in the answer
    assert instances(client) == []


def test_a_bug_is_a_json_500_naming_the_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(EngineService, "process_instances", broken)
    unsafe = TestClient(client.app, raise_server_exceptions=False)

    said = error(unsafe.get(f"{REST}/process-instance"), 500)

    assert said == (
        "GET /engine-rest/process-instance failed unexpectedly (RuntimeError); "
        "see the service's log"
    )


def test_the_openapi_document_lists_the_400_it_answers_not_fastapis_422(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    start = schema["paths"][f"{REST}/process-definition/key/{{key}}/start"]["post"]
    assert {"400", "404", "409", "500", "501"} <= set(start["responses"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    # A route answering plain text still answers its errors in JSON, and says so.
    stacktrace = schema["paths"][f"{REST}/job/{{job_id}}/stacktrace"]["get"]["responses"]
    assert set(stacktrace["200"]["content"]) == {"text/plain"}
    for status in ("400", "404", "500"):
        assert set(stacktrace[status]["content"]) == {"application/json"}, status


def test_a_body_over_the_limit_is_413_declared_or_streamed(
    database_url: str, invoicing: Any
) -> None:
    settings = Settings(database=DatabaseSettings(url=database_url), http={"max_body_bytes": 4096})
    with Engine(database_url) as engine:
        engine.deploy("invoicing", {"invoice.bpmn": INVOICE})
    big = json.dumps({"businessKey": "x" * 5000}).encode()
    with TestClient(create_app(settings, delegates=invoicing.registry(), messaging=False)) as small:
        declared = small.post(START, content=big, headers={"content-type": "application/json"})
        streamed = small.post(  # chunked: no Content-Length, counted as it is read
            START,
            content=iter([big[:3000], big[3000:]]),
            headers={"content-type": "application/json"},
        )
        fits = small.post(START, json={"variables": {"amount": {"value": 5, "type": "Integer"}}})

    for response in (declared, streamed):
        said = error(response, 413)
        assert said == (
            "the request body is larger than 4096 bytes (SAFEPOINT_HTTP_MAX_BODY_BYTES)"
        )
    assert fits.status_code == 200, fits.text
