"""The engine's and the deployer's start: what cannot start says so in one line, exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from safepoint_deployer.__main__ import main as deployer_main
from safepoint_engine.__main__ import main as engine_main

MAINS = [("safepoint-engine", engine_main), ("safepoint-deployer", deployer_main)]


@pytest.mark.parametrize(("program", "main"), MAINS, ids=[name for name, _ in MAINS])
def test_invalid_settings_are_reported_in_one_line(
    program: str,
    main: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAFEPOINT_EVENT_LOOP", "libuv")

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{program}: invalid settings:")
    assert "event_loop" in line and "'auto', 'asyncio' or 'uvloop'" in line


@pytest.mark.parametrize(("program", "main"), MAINS, ids=[name for name, _ in MAINS])
def test_asking_for_uvloop_where_it_is_missing_stops_the_start(
    program: str,
    main: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAFEPOINT_EVENT_LOOP", "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what a platform without it sees

    with pytest.raises(SystemExit) as exit_info:
        main()

    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"{program}: SAFEPOINT_EVENT_LOOP=uvloop but uvloop is not installed "
        "(it does not build on Windows); use auto or asyncio"
    )
