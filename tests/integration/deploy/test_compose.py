"""docker-compose.yml: accepted by Compose v2 and the compose-spec, and wired as intended.

The structural checks read the model the real Compose binary resolves from the file
(``docker-compose config --format json``: anchors and merges applied), not the YAML text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings
from sqlalchemy import create_engine, inspect, make_url

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

INFRASTRUCTURE = {"rabbitmq", "postgres", "jaeger"}

# Each breakage (its id says what breaks): text in docker-compose.yml, its replacement,
# and what Compose must say about the copy.
BREAKAGES = [
    pytest.param(
        "condition: service_completed_successfully",
        "condition: service_completed",
        "service_completed_successfully",
        id="unknown-depends-on-condition",
    ),
    pytest.param(
        "\n  migrate:\n",
        "\n  migration:\n",
        "undefined service",
        id="depends-on-undefined-service",
    ),
]


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPOSE_FILE.read_text()
    assert old in text, f"docker-compose.yml no longer contains {old!r}"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new))
    return broken


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    command += ["vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# --------------------------------------------------------------------------------------
# The file is valid
# --------------------------------------------------------------------------------------
def test_compose_accepts_the_file_without_warnings(compose: Any) -> None:
    result = compose.run(COMPOSE_FILE, "config", "--quiet")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(("old", "new", "message"), BREAKAGES)
def test_compose_refuses_a_broken_copy(
    compose: Any, tmp_path: Path, old: str, new: str, message: str
) -> None:
    broken = _broken_copy(tmp_path, old, new)

    result = compose.run(broken, "config", "--quiet")

    assert result.returncode != 0
    assert message in result.stderr


def test_the_compose_spec_schema_accepts_the_file() -> None:
    result = _check_jsonschema(COMPOSE_FILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_spec_schema_refuses_an_unknown_condition(tmp_path: Path) -> None:
    broken = _broken_copy(
        tmp_path, "condition: service_completed_successfully", "condition: service_completed"
    )

    result = _check_jsonschema(broken)

    assert result.returncode != 0
    assert "service_completed" in result.stdout


# --------------------------------------------------------------------------------------
# The Safepoint services
# --------------------------------------------------------------------------------------
def test_the_project_holds_infrastructure_migration_services_and_proxy(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    expected = INFRASTRUCTURE | {"migrate", "proxy"} | set(service_ports)

    assert set(compose_services) == expected


def test_each_service_builds_its_image_from_the_one_dockerfile(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    for name in service_ports:
        build = compose_services[name]["build"]
        assert Path(build["context"]) == REPO_ROOT, name
        assert (Path(build["context"]) / build["dockerfile"]) == REPO_ROOT / "deploy/Dockerfile"
        assert build["args"] == {"SERVICE": name}
        assert compose_services[name]["image"].startswith(f"safepoint-{name}:")


def test_each_service_waits_for_healthy_brokers_and_a_finished_migration(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    for name in service_ports:
        conditions = {
            dependency: spec["condition"]
            for dependency, spec in compose_services[name]["depends_on"].items()
        }
        assert conditions["rabbitmq"] == "service_healthy", name
        assert conditions["postgres"] == "service_healthy", name
        assert conditions["migrate"] == "service_completed_successfully", name


def test_each_service_is_health_checked_and_stopped_gracefully(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    for name in service_ports:
        service = compose_services[name]
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert not service["healthcheck"].get("disable", False), name
        assert service["stop_grace_period"] == "30s", name
        assert service["init"] is True, name


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_service_healthcheck_asks_get_health_on_the_service_port(
    compose_services: dict[str, Any],
    service_ports: dict[str, int],
    health_server: Any,
    status: int,
    healthy: bool,
) -> None:
    health_server.status = status
    for name in service_ports:
        result = health_server.run_check(compose_services[name]["healthcheck"]["test"][1:])

        assert (result.returncode == 0) is healthy, (name, result.stderr)
    assert set(health_server.paths) == {"/health"}


def test_each_service_is_configured_for_the_compose_network(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    postgres = compose_services["postgres"]["environment"]
    for name, port in service_ports.items():
        env = compose_services[name]["environment"]
        database = make_url(env["SAFEPOINT_DATABASE_URL"])
        assert (database.drivername, database.host, database.port) == (
            "postgresql+psycopg",
            "postgres",
            5432,
        )
        assert (database.username, database.password, database.database) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        )
        assert env["SAFEPOINT_AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/"
        assert env["SAFEPOINT_HTTP_HOST"] == "0.0.0.0"
        assert env["SAFEPOINT_HTTP_PORT"] == str(port)
        assert env["SAFEPOINT_DATABASE_MIGRATE"] == "false"
        assert env["OTEL_SERVICE_NAME"] == f"safepoint-{name}"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"


@pytest.mark.parametrize("name", ["deployer", "engine", "job-executor"])
def test_the_service_settings_read_the_compose_environment(
    compose_services: dict[str, Any],
    service_ports: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    module = pytest.importorskip(f"safepoint_{name.replace('-', '_')}.settings")
    (settings_class,) = (
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    )
    service = compose_services[name]
    env = service["environment"]
    for key in list(os.environ):
        if key.startswith("SAFEPOINT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = settings_class()

    assert settings.database.url == env["SAFEPOINT_DATABASE_URL"]
    assert settings.database.migrate is False
    assert settings.amqp.url == env["SAFEPOINT_AMQP_URL"]
    assert settings.http.host == "0.0.0.0"
    assert settings.http.port == int(env["SAFEPOINT_HTTP_PORT"]) == service_ports[name]
    assert settings.log_level == env["SAFEPOINT_LOG_LEVEL"]
    # The service lets running work finish on SIGTERM: compose must wait longer than that.
    executor = getattr(settings, "executor", None)
    if executor is not None:
        assert executor.shutdown_grace_seconds < _seconds(service["stop_grace_period"])
    # The image's default port (deploy/Dockerfile) is the service's own default too.
    monkeypatch.delenv("SAFEPOINT_HTTP_PORT")
    assert settings_class().http.port == service_ports[name]


def _seconds(duration: str) -> float:
    assert duration.endswith("s") and duration[:-1].isdigit(), duration
    return float(duration[:-1])


def test_job_executors_run_as_replicas_and_publish_no_port(
    compose_services: dict[str, Any], service_ports: dict[str, int]
) -> None:
    assert compose_services["job-executor"]["deploy"]["replicas"] >= 2
    # A published port would stop `--scale` (and the proxy is the one base URL).
    for name in service_ports:
        assert "ports" not in compose_services[name], name


# --------------------------------------------------------------------------------------
# Migration, infrastructure, proxy
# --------------------------------------------------------------------------------------
def test_migrate_runs_once_with_the_engine_image_when_postgres_is_healthy(
    compose_services: dict[str, Any],
) -> None:
    migrate = compose_services["migrate"]

    assert migrate["image"] == compose_services["engine"]["image"]
    assert "build" not in migrate
    assert migrate["restart"] == "no"
    assert {name: spec["condition"] for name, spec in migrate["depends_on"].items()} == {
        "postgres": "service_healthy"
    }
    assert (
        migrate["environment"]["SAFEPOINT_DATABASE_URL"]
        == compose_services["engine"]["environment"]["SAFEPOINT_DATABASE_URL"]
    )


def test_the_migrate_command_brings_a_database_schema_up_to_date(
    compose_services: dict[str, Any], tmp_path: Path
) -> None:
    command = compose_services["migrate"]["command"]
    assert command[0] == "python"
    database = tmp_path / "safepoint.db"
    # The same command on SQLite: PostgreSQL is what compose runs it on.
    env = {"PATH": os.environ.get("PATH", ""), "SAFEPOINT_DATABASE_URL": f"sqlite:///{database}"}

    result = subprocess.run(
        [sys.executable, *command[1:]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{database}")
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "alembic_version" in tables
    assert len(tables) > 1, tables


def test_infrastructure_is_pinned_health_checked_and_persistent(
    compose_model: dict[str, Any], compose_services: dict[str, Any]
) -> None:
    rabbitmq, postgres = compose_services["rabbitmq"], compose_services["postgres"]

    assert rabbitmq["image"] == "rabbitmq:3.13-management"
    assert rabbitmq["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert postgres["image"] == "postgres:16"
    assert postgres["healthcheck"]["test"][1] == "pg_isready"
    volumes = {v["source"] for v in postgres["volumes"] if v["type"] == "volume"}
    assert volumes and volumes <= set(compose_model["volumes"])
    for service in compose_services.values():
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1], f"{image} has no tag"
        assert not image.endswith(":latest"), image


def test_jaeger_takes_otlp_and_serves_its_ui(compose_services: dict[str, Any]) -> None:
    jaeger = compose_services["jaeger"]

    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert {port["target"] for port in jaeger["ports"]} >= {16686, 4317, 4318}


def test_the_proxy_is_the_one_base_url_once_the_services_are_healthy(
    compose_services: dict[str, Any],
) -> None:
    proxy = compose_services["proxy"]

    assert proxy["image"].startswith("nginx:1.27")
    assert [(port["target"], port["published"]) for port in proxy["ports"]] == [(8000, "8000")]
    (mount,) = proxy["volumes"]
    assert Path(mount["source"]) == REPO_ROOT / "deploy/proxy/nginx.conf"
    assert Path(mount["source"]).is_file()
    assert mount["target"] == "/etc/nginx/nginx.conf"
    assert {name: spec["condition"] for name, spec in proxy["depends_on"].items()} == {
        "deployer": "service_healthy",
        "engine": "service_healthy",
    }
    assert "healthcheck" in proxy
