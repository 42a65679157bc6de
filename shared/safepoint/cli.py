"""``safepoint``: the command line for people at a terminal, over the services' HTTP API.

    safepoint deploy invoice.bpmn            deploy BPMN files
    safepoint start invoice --var amount=250 --business-key ORDER-1
    safepoint instances [--key invoice] [--active]
    safepoint jobs [--instance ID] [--failed]
    safepoint incidents [--instance ID]
    safepoint retry JOB_ID [--retries 1]     set a job's retries (resolves its incident)

The engine's base URL comes from ``--url`` or ``SAFEPOINT_URL`` (default
``http://127.0.0.1:8080``); deployments go to ``--deployer-url`` /
``SAFEPOINT_DEPLOYER_URL`` (default: the same base URL when ``SAFEPOINT_URL`` is set,
as behind the compose proxy; else ``http://127.0.0.1:8081``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ENGINE_URL = "http://127.0.0.1:8080"
DEPLOYER_URL = "http://127.0.0.1:8081"
REST = "/engine-rest"


class CliError(Exception):
    """A problem to tell the person at the terminal, without a traceback."""


def out(line: str = "") -> None:
    """Write one line to standard output."""
    sys.stdout.write(line + "\n")


def parse_variables(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``name=value`` pairs as Camunda typed variables (values read as JSON when they can be)."""
    variables: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--var takes name=value, got {pair!r}")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        variables[name] = {"value": value, "type": _camunda_type(value)}
        if variables[name]["type"] == "Json":
            variables[name]["value"] = json.dumps(value)
    return variables


def _camunda_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer" if -(2**31) <= value < 2**31 else "Long"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "String"
    return "Json"


class Client:
    """The few calls the command line makes, with errors turned into plain sentences."""

    def __init__(self, engine_url: str, deployer_url: str, timeout: float = 30.0) -> None:
        """Talk to the engine at ``engine_url`` and the deployer at ``deployer_url``."""
        self.engine_url = engine_url.rstrip("/")
        self.deployer_url = deployer_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def call(self, method: str, base: str, path: str, **kwargs: Any) -> Any:
        """One request; JSON back (``None`` for 204); errors as :class:`CliError`."""
        url = f"{base}{REST}{path}"
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"cannot reach {base} ({exc.__class__.__name__}): is Safepoint running? "
                "Start it with `make run`, or set SAFEPOINT_URL"
            ) from exc
        if response.status_code >= 400:
            raise CliError(f"{method} {path}: HTTP {response.status_code}: {_error(response)}")
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict):
        message = str(body.get("message") or body)
        problems = body.get("problems") or body.get("details") or []
        lines = [message]
        for problem in problems if isinstance(problems, list) else []:
            if isinstance(problem, dict):
                where = ":".join(
                    str(problem[k]) for k in ("resource", "line") if problem.get(k) is not None
                )
                element = f" [{problem['elementId']}]" if problem.get("elementId") else ""
                lines.append(f"  {where}{element} {problem.get('message', '')}")
        return "\n".join(lines)
    return str(body)


def cmd_deploy(client: Client, args: argparse.Namespace) -> None:
    """Deploy BPMN files."""
    files = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"no such file: {name}")
        files.append((path.name, (path.name, path.read_bytes(), "application/octet-stream")))
    name = args.name or Path(args.files[0]).stem
    deployment = client.call(
        "POST",
        client.deployer_url,
        "/deployment/create",
        data={"deployment-name": name, "enable-duplicate-filtering": "true"},
        files=files,
    )
    out(f"deployment {deployment['id']} ({deployment.get('name')})")
    for definition in (deployment.get("deployedProcessDefinitions") or {}).values():
        out(f"  {definition['key']} version {definition['version']}  id {definition['id']}")


def cmd_start(client: Client, args: argparse.Namespace) -> None:
    """Start an instance of the latest version of a process."""
    body: dict[str, Any] = {"variables": parse_variables(args.var)}
    if args.business_key:
        body["businessKey"] = args.business_key
    instance = client.call(
        "POST", client.engine_url, f"/process-definition/key/{args.key}/start", json=body
    )
    state = "ended" if instance.get("ended") else "running"
    out(f"process instance {instance['id']} ({state})")


def cmd_instances(client: Client, args: argparse.Namespace) -> None:
    """List process instances."""
    params: dict[str, str] = {}
    if args.key:
        params["processDefinitionKey"] = args.key
    if args.active:
        params["active"] = "true"
    rows = client.call("GET", client.engine_url, "/process-instance", params=params)
    _table(rows, ("id", "definitionId", "businessKey", "ended"))


def cmd_jobs(client: Client, args: argparse.Namespace) -> None:
    """List jobs."""
    params: dict[str, str] = {}
    if args.instance:
        params["processInstanceId"] = args.instance
    if args.failed:
        params["withException"] = "true"
    rows = client.call("GET", client.engine_url, "/job", params=params)
    _table(
        rows, ("id", "processInstanceId", "activityId", "retries", "dueDate", "exceptionMessage")
    )


def cmd_incidents(client: Client, args: argparse.Namespace) -> None:
    """List open incidents."""
    params = {"processInstanceId": args.instance} if args.instance else {}
    rows = client.call("GET", client.engine_url, "/incident", params=params)
    _table(
        rows,
        (
            "id",
            "incidentType",
            "processInstanceId",
            "activityId",
            "configuration",
            "incidentMessage",
        ),
    )


def cmd_retry(client: Client, args: argparse.Namespace) -> None:
    """Set a job's retries: resolves its incident; the job runs again."""
    client.call(
        "PUT", client.engine_url, f"/job/{args.job_id}/retries", json={"retries": args.retries}
    )
    out(f"job {args.job_id}: retries set to {args.retries}")


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        out("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        out("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(
        prog="safepoint", description="Deploy, start and look after Safepoint processes."
    )
    base = os.environ.get("SAFEPOINT_URL")
    parser.add_argument("--url", default=base or ENGINE_URL, help="the engine's base URL")
    parser.add_argument(
        "--deployer-url",
        default=os.environ.get("SAFEPOINT_DEPLOYER_URL") or base or DEPLOYER_URL,
        help="the deployer's base URL",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="deploy BPMN files")
    deploy.add_argument("files", nargs="+")
    deploy.add_argument("--name", help="deployment name (default: the first file's name)")
    deploy.set_defaults(run=cmd_deploy)
    start = commands.add_parser("start", help="start a process instance")
    start.add_argument("key", help="process definition key (the BPMN process id)")
    start.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    start.add_argument("--business-key")
    start.set_defaults(run=cmd_start)
    instances = commands.add_parser("instances", help="list process instances")
    instances.add_argument("--key")
    instances.add_argument("--active", action="store_true")
    instances.set_defaults(run=cmd_instances)
    jobs = commands.add_parser("jobs", help="list jobs")
    jobs.add_argument("--instance")
    jobs.add_argument("--failed", action="store_true", help="only jobs that failed")
    jobs.set_defaults(run=cmd_jobs)
    incidents = commands.add_parser("incidents", help="list open incidents")
    incidents.add_argument("--instance")
    incidents.set_defaults(run=cmd_incidents)
    retry = commands.add_parser("retry", help="set a job's retries (resolves its incident)")
    retry.add_argument("job_id")
    retry.add_argument("--retries", type=int, default=1)
    retry.set_defaults(run=cmd_retry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    client = Client(args.url, args.deployer_url)
    try:
        args.run(client, args)
    except CliError as exc:
        sys.stderr.write(f"safepoint: {exc}\n")
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
