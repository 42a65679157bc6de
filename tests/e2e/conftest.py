"""The e2e harness: Safepoint's services as real processes, each test on services of its own.

The services use the fixed ``safepoint.*`` topology names, so every e2e test gets a
fresh RabbitMQ **virtual host** (``sp_<hex>``, made with ``rabbitmqctl`` and deleted
afterwards) and a fresh PostgreSQL **database**: no test sees another's messages, and
nothing left over from an earlier run. Under ``CI=true`` a missing broker, database or
``rabbitmqctl`` fails the test instead of skipping it.

Fixtures:

- ``database_url``: a new PostgreSQL database (here it overrides the root fixture, which
  also runs on SQLite: services in other processes need the real thing).
- ``rabbitmq_vhost``: a :class:`VirtualHost` (``name``, ``url``) of the test's own.
- ``state_dir``: a directory shared with the delegates (``SAFEPOINT_E2E_STATE_DIR``).
- ``base_env``: the environment every service starts with: the delegates module
  ``e2e_delegates`` (``tests/e2e`` is on ``PYTHONPATH``), the state directory,
  ``SAFEPOINT_LOG_LEVEL=INFO``; ``service_env`` adds the database and AMQP URLs.
- ``start_service(module, *, env=None, name=None, wait=True, ready_path="/health",
  isolated=True)``: starts ``python -m <module>`` with ``service_env`` (``base_env``
  when not ``isolated``) plus ``env`` and a free ``SAFEPOINT_HTTP_PORT``, waits for
  ``ready_path`` to answer 200 (unless ``wait`` is false) and returns its
  :class:`ServiceProcess`. Every service still running after the test is stopped
  (SIGTERM, then SIGKILL); a failed test shows each service's output.
- ``start_executor(env=None, *, name=None, wait=True)``: the same for
  ``safepoint_job_executor``, waiting for ``/ready``.
- ``broker``: a :class:`Broker` on the test's vhost with the topology declared: an
  :class:`~safepoint.messaging.outbox.OutboxRelay` (``broker.relay``), and
  synchronous helpers to publish jobs, take or count messages, duplicate every job
  message.
- ``engine``: an embedded :class:`~safepoint.Engine` on ``database_url`` whose commits
  are published through ``broker.relay``, with job leases: deploy, start instances and
  look at state and history from the test.
- ``dispatcher``: a :class:`JobDispatcher` (started) that stands in for the engine
  service's: it publishes due jobs nobody holds (retries, lost publishes).
- ``wait_until(predicate, *, timeout, what)``: polls until ``predicate()`` is truthy,
  returns its value, fails with ``what`` after ``timeout`` seconds.
- ``delegate_runs(process_instance_id)``: the runs of the ``work`` delegate as
  ``(activity_id, pid, "start" | "end")``.

:class:`ServiceProcess` methods: ``start(wait=True, timeout=..., ready_path=...)``,
``wait_ready(timeout, path)``, ``get(path)`` → :class:`HttpResponse`, ``metrics()``
(Prometheus samples by name), ``terminate(timeout)`` (SIGTERM, SIGKILL after the bound;
returns the exit code), ``kill()`` (``kill -9``), ``send_signal(signum)``,
``wait(timeout)``, ``output()``, and the properties ``pid``, ``port``, ``url``,
``returncode``, ``running``, ``log_path``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage

from safepoint import Engine, Job
from safepoint.messaging import Publisher, Topology, connect, declare_topology, open_channel
from safepoint.messaging.outbox import OutboxRelay

logger = logging.getLogger(__name__)

T = TypeVar("T")

E2E_DIR = Path(__file__).resolve().parent
REPO_DIR = E2E_DIR.parents[1]
SUPPORT_DIR = REPO_DIR / "tests" / "support"
DELEGATES_MODULE = "e2e_delegates"
STATE_DIR_ENV = "SAFEPOINT_E2E_STATE_DIR"

STARTUP_TIMEOUT = 30.0
"""Seconds a service may take to answer its health endpoint."""
STOP_TIMEOUT = 30.0
"""Seconds a service may take to exit after SIGTERM before it is killed."""
WAIT = 15.0
"""The longest any single broker step of the harness may take."""
LOG_TAIL_LINES = 150
"""How much of a service's output a failed test shows."""

SERVICES = pytest.StashKey[list["ServiceProcess"]]()


# --------------------------------------------------------------------------------------
# Real services as processes
# --------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class HttpResponse:
    """What a service answered."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class ServiceFailed(AssertionError):
    """A service did not start, stop or answer as expected; the message has its output."""


class ServiceProcess:
    """``python -m <module>`` as a real process, its output captured to ``log_path``.

    Args:
        module: the module to run (``safepoint_job_executor``).
        env: the whole environment of the process.
        port: its HTTP port (also put into ``SAFEPOINT_HTTP_PORT``).
        log_path: where stdout and stderr go (one file, interleaved).
        name: how the harness calls it in messages.
    """

    def __init__(
        self,
        module: str,
        *,
        env: Mapping[str, str],
        port: int,
        log_path: Path,
        name: str | None = None,
    ) -> None:
        self.module = module
        self.env = {**env, "SAFEPOINT_HTTP_PORT": str(port)}
        self.port = port
        self.log_path = log_path
        self.name = name or module
        self._process: subprocess.Popen[bytes] | None = None

    # -- life cycle --------------------------------------------------------------------

    def start(
        self, *, wait: bool = True, timeout: float = STARTUP_TIMEOUT, ready_path: str = "/health"
    ) -> ServiceProcess:
        """Start the process; with ``wait``, return once ``ready_path`` answers 200."""
        if self._process is not None:
            raise RuntimeError(f"{self.name} was started already")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_DIR,
                start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout=timeout, path=ready_path)
        return self

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or ``None`` while it runs (negative: killed by that signal)."""
        return self.process.poll()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, *, timeout: float = STARTUP_TIMEOUT, path: str = "/health") -> None:
        """Wait until ``GET path`` answers 200; fail at once if the process exits."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.running:
                self._fail(f"exited with code {self.returncode} before {path} answered")
            try:
                response = self.get(path, timeout=1.0)
            except OSError as exc:
                last = repr(exc)
            else:
                if response.status == 200:
                    return
                last = f"{response.status} {response.text[:200]}"
            time.sleep(0.1)
        self._fail(f"{path} did not answer 200 within {timeout} s (last: {last})")

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; return its exit code."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"did not exit within {timeout} s")

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the process (nothing if it has exited)."""
        if self.running:
            self.process.send_signal(signum)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; return the exit code.

        Raises:
            ServiceFailed: it had to be killed.
        """
        if not self.running:
            return self.process.wait()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._fail(f"ignored SIGTERM for {timeout} s and was killed")

    def kill(self) -> int:
        """``kill -9``: no clean-up at all; return the exit code (``-9``)."""
        if self.running:
            self.process.kill()
        return self.process.wait(STOP_TIMEOUT)

    # -- looking at it -----------------------------------------------------------------

    def get(self, path: str, *, timeout: float = 5.0) -> HttpResponse:
        """``GET path`` on the service (any status; ``OSError`` when nothing answers)."""
        request = urllib.request.Request(self.url + path, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return HttpResponse(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, error.read(), dict(error.headers or {}))

    def metrics(self) -> dict[str, float]:
        """The samples of ``/metrics``: ``name{labels}`` → value (comments left out)."""
        samples: dict[str, float] = {}
        for line in self.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def _fail(self, what: str) -> NoReturn:
        raise ServiceFailed(
            f"{self.name} (pid {self.pid}) {what}\n--- output ({self.log_path}) ---\n{self.tail()}"
        )

    def __repr__(self) -> str:
        state = "running" if self.running else f"exit {self.returncode}"
        return f"<ServiceProcess {self.name} {state} port {self.port}>"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed e2e test shows the output of every service it started."""
    report = yield
    if report.failed:
        for service in item.stash.get(SERVICES, []):
            header = f"{service.name} output (exit {service.returncode}, {service.log_path})"
            report.sections.append((header, service.tail()))
    return report


# --------------------------------------------------------------------------------------
# Isolation: a vhost and a database per test
# --------------------------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


@dataclass(frozen=True)
class VirtualHost:
    """A RabbitMQ virtual host of one test, and the AMQP URL that leads into it."""

    name: str
    url: str


def _rabbitmqctl(*args: str) -> None:
    command = shutil.which("rabbitmqctl")
    if command is None:
        _unavailable("e2e tests need rabbitmqctl (a vhost per test) and it is not on PATH")
    result = subprocess.run(
        [command, *args], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        _unavailable(
            f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[:500]}"
        )


def _with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


@pytest.fixture
def rabbitmq_vhost(amqp_url: str) -> Iterator[VirtualHost]:
    """A fresh RabbitMQ virtual host for this test (user of ``amqp_url`` has all rights)."""
    name = f"sp_{secrets.token_hex(6)}"
    user = urlsplit(amqp_url).username or "guest"
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield VirtualHost(name, _with_vhost(amqp_url, name))
    finally:
        _rabbitmqctl("delete_vhost", name)


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own, dropped afterwards."""
    server = sa.make_url(postgres_url)
    name = f"sp_{secrets.token_hex(8)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A directory the test shares with the delegates of its services."""
    path = tmp_path / "state"
    path.mkdir()
    return path


# --------------------------------------------------------------------------------------
# Starting services
# --------------------------------------------------------------------------------------


@pytest.fixture
def base_env(state_dir: Path) -> dict[str, str]:
    """The environment of every service, without a database or broker.

    Nothing ``SAFEPOINT_*``, ``OTEL_*`` or ``PYTHON*`` of the caller leaks in.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEPOINT_", "OTEL_", "PYTHON"))
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(E2E_DIR), str(SUPPORT_DIR)]),
            "PYTHONUNBUFFERED": "1",
            "SAFEPOINT_DELEGATES_MODULE": DELEGATES_MODULE,
            "SAFEPOINT_LOG_LEVEL": "INFO",
            "SAFEPOINT_HTTP_HOST": "127.0.0.1",
            STATE_DIR_ENV: str(state_dir),
        }
    )
    return env


@pytest.fixture
def service_env(
    base_env: dict[str, str], database_url: str, rabbitmq_vhost: VirtualHost
) -> dict[str, str]:
    """The environment services start with: ``base_env``, the test's database and vhost."""
    return {
        **base_env,
        "SAFEPOINT_DATABASE_URL": database_url,
        "SAFEPOINT_AMQP_URL": rabbitmq_vhost.url,
    }


StartService = Callable[..., ServiceProcess]


@pytest.fixture
def start_service(
    request: pytest.FixtureRequest,
    base_env: dict[str, str],
    service_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[StartService]:
    """Start ``python -m <module>``; everything still running afterwards is stopped.

    ``isolated=False`` starts it without the test's database and vhost (``base_env``
    and ``env`` only): for services that are not meant to get that far. The database
    and vhost are set up before (and so torn down after) every service started here.
    """
    started: list[ServiceProcess] = []
    request.node.stash[SERVICES] = started

    def start(
        module: str,
        *,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        wait: bool = True,
        ready_path: str = "/health",
        isolated: bool = True,
    ) -> ServiceProcess:
        label = name or f"{module}-{len(started) + 1}"
        common = service_env if isolated else base_env
        service = ServiceProcess(
            module,
            env={**common, **(env or {})},
            port=free_port(),
            log_path=tmp_path / "logs" / f"{label}.log",
            name=label,
        )
        started.append(service)
        return service.start(wait=wait, ready_path=ready_path)

    yield start
    for service in started:  # all at once: they stop in parallel
        service.send_signal(signal.SIGTERM)
    for service in started:
        try:
            service.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            service.kill()
            logger.warning("%s ignored SIGTERM for %s s and was killed", service, STOP_TIMEOUT)


@pytest.fixture
def start_executor(start_service: StartService) -> StartService:
    """Start a job-executor (``env`` adds settings) and wait until it is ready."""

    def start(
        env: Mapping[str, str] | None = None, *, name: str | None = None, wait: bool = True
    ) -> ServiceProcess:
        return start_service(
            "safepoint_job_executor",
            env=env,
            name=name or None,
            wait=wait,
            ready_path="/ready",
        )

    return start


# --------------------------------------------------------------------------------------
# The test's side: broker, engine, dispatcher
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A message taken from a queue."""

    type: str | None
    body: Any
    headers: Mapping[str, Any]
    message_id: str | None


def _header_value(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


class Broker:
    """The test's own connection to its vhost, with synchronous helpers.

    It runs an event loop in a thread of its own, so that the test (and an
    :class:`~safepoint.Engine` whose ``on_commit`` is :attr:`relay`) stays plain
    synchronous code.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.topology = Topology()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="e2e-broker", daemon=True
        )
        self._thread.start()
        self._shadow_consumer: Any = None
        self.call(self._open())

    async def _open(self) -> None:
        self._connection = await connect(self.url, name="e2e-test", reconnect_interval=0.5)
        self._channel = await open_channel(self._connection)
        await declare_topology(self._channel, self.topology)
        self.publisher = Publisher(
            self._channel, topology=self.topology, app_id="e2e-test", confirm_timeout=WAIT
        )
        self.relay = OutboxRelay(self.publisher, self._loop, topology=self.topology, timeout=WAIT)
        # A plain (not robust) connection to look at queues: a robust channel answers a
        # passive declare of a queue it knows from its cache, with a stale message count.
        self._plain = await aio_pika.connect(self.url)
        self._raw = await self._plain.channel()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """Run ``coroutine`` on the broker's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def publish_jobs(self, jobs: Iterable[Job]) -> None:
        """Publish one job message per job (confirmed)."""
        self.call(self.relay.publish_jobs(list(jobs)))

    def get(self, queue: str, *, timeout: float = WAIT) -> Delivery:
        """Take (and ack) the next message of ``queue``, waiting up to ``timeout`` s."""

        async def take() -> AbstractIncomingMessage:
            source = await self._raw.get_queue(queue, ensure=True)
            deadline = self._loop.time() + timeout
            while True:
                message = await source.get(no_ack=True, fail=False)
                if message is not None:
                    return message
                if self._loop.time() > deadline:
                    raise AssertionError(f"no message arrived on {queue} within {timeout} s")
                await asyncio.sleep(0.05)

        message = self.call(take(), timeout + WAIT)
        headers = {key: _header_value(value) for key, value in (message.headers or {}).items()}
        return Delivery(message.type, json.loads(message.body), headers, message.message_id)

    def message_count(self, queue: str) -> int:
        """How many messages are ready in ``queue``."""

        async def count() -> int:
            declared = await self._raw.declare_queue(queue, passive=True)
            result = declared.declaration_result.message_count
            return int(result or 0)

        return self.call(count())

    def duplicate_jobs(self) -> None:
        """From now on every job message reaches ``safepoint.jobs`` twice.

        A shadow queue bound like the jobs queue receives a copy of every job message,
        which is published again, unchanged, straight to the jobs queue.
        """

        async def start() -> None:
            queue = await self._raw.declare_queue(f"e2e.shadow.{secrets.token_hex(4)}")
            await queue.bind(self.topology.jobs_exchange, self.topology.jobs_routing_key)

            async def copy(message: AbstractIncomingMessage) -> None:
                duplicate = aio_pika.Message(
                    message.body,
                    headers=dict(message.headers or {}),
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    type=message.type,
                    timestamp=message.timestamp,
                    app_id="e2e-duplicator",
                )
                await self.publisher.send("", self.topology.jobs_queue, duplicate, mandatory=True)
                await message.ack()

            await queue.consume(copy)

        self.call(start())

    def close(self) -> None:
        """Close the connection and stop the loop."""
        try:
            self.call(self._plain.close())
            self.call(self._connection.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(WAIT)
            self._loop.close()


@pytest.fixture
def broker(rabbitmq_vhost: VirtualHost) -> Iterator[Broker]:
    """The test's connection to its vhost, with Safepoint's topology declared."""
    instance = Broker(rabbitmq_vhost.url)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def engine(database_url: str, broker: Broker) -> Iterator[Engine]:
    """An embedded engine on the test's database, publishing its commits to the vhost.

    It migrates the database, so services started afterwards find the schema ready.
    """
    with Engine(
        database_url,
        on_commit=broker.relay,
        job_lease=timedelta(seconds=60),
        node_name="e2e-test",
    ) as instance:
        yield instance


class JobDispatcher:
    """Stands in for the engine service's dispatcher: publishes due jobs nobody holds."""

    def __init__(self, engine: Engine, broker: Broker, *, interval: float = 0.2) -> None:
        self._engine = engine
        self._broker = broker
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-dispatcher", daemon=True)
        self.published = 0

    def start(self) -> JobDispatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                jobs = self._engine.lease_due_jobs()
                if jobs:
                    self._broker.publish_jobs(jobs)
                    self.published += len(jobs)
            except Exception:  # keep dispatching, as the real one does
                logger.exception("e2e dispatcher round failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)


@pytest.fixture
def dispatcher(engine: Engine, broker: Broker) -> Iterator[JobDispatcher]:
    """A running :class:`JobDispatcher`."""
    instance = JobDispatcher(engine, broker).start()
    try:
        yield instance
    finally:
        instance.stop()


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _wait_until(
    predicate: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate!r}")
        time.sleep(interval)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """``wait_until(predicate, *, timeout=20, interval=0.1, what="")``: poll, bounded."""
    return _wait_until


@pytest.fixture
def delegate_runs(state_dir: Path) -> Callable[[str], list[tuple[str, int, str]]]:
    """``delegate_runs(process_instance_id)``: ``(activity, pid, start|end)`` of ``work``."""

    def runs(process_instance_id: str) -> list[tuple[str, int, str]]:
        path = state_dir / "runs" / process_instance_id
        if not path.exists():
            return []
        found = []
        for line in path.read_text().splitlines():
            activity, pid, event = line.split()
            found.append((activity, int(pid), event))
        return found

    return runs


# --------------------------------------------------------------------------------------
# Appended for the invariant tests (test_invariants_*.py); nothing above is changed.
# --------------------------------------------------------------------------------------

ENGINE_MODULE = "safepoint_engine"
DEPLOYER_MODULE = "safepoint_deployer"
ENGINE_DISPATCH_INTERVAL = 0.2
"""The dispatcher's poll interval (seconds) of engine services started by ``start_engine``."""


class HttpClient:
    """A small synchronous HTTP client for the services' APIs (JSON and multipart)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> HttpResponse:
        """``method url`` with an optional JSON body; any status is returned, not raised."""
        data = None if json_body is None else json.dumps(json_body).encode()
        all_headers = dict(headers or {})
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        return self._send(urllib.request.Request(url, data, all_headers, method=method), timeout)

    def get(self, url: str, **kwargs: Any) -> HttpResponse:
        """``GET url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, json_body: Any = None, **kwargs: Any) -> HttpResponse:
        """``POST url`` with a JSON body."""
        return self.request("POST", url, json_body=json_body, **kwargs)

    def put(self, url: str, json_body: Any = None, **kwargs: Any) -> HttpResponse:
        """``PUT url`` with a JSON body."""
        return self.request("PUT", url, json_body=json_body, **kwargs)

    def deploy(
        self, deployer_url: str, name: str, resources: Mapping[str, bytes], *, timeout: float = 30
    ) -> Any:
        """``POST /engine-rest/deployment/create`` (multipart, as Camunda's clients send it).

        Returns the deployment's JSON; fails the test unless the deployer answers 200.
        """
        boundary = f"----safepoint{secrets.token_hex(12)}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="deployment-name"\r\n\r\n'
            f"{name}\r\n".encode()
        ]
        for filename, content in resources.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{filename}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            f"{deployer_url}/engine-rest/deployment/create",
            b"".join(parts),
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
            method="POST",
        )
        response = self._send(request, timeout)
        assert response.status == 200, f"deployment failed: {response.status} {response.text}"
        return response.json()

    def start_instances(
        self,
        engine_url: str,
        key: str,
        count: int,
        *,
        variables: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        business_key: str = "",
        workers: int = 8,
    ) -> list[str]:
        """Start ``count`` instances of ``key`` over the engine's HTTP API, ``workers`` at once.

        ``variables`` are Camunda typed values; the business keys are
        ``<business_key><n>`` when ``business_key`` is given. Returns the instance ids in
        the order of ``n``; fails the test unless every start answers 200.
        """
        from concurrent.futures import ThreadPoolExecutor  # here: the imports above are not ours

        url = f"{engine_url}/engine-rest/process-definition/key/{quote(key, safe='')}/start"

        def start(n: int) -> str:
            body: dict[str, Any] = {"variables": dict(variables or {})}
            if business_key:
                body["businessKey"] = f"{business_key}{n}"
            response = self.post(url, body, headers=headers, timeout=30)
            assert response.status == 200, f"start {n}: {response.status} {response.text}"
            instance_id: str = response.json()["id"]
            return instance_id

        with ThreadPoolExecutor(max(1, min(workers, count))) as pool:
            return list(pool.map(start, range(count)))

    @staticmethod
    def _send(request: urllib.request.Request, timeout: float) -> HttpResponse:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return HttpResponse(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, error.read(), dict(error.headers or {}))


@pytest.fixture
def http() -> HttpClient:
    """An :class:`HttpClient`: ``http.get/post/put(url, ...)``, ``http.deploy(...)``."""
    return HttpClient()


@pytest.fixture
def start_engine(service_env: dict[str, str], start_service: StartService) -> StartService:
    """Start the engine service (``env`` adds settings); wait until ``/health/ready``.

    Its dispatcher polls every :data:`ENGINE_DISPATCH_INTERVAL` seconds unless ``env``
    sets ``SAFEPOINT_MESSAGING_DISPATCH_INTERVAL``.

    It sets up the test's database and vhost before ``start_service``, so that they are
    torn down after the services have stopped: request it before ``start_executor``
    (a vhost deleted under running services makes them wait for it while stopping).
    """

    def start(
        env: Mapping[str, str] | None = None, *, name: str = "engine", wait: bool = True
    ) -> ServiceProcess:
        settings = {"SAFEPOINT_MESSAGING_DISPATCH_INTERVAL": str(ENGINE_DISPATCH_INTERVAL)}
        return start_service(
            ENGINE_MODULE,
            env={**settings, **(env or {})},
            name=name,
            wait=wait,
            ready_path="/health/ready",
        )

    return start


class JobTap:
    """A copy of every message published to the ``safepoint.jobs`` exchange.

    A queue of the test's own, bound like the jobs queue, receives a copy of every job
    message (from the engine's relay and dispatcher and from the executors alike); the
    executors still get theirs. Runs on the :class:`Broker`'s event loop, on a
    connection of its own.
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._connection: Any = None
        broker.call(self._open())

    async def _open(self) -> None:
        topology = self._broker.topology
        self._connection = await aio_pika.connect(self._broker.url)
        channel = await self._connection.channel()
        queue = await channel.declare_queue(
            f"e2e.tap.{secrets.token_hex(4)}", exclusive=True, auto_delete=True
        )
        await queue.bind(topology.jobs_exchange, topology.jobs_routing_key)
        await queue.consume(self._take, no_ack=True)

    async def _take(self, message: AbstractIncomingMessage) -> None:
        headers = {key: _header_value(value) for key, value in (message.headers or {}).items()}
        delivery = Delivery(message.type, json.loads(message.body), headers, message.message_id)
        with self._lock:
            self._deliveries.append(delivery)

    def deliveries(self) -> list[Delivery]:
        """Every job message copied so far, in the order they arrived."""
        with self._lock:
            return list(self._deliveries)

    def close(self) -> None:
        """Close the tap's connection (its queue goes with it)."""
        if self._connection is not None:
            self._broker.call(self._connection.close())
            self._connection = None


@pytest.fixture
def job_tap(broker: Broker) -> Iterator[JobTap]:
    """A :class:`JobTap` on the test's vhost: ``job_tap.deliveries()``."""
    tap = JobTap(broker)
    try:
        yield tap
    finally:
        tap.close()
