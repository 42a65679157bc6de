"""Delegates the services run in e2e tests (``SAFEPOINT_DELEGATES_MODULE=e2e_delegates``).

They run in other processes than the test, so they report through files in the
directory ``SAFEPOINT_E2E_STATE_DIR``: every run of ``work`` appends ``start`` and
``end`` lines to ``runs/<process instance id>``, which tells the test how often a
delegate really ran (history shows only committed runs). Appends of one short line
are atomic, so several processes may write to one file.

- ``work``: records the run; sleeps in between for the process variable
  ``sleep_<activity id>``, else ``sleep`` (seconds; none by default).
- ``fail``: raises ``RuntimeError("card declined for <business key>")`` until the file
  ``heal`` exists in the state directory.
- ``flaky``: records each attempt's time in ``attempts/<process instance id>``, and
  fails while the file ``broken`` exists in the state directory.
- ``fails_once``: fails the first run of each activity of each instance.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

STATE_DIR_ENV = "SAFEPOINT_E2E_STATE_DIR"


def state_dir() -> Path:
    """The directory the test shares with the delegates."""
    return Path(os.environ[STATE_DIR_ENV])


def run_log(state: Path, process_instance_id: str) -> Path:
    """The file ``work`` appends its runs of one process instance to."""
    return state / "runs" / process_instance_id


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(descriptor, f"{line}\n".encode())
    finally:
        os.close(descriptor)


def work(execution: Any) -> None:
    """Record the run (``<activity> <pid> start`` ... ``end``), maybe sleeping in between."""
    log = run_log(state_dir(), execution.process_instance_id)
    _append(log, f"{execution.activity_id} {os.getpid()} start")
    seconds = execution.get_variable(
        f"sleep_{execution.activity_id}", execution.get_variable("sleep", 0)
    )
    if isinstance(seconds, int | float) and seconds > 0:
        time.sleep(seconds)
    _append(log, f"{execution.activity_id} {os.getpid()} end")


def fail(execution: Any) -> None:
    """Fail until the test creates the file ``heal``."""
    if not (state_dir() / "heal").exists():
        raise RuntimeError(f"card declined for {execution.business_key}")


DELEGATES = {"work": work, "fail": fail}


# --- added for the invariant tests (test_invariants_*.py); nothing above is changed ---


def flaky(execution: Any) -> None:
    """Record the attempt (``<unix time> <pid>`` in ``attempts/<process instance id>``).

    Then fail with ``RuntimeError("payment service down for <business key>")`` while the
    file ``broken`` exists in the state directory.
    """
    _append(
        state_dir() / "attempts" / execution.process_instance_id,
        f"{time.time():.6f} {os.getpid()}",
    )
    if (state_dir() / "broken").exists():
        raise RuntimeError(f"payment service down for {execution.business_key}")


def fails_once(execution: Any) -> None:
    """Fail the first run of each activity of each process instance; succeed afterwards."""
    name = f"{execution.process_instance_id}.{execution.activity_id}"
    marker = state_dir() / "failed-once" / name
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return
    raise RuntimeError(f"first run of {execution.activity_id} fails")


DELEGATES.update(flaky=flaky, fails_once=fails_once)
