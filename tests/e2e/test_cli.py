"""The ``safepoint`` command line against the real deployer, engine and job-executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bpmn_doc import definitions, element, flow, process, retry_time_cycle

FAILING = definitions(
    process(
        "cli",
        element("startEvent", "start"),
        flow("start", "work"),
        element(
            "serviceTask",
            "work",
            camunda__asyncBefore="true",
            camunda__class="fail",
            extensions=retry_time_cycle("R1/PT1S"),
        ),
        flow("work", "end"),
        element("endEvent", "end"),
    )
)


def safepoint(engine: Any, deployer: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line as a person would, against the two services."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "safepoint.cli",
            "--url",
            engine.url,
            "--deployer-url",
            deployer.url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_deploy_start_list_and_retry_from_a_terminal(
    start_service: Any, start_executor: Any, tmp_path: Path, wait_until: Any
) -> None:
    engine = start_service("safepoint_engine", name="engine")
    deployer = start_service("safepoint_deployer", name="deployer")
    start_executor(name="executor")
    # uvloop by default (SAFEPOINT_EVENT_LOOP=auto), and each service says so
    assert "on the uvloop event loop" in engine.output()
    assert "on the uvloop event loop" in deployer.output()
    bpmn = tmp_path / "cli.bpmn"
    bpmn.write_bytes(FAILING)

    deployed = safepoint(engine, deployer, "deploy", str(bpmn))
    assert deployed.returncode == 0, deployed.stderr
    assert "cli version 1" in deployed.stdout

    started = safepoint(
        engine, deployer, "start", "cli", "--var", "amount=250", "--business-key", "ORDER-9"
    )
    assert started.returncode == 0, started.stderr
    instance_id = started.stdout.split()[2]

    listed = safepoint(engine, deployer, "instances", "--key", "cli")
    assert instance_id in listed.stdout

    def incident_open() -> bool:
        return instance_id in safepoint(engine, deployer, "incidents").stdout

    wait_until(incident_open, timeout=30)
    first_incident = next(
        line.split()[0]
        for line in safepoint(engine, deployer, "incidents").stdout.splitlines()
        if instance_id in line
    )
    jobs = safepoint(engine, deployer, "jobs", "--instance", instance_id, "--failed")
    job_id = jobs.stdout.splitlines()[1].split()[0]
    retried = safepoint(engine, deployer, "retry", job_id)
    assert retried.returncode == 0, retried.stderr
    assert f"job {job_id}: retries set to 1" in retried.stdout
    # the retry resolved that incident; the job runs again (and, still failing, opens another)
    assert first_incident not in safepoint(engine, deployer, "incidents").stdout


def test_a_clear_error_when_nothing_listens(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "safepoint.cli", "--url", "http://127.0.0.1:9", "jobs"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bpmn_file_with_problems_lists_each_with_its_line(
    start_service: Any, tmp_path: Path
) -> None:
    engine = start_service("safepoint_engine", name="engine")
    deployer = start_service("safepoint_deployer", name="deployer")
    broken = tmp_path / "broken.bpmn"
    broken.write_bytes(
        definitions(process("broken", element("userTask", "orphan"), flow("orphan", "nowhere")))
    )
    result = safepoint(engine, deployer, "deploy", str(broken))
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr
    assert "broken.bpmn:" in result.stderr  # resource:line of each problem
