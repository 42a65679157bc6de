"""Fixtures every Safepoint test can use, and markers set from a test's directory.

Real PostgreSQL and RabbitMQ come from ``SAFEPOINT_TEST_DATABASE_URL`` and
``SAFEPOINT_TEST_AMQP_URL`` (``.ci/run`` sets both), else from testcontainers when a
Docker engine is there. Without either, the tests that need them are skipped with the
reason, except under ``CI=true``, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import gc
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

TESTS_DIR = Path(__file__).parent
DIRECTORY_MARKERS = {"integration": "integration", "e2e": "e2e"}

DATABASE_URL_ENV = "SAFEPOINT_TEST_DATABASE_URL"
AMQP_URL_ENV = "SAFEPOINT_TEST_AMQP_URL"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests under tests/integration/ as integration and tests/e2e/ as e2e."""
    for item in items:
        try:
            top = item.path.relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        marker = DIRECTORY_MARKERS.get(top)
        if marker is not None:
            item.add_marker(marker)


def pytest_report_header() -> list[str]:
    """Say where the real services come from, so a skipped run explains itself."""
    lines = []
    for env in (DATABASE_URL_ENV, AMQP_URL_ENV):
        source = "set" if os.environ.get(env) else "not set: testcontainers, else skip"
        lines.append(f"{env}: {source}")
    lines.append(f"CI: {os.environ.get('CI', 'not set')}")
    return lines


def _unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere: a real service was asked for and is not there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


def _no_docker_engine() -> str | None:
    """Say why there is no Docker engine to start containers on, or None if there may be."""
    if os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists():
        return None
    return "there is no Docker engine (DOCKER_HOST unset, no /var/run/docker.sock)"


def _external_or_container(
    env_var: str, start: Callable[[], tuple[Any, str]], what: str
) -> Iterator[str]:
    """Yield the URL from ``env_var``, else from a container started for the session."""
    url = os.environ.get(env_var)
    if url:
        yield url
        return
    no_engine = _no_docker_engine()
    if no_engine is not None:
        _unavailable(f"{env_var} is not set and {no_engine}")
    try:
        container, url = start()
    except Exception as exc:  # no image, engine refused, ...: all mean "no container"
        failure = repr(exc)
    else:
        try:
            yield url
        finally:
            container.stop()
        return
    # The failed Docker client leaves sockets behind; close them now, not as warnings later.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    _unavailable(f"{env_var} is not set and no {what} container could be started: {failure}")


@pytest.fixture
def anyio_backend() -> str:
    """The async tests (``pytest.mark.anyio``) run on asyncio, the services' loop."""
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL server the tests may create databases on."""

    def start() -> tuple[Any, str]:
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", driver="psycopg").start()
        return container, container.get_connection_url()

    yield from _external_or_container(DATABASE_URL_ENV, start, "PostgreSQL")


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """AMQP URL of a RabbitMQ broker (``amqp://user:password@host:port/``)."""

    def start() -> tuple[Any, str]:
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13-management").start()
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        user, password = container.username, container.password
        return container, f"amqp://{user}:{password}@{host}:{port}/"

    yield from _external_or_container(AMQP_URL_ENV, start, "RabbitMQ")


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    server = sa.make_url(server_url)
    name = f"sp_{secrets.token_hex(8)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                # FORCE ends connections a test left open, so a leak cannot block the drop.
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database, once on SQLite and once on PostgreSQL.

    A test that takes this fixture runs twice. Each run gets a database of its own that
    nothing else uses: a file in ``tmp_path`` for SQLite, a database created for the test
    (and dropped after it) on the ``postgres_url`` server for PostgreSQL. The schema is
    not created: that is the job of the code under test.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'safepoint.db'}"
        return
    yield from _fresh_postgres_database(request.getfixturevalue("postgres_url"))
