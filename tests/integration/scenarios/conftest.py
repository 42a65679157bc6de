"""The scenarios' job runs read the executions of their job's path only, as on a wide instance.

A job's run reads every execution of an instance with at most
``instances.WHOLE_UP_TO`` of them, which all of these scenarios' instances are: without
this, their jobs would never take the way a wide fork's jobs take (read the path,
count a join's tokens, read the rest when needed). The whole reads are what every
other test (and the engine's commands) run.
"""

from __future__ import annotations

import pytest

from safepoint.persistence import instances


@pytest.fixture(autouse=True)
def _job_runs_read_their_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instances, "WHOLE_UP_TO", 0)
