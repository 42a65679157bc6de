"""Start-up failures: one line saying what is wrong and what to do, exit code 2."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from safepoint.messaging import Topology
from safepoint_job_executor.__main__ import EXIT_CANNOT_START, Stopped, main, run
from safepoint_job_executor.settings import JobExecutorSettings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings(amqp_url: str, **groups: Any) -> JobExecutorSettings:
    return JobExecutorSettings.model_validate(
        {
            "amqp": {"url": amqp_url},
            "http": {"port": closed_port()},
            "delegates": {"use_entry_points": False},
            **groups,
        }
    )


def test_invalid_settings_are_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFEPOINT_EXECUTOR_CONCURRENCY", "0")

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == EXIT_CANNOT_START
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safepoint-job-executor: invalid settings:")
    assert "concurrency" in line


@pytest.mark.anyio
async def test_an_unreachable_database_stops_the_start_with_a_hint(
    amqp_url: str,
    topology: Topology,
    connection: AbstractRobustConnection,  # deletes the test's topology afterwards
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql+psycopg://safepoint:s3cret@127.0.0.1:{closed_port()}/safepoint"

    stopped = await run(settings(amqp_url, database={"url": url}), topology=topology)

    assert stopped == Stopped(EXIT_CANNOT_START)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safepoint-job-executor: cannot open the database")
    assert "SAFEPOINT_DATABASE_URL" in line
    assert "s3cret" not in line


@pytest.mark.anyio
async def test_a_missing_delegates_module_stops_the_start_with_a_hint(
    amqp_url: str,
    topology: Topology,
    connection: AbstractRobustConnection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chosen = settings(
        amqp_url, delegates={"module": "no_such_delegates", "use_entry_points": False}
    )

    stopped = await run(chosen, topology=topology)

    assert stopped == Stopped(EXIT_CANNOT_START)
    (line,) = capsys.readouterr().err.splitlines()
    assert "no_such_delegates" in line
    assert "SAFEPOINT_DELEGATES_MODULE" in line
