"""The workspace installs one distribution per member, each importable under its name."""

import importlib
from importlib import metadata

import pytest

SERVICES = {
    "safepoint-deployer": "safepoint_deployer",
    "safepoint-engine": "safepoint_engine",
    "safepoint-job-executor": "safepoint_job_executor",
}


def test_shared_library_is_installed_and_importable() -> None:
    dist = metadata.distribution("safepoint")
    safepoint = importlib.import_module("safepoint")

    assert safepoint.__name__ == "safepoint"
    requirements = {
        req.split(";")[0].split("[")[0].split(">")[0].split("<")[0].strip()
        for req in dist.requires or []
    }
    assert {"lxml", "sqlalchemy", "alembic", "psycopg", "pydantic"} <= requirements


@pytest.mark.parametrize(("distribution", "package"), sorted(SERVICES.items()))
def test_service_version_matches_its_distribution(distribution: str, package: str) -> None:
    module = importlib.import_module(package)

    assert module.__version__ == metadata.version(distribution)


@pytest.mark.parametrize("distribution", sorted(SERVICES))
def test_service_depends_on_the_shared_library(distribution: str) -> None:
    requirements = metadata.requires(distribution) or []

    assert "safepoint" in requirements


def test_sqlalchemy_stays_on_2_0() -> None:
    # The OpenTelemetry SQLAlchemy instrumentation does not support 2.1 yet.
    major, minor = metadata.version("sqlalchemy").split(".")[:2]

    assert (major, minor) == ("2", "0")
