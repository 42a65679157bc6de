"""The invoice example through the three services: deployed over HTTP, hundreds of instances.

The deployer, the engine and job-executors start as local processes (see
:mod:`safepoint.devstack`); the example is deployed over HTTP, a few hundred orders are
started, a person approves the large ones, jobs flow through RabbitMQ while a progress
bar runs, and a summary follows: completed instances, incidents, the dead-letter
queue's depth, throughput, and where to look.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from safepoint.devstack import Stack, default_services, local_env, preflight
from safepoint.messaging.connection import redact

REST = "/engine-rest"
EXAMPLE = "invoice.bpmn"


def say(line: str = "") -> None:
    """Write one line for the person watching."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def orders(count: int, *, broken: int, failure_rate: float, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` start requests: amounts, some above 1000 (approval), ``broken`` mail-less."""
    dice = random.Random(seed)
    requests = []
    for n in range(1, count + 1):
        variables: dict[str, Any] = {
            "amount": {"value": dice.choice([90, 250, 600, 980, 1500, 2400]), "type": "Integer"},
            "mailFailureRate": {"value": failure_rate, "type": "Double"},
        }
        if n <= broken:
            variables["mailServerDown"] = {"value": True, "type": "Boolean"}
        requests.append({"businessKey": f"ORDER-{n:04d}", "variables": variables})
    return requests


def dead_letter_depth(amqp_url: str, queue: str = "safepoint.jobs.dlq") -> int:
    """How many exhausted job messages wait in the dead-letter queue."""

    async def count() -> int:
        connection = await aio_pika.connect(amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)
        finally:
            await connection.close()

    try:
        return asyncio.run(count())
    except (aio_pika.exceptions.AMQPException, OSError):
        return -1


def run(
    *,
    instances: int = 300,
    executors: int = 2,
    broken: int = 3,
    failure_rate: float = 0.1,
    timeout: float = 180.0,
    base_port: int = 8080,
) -> int:
    """Run the demo; returns 0 when every instance completed or ended in its incident."""
    env = local_env()
    if "SAFEPOINT_DATABASE_URL" not in os.environ:  # a fresh SQLite file for each demo
        database = Path(".demo/safepoint.db")
        database.parent.mkdir(exist_ok=True)
        for stale in database.parent.glob("safepoint.db*"):
            stale.unlink()
        env["SAFEPOINT_DATABASE_URL"] = f"sqlite:///{database}"
    preflight(env)
    log_dir = Path(".demo/logs")
    stack = Stack(env, services=default_services(executors, base_port), log_dir=log_dir, echo=False)
    depth_before = dead_letter_depth(env["SAFEPOINT_AMQP_URL"])
    say(f"Safepoint demo: the invoice example through the services ({instances} orders)")
    say(f"  database {env['SAFEPOINT_DATABASE_URL']}, broker {redact(env['SAFEPOINT_AMQP_URL'])}")
    say(f"starting the engine, the deployer and {executors} job-executors (logs in {log_dir}/)")
    with stack.running(), httpx.Client(timeout=30) as http:
        engine, deployer = stack.url("engine") + REST, stack.url("deployer") + REST
        xml = resources.files("safepoint.examples").joinpath(EXAMPLE).read_bytes()
        deployment = _ok(
            http.post(
                f"{deployer}/deployment/create",
                data={"deployment-name": "invoice demo", "enable-duplicate-filtering": "true"},
                files={EXAMPLE: (EXAMPLE, xml, "application/octet-stream")},
            )
        ).json()
        say(f"deployed {EXAMPLE} over HTTP: deployment {deployment['id']}")
        started_at = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            ids = list(
                pool.map(
                    lambda body: _ok(
                        http.post(f"{engine}/process-definition/key/invoice/start", json=body)
                    ).json()["id"],
                    orders(instances, broken=broken, failure_rate=failure_rate),
                )
            )
        say(f"started {len(ids)} instances in {time.monotonic() - started_at:.1f} s")
        finished, incidents = _follow(http, engine, set(ids), timeout)
        elapsed = time.monotonic() - started_at
        depth = dead_letter_depth(env["SAFEPOINT_AMQP_URL"])
    new_dead_letters = depth - max(depth_before, 0) if depth >= 0 else -1
    return _summary(ids, finished, incidents, new_dead_letters, depth, elapsed, executors)


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response


def _follow(
    http: httpx.Client, engine: str, ids: set[str], timeout: float
) -> tuple[set[str], list[dict[str, Any]]]:
    """Approve large invoices as they come, show progress, until all are done or stuck."""
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + timeout
    last_line = 0.0
    approved = 0
    finished: set[str] = set()
    incidents: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        for task in _ok(http.get(f"{engine}/task")).json():
            http.post(f"{engine}/task/{task['id']}/complete", json={"variables": {}})
            approved += 1
        done = _ok(http.get(f"{engine}/history/process-instance", params={"finished": "true"}))
        finished = {p["id"] for p in done.json()} & ids
        incidents = [i for i in _ok(http.get(f"{engine}/incident")).json()]
        stuck = {i["processInstanceId"] for i in incidents}
        bar = _bar(len(finished), len(ids))
        line = (
            f"{bar} {len(finished)}/{len(ids)} completed, {approved} approved by a person, "
            f"{len(incidents)} incident(s)"
        )
        now = time.monotonic()
        if tty:
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        elif now - last_line >= 2:
            say(line)
            last_line = now
        if len(finished | stuck) >= len(ids):
            break
        time.sleep(0.3)
    if tty:
        sys.stdout.write("\n")
    return finished, incidents


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _summary(
    ids: list[str],
    finished: set[str],
    incidents: list[dict[str, Any]],
    new_dead_letters: int,
    depth: int,
    elapsed: float,
    executors: int,
) -> int:
    say()
    say("summary")
    say(
        f"  completed      {len(finished)} of {len(ids)} instances in {elapsed:.1f} s "
        f"({len(finished) / elapsed:.0f} instances/s with {executors} job-executors)"
    )
    say(f"  incidents      {len(incidents)}")
    for incident in incidents[:5]:
        say(
            f"    {incident['incidentType']} at {incident['activityId']}: "
            f"{incident.get('incidentMessage')} (job {incident.get('configuration')})"
        )
    if depth >= 0:
        say(f"  dead letters   {new_dead_letters} from this run ({depth} in safepoint.jobs.dlq)")
    else:
        say("  dead letters   unknown (safepoint.jobs.dlq could not be read)")
    say()
    say("look around: `make run` keeps the services up; then")
    say("  http://127.0.0.1:8080/docs                 the engine's API (OpenAPI)")
    say("  safepoint incidents                        the incidents, from a terminal")
    say("  safepoint retry <job id>                   retry a job once its cause is fixed")
    say("  http://127.0.0.1:15672 (guest/guest)       RabbitMQ management, if enabled")
    stuck = {i["processInstanceId"] for i in incidents}
    return 0 if len(finished | stuck) == len(ids) else 1
