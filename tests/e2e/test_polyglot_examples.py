"""The examples of deploy/examples/ run for real: Node.js and the shell talk to the services.

The deployer, the engine and a job-executor run as processes on the test's own database
and RabbitMQ vhost; ``deploy/examples/greeting.bpmn`` is deployed with the ``safepoint``
command line. The Node.js worker is installed with ``npm ci`` (its lockfile pins
``amqplib``) into a temporary copy; under ``CI=true`` a missing ``node``, ``npm``,
``curl`` or ``jq`` fails the test instead of skipping it.

The shell example needs RabbitMQ's management API: when it does not answer and
``rabbitmq-plugins`` is on the PATH (the broker is local), the test enables the
``rabbitmq_management`` plugin, which stays enabled.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlsplit

import pytest

from safepoint import Engine

REPO_DIR = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_DIR / "deploy" / "examples"
GREETING_BPMN = EXAMPLES / "greeting.bpmn"
NODE_EXAMPLE = EXAMPLES / "node"
SHELL_EXAMPLE = EXAMPLES / "shell" / "start.sh"
REST = "/engine-rest"

NODE_MAJOR = 18
"""The oldest Node.js the example supports (``engines`` in its package.json)."""
MANAGEMENT_PORT = 15672

pytestmark = pytest.mark.timeout(300)


def unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure, not a skip)")
    pytest.skip(reason)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"the polyglot examples need {name} on PATH")
    return path


def client_env(**extra: str) -> dict[str, str]:
    """The caller's environment without Safepoint's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEPOINT_", "OTEL_"))}
    env.update(extra)
    return env


def http_json(method: str, url: str, *, timeout: float = 10.0) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# --------------------------------------------------------------------------------------
# The Node.js example, installed once per module
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/examples/node/ with its locked dependencies installed."""
    node, npm = tool("node"), tool("npm")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MAJOR:
        unavailable(f"the Node.js example needs Node.js {NODE_MAJOR} or newer, not {version}")
    target = tmp_path_factory.mktemp("node-example") / "node"
    shutil.copytree(NODE_EXAMPLE, target, ignore=shutil.ignore_patterns("node_modules"))
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if result.returncode != 0:
        unavailable(f"npm ci failed ({result.returncode}): {result.stderr.strip()[-1500:]}")
    assert (target / "node_modules" / "amqplib").is_dir()
    return target


# --------------------------------------------------------------------------------------
# The services, with greeting.bpmn deployed
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    engine: Any
    deployer: Any
    executor: Any
    amqp_url: str
    database_url: str

    def rest(self, path: str) -> tuple[int, Any]:
        return http_json("GET", f"{self.engine.url}{REST}{path}")

    def state(self, process_instance_id: str) -> str | None:
        status, body = self.rest(f"/history/process-instance/{process_instance_id}")
        return str(body["state"]) if status == 200 else None

    def variables(self, process_instance_id: str) -> dict[str, object]:
        """The instance's variables, read from the database (also once it has ended)."""
        with Engine(self.database_url, migrate=False) as engine:
            return engine.variables(process_instance_id)


@pytest.fixture
def stack(
    rabbitmq_vhost: Any,
    database_url: str,
    start_service: Any,
    start_executor: Any,
) -> Stack:
    """Deployer, engine and a job-executor; greeting.bpmn deployed with the command line.

    The vhost and the database come first, so that they are torn down after the services.
    """
    deployer = start_service("safepoint_deployer", name="deployer")
    engine = start_service("safepoint_engine", name="engine")
    executor = start_executor(name="executor")
    deployed = subprocess.run(
        [
            sys.executable,
            "-m",
            "safepoint.cli",
            "--url",
            engine.url,
            "--deployer-url",
            deployer.url,
            "deploy",
            str(GREETING_BPMN),
        ],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "greeting version 1" in deployed.stdout
    return Stack(engine, deployer, executor, rabbitmq_vhost.url, database_url)


def test_the_node_worker_starts_an_instance_and_completes_its_external_task(
    node_example: Path, stack: Stack
) -> None:
    result = subprocess.run(
        [tool("node"), "worker.mjs", "Ada"],
        cwd=node_example,
        env=client_env(SAFEPOINT_AMQP_URL=stack.amqp_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    found = re.search(r"started process instance (\S+):", result.stdout)
    assert found is not None, output
    instance = found.group(1)

    assert stack.state(instance) == "COMPLETED", output
    assert stack.variables(instance) == {"name": "Ada", "greeting": "Hello, Ada!"}
    status, history = stack.rest(f"/history/activity-instance?processInstanceId={instance}")
    assert status == 200
    assert [entry["activityId"] for entry in history] == ["start", "greet", "end"]
    # The greet task's asyncBefore: the job-executor created the external task.
    assert stack.executor.metrics()["safepoint_jobs_executed_total"] == 1
    assert re.search(r"^task \S+ done$", result.stdout, re.MULTILINE), output


# --------------------------------------------------------------------------------------
# The shell example, over the management API
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagementApi:
    url: str
    user: str
    password: str

    def get(self, path: str) -> Any:
        """``GET`` an API path (e.g. ``/overview``); its JSON."""
        request = urllib.request.Request(self.url + path)
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())


def _answers(api: ManagementApi) -> bool:
    try:
        api.get("/overview")
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


@pytest.fixture
def management_api(amqp_url: str) -> ManagementApi:
    """RabbitMQ's management API next to the test broker, enabled if need be."""
    parts = urlsplit(amqp_url)
    api = ManagementApi(
        f"http://{parts.hostname or '127.0.0.1'}:{MANAGEMENT_PORT}/api",
        unquote(parts.username or "guest"),
        unquote(parts.password or "guest"),
    )
    if _answers(api):
        return api
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        unavailable(f"RabbitMQ's management API does not answer at {api.url}")
    enabled = subprocess.run(
        [plugins, "enable", "rabbitmq_management"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if enabled.returncode != 0:
        unavailable(f"rabbitmq-plugins enable rabbitmq_management failed: {enabled.stderr}")
    deadline = time.monotonic() + 60
    while not _answers(api):
        if time.monotonic() > deadline:
            unavailable(f"RabbitMQ's management API did not answer at {api.url} once enabled")
        time.sleep(0.5)
    return api


def test_the_shell_example_starts_an_instance_that_a_node_worker_completes(
    stack: Stack,
    management_api: ManagementApi,
    rabbitmq_vhost: Any,
    node_example: Path,
    wait_until: Any,
) -> None:
    for name in ("bash", "curl", "jq", "od"):
        tool(name)
    result = subprocess.run(
        ["bash", str(SHELL_EXAMPLE), "greeting", "Grace"],
        env=client_env(
            RABBITMQ_API=management_api.url,
            RABBITMQ_USER=management_api.user,
            RABBITMQ_PASSWORD=management_api.password,
            RABBITMQ_VHOST=rabbitmq_vhost.name,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reply = json.loads(result.stdout)
    assert reply["ok"] is True and reply["error"] is None
    instance = reply["result"]["processInstanceId"]
    assert reply["result"]["processDefinitionKey"] == "greeting"
    assert reply["result"]["ended"] is False

    # The instance waits for a worker of "greet" (a job-executor created the task).
    tasks = wait_until(
        lambda: stack.rest(f"/external-task?processInstanceId={instance}")[1],
        timeout=30,
        what="the external task of the started instance",
    )
    assert [task["topicName"] for task in tasks] == ["greet"]
    assert stack.variables(instance) == {"name": "Grace"}
    # The script deleted its reply queue on the way out.
    vhost = quote(rabbitmq_vhost.name, safe="")
    queues = [queue["name"] for queue in management_api.get(f"/queues/{vhost}")]
    assert not [name for name in queues if name.startswith("start.sh.reply.")], queues

    worker = _serve_until_completed(node_example, stack, instance, wait_until)
    assert stack.variables(instance) == {"name": "Grace", "greeting": "Hello, Grace!"}
    assert worker == 0


def _serve_until_completed(node_example: Path, stack: Stack, instance: str, wait_until: Any) -> int:
    """Run ``node worker.mjs --serve`` until ``instance`` completed; its exit code."""
    process = subprocess.Popen(
        [tool("node"), "worker.mjs", "--serve"],
        cwd=node_example,
        env=client_env(SAFEPOINT_AMQP_URL=stack.amqp_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: stack.state(instance) == "COMPLETED",
            timeout=60,
            what=f"{instance} completed by the serving worker",
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert f"of {instance}: completing with" in output, output
    return process.returncode
