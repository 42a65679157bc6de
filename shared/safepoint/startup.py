"""A service's start: what stops it is said in one line on stderr, and the exit code is 2.

Every service's ``__main__`` reads its settings and picks its event loop through these,
so that a bad variable or a missing uvloop reads the same in all three (no traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Final, NoReturn, TypeVar

from pydantic import ValidationError

from safepoint import eventloop
from safepoint.settings import EventLoop

S = TypeVar("S")

EXIT_CANNOT_START: Final = 2
"""The exit code of a service that could not start."""


def one_line(text: str) -> str:
    """``text`` with its whitespace (newlines too) folded into single spaces."""
    return " ".join(text.split())


def cannot_start(program: str, reason: str) -> NoReturn:
    """Say on stderr, in one line, why ``program`` cannot start; exit with code 2."""
    sys.stderr.write(f"{program}: {one_line(reason)}\n")
    raise SystemExit(EXIT_CANNOT_START)


def read_settings(program: str, settings: Callable[[], S]) -> S:
    """The settings ``settings`` reads from the environment; invalid ones stop the start."""
    try:
        return settings()
    except ValidationError as exc:
        cannot_start(program, f"invalid settings: {exc}")


def event_loop(program: str, choice: EventLoop) -> eventloop.LoopFactory:
    """The factory of the loop ``choice`` names; uvloop asked for and missing stops the start."""
    try:
        return eventloop.loop_factory(choice)
    except RuntimeError as exc:
        cannot_start(program, str(exc))
