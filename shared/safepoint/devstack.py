"""The three services as local processes: what ``make run`` and ``make demo`` start.

No Docker needed: the deployer, the engine and job-executors run as plain
``python -m`` processes against a local RabbitMQ (``SAFEPOINT_AMQP_URL``) and a
database (``SAFEPOINT_DATABASE_URL``, a SQLite file by default). The schema is migrated
first; if RabbitMQ cannot be reached, it says so and how to start it. The services are
started, never imported: this module only knows their module names and ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from safepoint.errors import BrokerUnavailable
from safepoint.messaging.connection import ensure_reachable, redact
from safepoint.settings import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL

COLORS = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m")
RESET = "\033[0m"


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack: a name, the module it runs, its HTTP port."""

    name: str
    module: str
    port: int


def default_services(executors: int = 2, base_port: int = 8080) -> list[ServiceSpec]:
    """Engine, deployer and ``executors`` job-executors on consecutive ports."""
    services = [
        ServiceSpec("engine", "safepoint_engine", base_port),
        ServiceSpec("deployer", "safepoint_deployer", base_port + 1),
    ]
    services += [
        ServiceSpec(f"job-executor-{n}", "safepoint_job_executor", base_port + 1 + n)
        for n in range(1, executors + 1)
    ]
    return services


@dataclass
class ServiceProcess:
    """A running service, its output prefixed in the terminal and kept in a log file."""

    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self.spec.port}"

    def healthy(self) -> bool:
        """Whether ``GET /health`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        return self.process.returncode


class Stack:
    """Starts and stops the services of the local stack.

    Args:
        env: the environment every service gets (URLs, delegates module...).
        services: what to run (default: engine, deployer, two job-executors).
        log_dir: where each service's output is kept (``<name>.log``).
        echo: also print every output line to the terminal, prefixed by the service.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        services: list[ServiceSpec] | None = None,
        log_dir: Path = Path(".run"),
        echo: bool = True,
    ) -> None:
        """Prepare a stack; nothing starts until :meth:`start`."""
        self.env = dict(env)
        self.services = services or default_services()
        self.log_dir = log_dir
        self.echo = echo
        self.processes: list[ServiceProcess] = []
        self._print_lock = threading.Lock()

    def start(self, *, timeout: float = 60.0) -> None:
        """Start every service and wait until each answers ``/health``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for index, spec in enumerate(self.services):
            env = {**os.environ, **self.env, "SAFEPOINT_HTTP_PORT": str(spec.port)}
            env.setdefault("SAFEPOINT_DATABASE_MIGRATE", "false")
            # Their output is piped to this terminal: human-readable lines, not JSON.
            env.setdefault("SAFEPOINT_LOG_FORMAT", "text")
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", spec.module],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            running = ServiceProcess(spec, process, self.log_dir / f"{spec.name}.log")
            running._reader = threading.Thread(
                target=self._pump,
                args=(running, COLORS[index % len(COLORS)]),
                daemon=True,
            )
            running._reader.start()
            self.processes.append(running)
        deadline = time.monotonic() + timeout
        for running in self.processes:
            while not running.healthy():
                if running.process.poll() is not None:
                    raise RuntimeError(
                        f"{running.spec.name} exited with code {running.process.returncode}; "
                        f"see {running.log_path}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{running.spec.name} did not become healthy in time")
                time.sleep(0.1)

    def _pump(self, running: ServiceProcess, color: str) -> None:
        stream: IO[bytes] | None = running.process.stdout
        if stream is None:
            return
        width = max(len(s.name) for s in self.services)
        with running.log_path.open("wb") as log:
            for line in iter(stream.readline, b""):
                log.write(line)
                log.flush()
                if self.echo:
                    text = line.decode("utf-8", "replace").rstrip()
                    with self._print_lock:
                        sys.stdout.write(f"{color}{running.spec.name:<{width}}{RESET} | {text}\n")
                        sys.stdout.flush()

    def stop(self) -> None:
        """Stop every service (SIGTERM, so in-flight work finishes), executors first."""
        for running in reversed(self.processes):
            running.stop()
        self.processes.clear()

    def url(self, name: str) -> str:
        """The base URL of the service called ``name``."""
        for running in self.processes:
            if running.spec.name == name:
                return running.url
        raise KeyError(name)

    @contextlib.contextmanager
    def running(self, *, timeout: float = 60.0) -> Iterator[Stack]:
        """Start, yield, and stop whatever happens."""
        try:
            self.start(timeout=timeout)
            yield self
        finally:
            self.stop()


def check_broker(url: str) -> None:
    """Raise :class:`BrokerUnavailable` (with how to start one) if RabbitMQ is not there."""
    ensure_reachable(url, name="safepoint-preflight")


def migrate(database_url: str) -> None:
    """Apply the migrations in a child process (as the services would see them)."""
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "safepoint.persistence", "--database-url", database_url],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def hide_password(database_url: str) -> str:
    """A database URL fit to print: its password replaced by ``***``."""
    return make_url(database_url).render_as_string(hide_password=True)


def local_env() -> dict[str, str]:
    """The URLs from the environment, or the local defaults."""
    return {
        "SAFEPOINT_DATABASE_URL": os.environ.get("SAFEPOINT_DATABASE_URL", DEFAULT_DATABASE_URL),
        "SAFEPOINT_AMQP_URL": os.environ.get("SAFEPOINT_AMQP_URL", DEFAULT_AMQP_URL),
        "SAFEPOINT_DELEGATES_MODULE": os.environ.get(
            "SAFEPOINT_DELEGATES_MODULE", "safepoint.examples.invoice_delegates"
        ),
    }


def preflight(env: Mapping[str, str]) -> None:
    """Check the broker and migrate the database; exit with a clear message otherwise."""
    amqp_url = env["SAFEPOINT_AMQP_URL"]
    try:
        check_broker(amqp_url)
    except BrokerUnavailable as exc:
        sys.stderr.write(
            f"RabbitMQ is not reachable at {redact(amqp_url)}: {exc}\n"
            "Start it with `rabbitmq-server -detached` (or `docker compose up rabbitmq`), "
            "or point SAFEPOINT_AMQP_URL at yours.\n"
        )
        raise SystemExit(2) from None
    try:
        migrate(env["SAFEPOINT_DATABASE_URL"])
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(f"migrating the database failed:\n{exc.stderr.decode()}\n")
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    """``make run``: the services in the foreground until Ctrl+C."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m safepoint.devstack", description=__doc__)
    parser.add_argument("--executors", type=int, default=2, help="job-executor processes")
    args = parser.parse_args(argv)
    env = local_env()
    preflight(env)
    stack = Stack(env, services=default_services(args.executors))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with stack.running():
        sys.stdout.write(
            "\nSafepoint is running:\n"
            f"  engine   {stack.url('engine')}/engine-rest  (OpenAPI: {stack.url('engine')}/docs)\n"
            f"  deployer {stack.url('deployer')}/engine-rest/deployment\n"
            f"  database {hide_password(env['SAFEPOINT_DATABASE_URL'])}\n"
            f"  broker   {redact(env['SAFEPOINT_AMQP_URL'])} "
            "(management UI: http://127.0.0.1:15672 if enabled)\n"
            "  try: safepoint deploy shared/safepoint/examples/invoice.bpmn && "
            "safepoint start invoice --var amount=250\n"
            "Ctrl+C stops everything.\n\n"
        )
        try:
            while not stop.is_set() and all(p.process.poll() is None for p in stack.processes):
                stop.wait(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
