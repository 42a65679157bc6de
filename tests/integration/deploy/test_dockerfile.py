"""deploy/Dockerfile and .dockerignore: a locked, cached, non-root image per service.

No image can be built here, so the file is read with BuildKit's own parser and checked
against the workspace it builds: the uv pinned in the Makefile, the members in the root
pyproject.toml, the services' packages, and the build context .dockerignore leaves.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest
from docker.utils.build import exclude_paths
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parents[3]
ROOT_PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
MEMBERS = ROOT_PYPROJECT["tool"]["uv"]["workspace"]["members"]

KNOWN_INSTRUCTIONS = {
    "FROM", "ARG", "RUN", "COPY", "ADD", "ENV", "WORKDIR", "USER", "EXPOSE", "CMD",
    "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "LABEL", "VOLUME", "SHELL", "ONBUILD",
}  # fmt: skip


def _uv_sync(run: dockerfile.Command) -> list[str]:
    """The arguments of a ``RUN uv sync ...`` instruction (it must run nothing else)."""
    tokens = shlex.split(run.value[0])
    assert tokens[:2] == ["uv", "sync"], run.original
    assert not {"&&", ";", "||"} & set(tokens), run.original
    return tokens[2:]


def _option(arguments: list[str], name: str) -> str:
    index = arguments.index(name)
    return arguments[index + 1]


def _copies(stage: Any) -> list[dockerfile.Command]:
    """The stage's COPY instructions from the build context (not ``--from`` a stage)."""
    return [
        copy
        for copy in stage.all("COPY")
        if not any(flag.startswith("--from=") for flag in copy.flags)
    ]


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0]
    return name in {"root", "0"}


def test_buildkit_parses_the_file_into_known_instructions(parsed_dockerfile: Any) -> None:
    instructions = {c.cmd for stage in parsed_dockerfile.stages for c in stage.commands}

    assert instructions <= KNOWN_INSTRUCTIONS
    assert set(parsed_dockerfile.global_args) >= {"SERVICE", "PYTHON_IMAGE", "UV_VERSION"}


def test_uv_is_the_version_the_makefile_pins(parsed_dockerfile: Any) -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    (pinned,) = re.findall(r"^UV_VERSION\s*:?=\s*(\S+)\s*$", makefile, re.MULTILINE)

    assert parsed_dockerfile.global_args["UV_VERSION"] == pinned
    assert parsed_dockerfile.stage("uv").base == "ghcr.io/astral-sh/uv:${UV_VERSION}"
    builder = parsed_dockerfile.stage("builder")
    assert any("--from=uv" in copy.flags for copy in builder.all("COPY"))


def test_dependencies_are_synced_from_the_lock_before_the_sources_arrive(
    parsed_dockerfile: Any,
) -> None:
    builder = parsed_dockerfile.stage("builder")
    syncs = [c for c in builder.all("RUN") if c.value[0].lstrip().startswith("uv sync")]
    assert len(syncs) == 2, [c.original for c in builder.all("RUN")]
    first, second = (builder.commands.index(sync) for sync in syncs)
    copies = _copies(builder)

    dependencies = _uv_sync(syncs[0])
    assert {"--frozen", "--no-dev", "--no-install-workspace"} <= set(dependencies)
    assert _option(dependencies, "--package") == "safepoint-${SERVICE}"
    # Before it: uv.lock and every member's pyproject.toml, and no source file.
    before = [s for c in copies if builder.commands.index(c) < first for s in c.value[:-1]]
    assert {Path(source).name for source in before} == {"pyproject.toml", "uv.lock"}
    assert set(before) >= {"pyproject.toml", "uv.lock"} | {f"{m}/pyproject.toml" for m in MEMBERS}

    workspace = _uv_sync(syncs[1])
    assert {"--frozen", "--no-dev", "--no-editable"} <= set(workspace)
    assert "--no-install-workspace" not in workspace
    assert _option(workspace, "--package") == "safepoint-${SERVICE}"
    # Between the two: the members' sources.
    between = [
        source
        for c in copies
        if first < builder.commands.index(c) < second
        for source in c.value[:-1]
    ]
    for member in MEMBERS:
        assert any(Path(member).is_relative_to(source) for source in between), member


def test_the_synced_package_is_each_service_project(service_ports: dict[str, int]) -> None:
    for name in service_ports:
        project = tomllib.loads((REPO_ROOT / "services" / name / "pyproject.toml").read_text())

        assert project["project"]["name"] == f"safepoint-{name}"
        assert f"services/{name}" in MEMBERS


def test_builder_and_runtime_share_a_python_the_workspace_supports(
    parsed_dockerfile: Any,
) -> None:
    builder, runtime = parsed_dockerfile.stage("builder"), parsed_dockerfile.stage("runtime")
    image = parsed_dockerfile.global_args["PYTHON_IMAGE"]
    (version,) = re.findall(r"^python:(\d+\.\d+)[.-]", image)

    # The venv's python is a symlink to the builder's interpreter: same image, same path.
    assert builder.base == runtime.base == "${PYTHON_IMAGE}"
    assert "slim" in image
    for member in ["", *MEMBERS]:
        project = tomllib.loads((REPO_ROOT / member / "pyproject.toml").read_text())
        requires = project.get("project", {}).get("requires-python")
        if requires is not None:
            assert version in SpecifierSet(requires), (member, requires)


def test_the_runtime_holds_the_venv_and_runs_as_a_non_root_user(
    parsed_dockerfile: Any,
) -> None:
    builder, runtime = parsed_dockerfile.stage("builder"), parsed_dockerfile.stage("runtime")
    venv = builder.env()["UV_PROJECT_ENVIRONMENT"]

    (copy,) = runtime.all("COPY")
    assert copy.flags == ("--from=builder",)
    assert copy.value == (venv, venv)
    env = runtime.env()
    assert env["PATH"].startswith(f"{venv}/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SAFEPOINT_HTTP_HOST"] == "0.0.0.0"
    user = runtime.last("USER")
    assert user is not None and not _is_root(user.value[0])
    stopsignal = runtime.last("STOPSIGNAL")
    assert stopsignal is not None and stopsignal.value == ("SIGTERM",)


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_image_healthcheck_asks_get_health_on_the_service_port(
    parsed_dockerfile: Any, health_server: Any, status: int, healthy: bool
) -> None:
    healthcheck = parsed_dockerfile.stage("runtime").last("HEALTHCHECK")
    assert healthcheck is not None and healthcheck.json
    assert healthcheck.value[0] == "CMD"
    health_server.status = status

    result = health_server.run_check(healthcheck.value[1:])

    assert (result.returncode == 0) is healthy, result.stderr
    assert health_server.paths == ["/health"]


def test_each_service_stage_runs_its_module_on_its_port(
    parsed_dockerfile: Any, service_ports: dict[str, int]
) -> None:
    for name, port in service_ports.items():
        stage = parsed_dockerfile.stage(f"service-{name}")
        module = f"safepoint_{name.replace('-', '_')}"

        assert stage.base == "runtime"
        assert stage.env()["SAFEPOINT_HTTP_PORT"] == str(port)
        expose = stage.last("EXPOSE")
        assert expose is not None and expose.value == (str(port),)
        cmd = stage.last("CMD")
        assert cmd is not None and cmd.json and cmd.value == ("python", "-m", module)
        assert (REPO_ROOT / "services" / name / module / "__init__.py").is_file()
        assert not any(_is_root(user.value[0]) for user in stage.all("USER"))


def test_each_service_module_can_be_run_with_python_m(service_ports: dict[str, int]) -> None:
    for name in service_ports:
        module = f"safepoint_{name.replace('-', '_')}"

        assert (REPO_ROOT / "services" / name / module / "__main__.py").is_file(), module


def test_the_service_build_arg_selects_the_final_stage(
    parsed_dockerfile: Any, service_ports: dict[str, int]
) -> None:
    final = parsed_dockerfile.stages[-1]
    builder_check = " ".join(c.value[0] for c in parsed_dockerfile.stage("builder").all("RUN"))
    (accepted,) = re.findall(r"([\w|-]+)\)\s*;;", builder_check)

    assert final.base == "service-${SERVICE}"
    assert set(accepted.split("|")) == set(service_ports)
    assert parsed_dockerfile.global_args["SERVICE"] in service_ports
    for name in service_ports:
        parsed_dockerfile.stage(final.base.replace("${SERVICE}", name))


# --------------------------------------------------------------------------------------
# .dockerignore
# --------------------------------------------------------------------------------------
def _build_context() -> set[str]:
    """The files ``docker build .`` sends, by docker-py's .dockerignore matcher."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # docker-py always sends the Dockerfile and .dockerignore; BuildKit reads them apart.
    context = exclude_paths(str(REPO_ROOT), patterns, dockerfile="deploy/Dockerfile")
    return {path for path in context if (REPO_ROOT / path).is_file()} - {
        ".dockerignore",
        "deploy/Dockerfile",
    }


def _is_cache(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}


def _is_local_artefact(path: Path) -> bool:
    """What a local run or build leaves in a checkout: never part of an image."""
    return (
        _is_cache(path)
        or path.suffix in {".db", ".db-journal"}
        or any(part.endswith(".egg-info") for part in path.parts)
        or bool(
            {"build", "dist", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
            & set(path.parts)
        )
    )


def test_the_build_context_holds_what_the_dockerfile_copies(parsed_dockerfile: Any) -> None:
    context = _build_context()
    sources = [s for c in _copies(parsed_dockerfile.stage("builder")) for s in c.value[:-1]]

    for source in sources:
        if (REPO_ROOT / source).is_dir():
            expected = {
                path.relative_to(REPO_ROOT).as_posix()
                for path in (REPO_ROOT / source).rglob("*")
                if path.is_file() and not _is_local_artefact(path.relative_to(REPO_ROOT))
            }
            assert expected, source
            assert expected <= context, sorted(expected - context)[:10]
        else:
            assert source in context


def test_the_build_context_leaves_out_venvs_tools_git_tests_and_caches() -> None:
    context = _build_context()

    for path in map(Path, context):
        assert path.parts[0] in {"pyproject.toml", "uv.lock", "shared", "services"}, path
        assert not _is_local_artefact(path), path
        assert ".git" not in path.parts, path
