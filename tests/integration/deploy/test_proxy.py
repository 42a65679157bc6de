"""deploy/proxy/nginx.conf: valid nginx, and one base URL routed as DESIGN.md section 6 says.

nginx itself is not installed (the checks stay offline); crossplane, nginx's own config
parser with its directive table, reads the file strictly, and the routing is worked out
from the parsed locations the way nginx picks one (exact, then longest prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crossplane
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
NGINX_CONF = REPO_ROOT / "deploy" / "proxy" / "nginx.conf"

ROUTES = [
    ("/engine-rest/deployment", "deployer"),
    ("/engine-rest/deployment/create", "deployer"),
    ("/engine-rest/deployment/count", "deployer"),
    ("/engine-rest/deployment/3f2a/resources", "deployer"),
    ("/engine-rest/deploymentx", "engine"),
    ("/engine-rest/process-definition/key/invoice/start", "engine"),
    ("/engine-rest/process-instance", "engine"),
    ("/engine-rest/message", "engine"),
    ("/engine-rest/job/7/retries", "engine"),
    ("/engine-rest", "engine"),
    ("/docs", "engine"),
]


@dataclass(frozen=True)
class Location:
    """One ``location`` of the server: its match modifier, path and directives."""

    modifier: str
    path: str
    block: list[dict[str, Any]]

    def directive(self, name: str) -> list[str] | None:
        for directive in self.block:
            if directive["directive"] == name:
                args: list[str] = directive["args"]
                return args
        return None


def _parse(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = crossplane.parse(
        str(path), check_ctx=True, check_args=True, strict=True, single=True
    )
    return result


def _children(block: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [directive for directive in block if directive["directive"] == name]


@pytest.fixture(scope="module")
def http_block() -> list[dict[str, Any]]:
    parsed = _parse(NGINX_CONF)
    assert parsed["status"] == "ok", parsed["errors"]
    (http,) = _children(parsed["config"][0]["parsed"], "http")
    block: list[dict[str, Any]] = http["block"]
    return block


@pytest.fixture(scope="module")
def server(http_block: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (server,) = _children(http_block, "server")
    block: list[dict[str, Any]] = server["block"]
    return block


@pytest.fixture(scope="module")
def upstreams(http_block: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Upstream name → its servers' ``host:port``."""
    return {
        upstream["args"][0]: [s["args"][0] for s in _children(upstream["block"], "server")]
        for upstream in _children(http_block, "upstream")
    }


@pytest.fixture(scope="module")
def locations(server: list[dict[str, Any]]) -> list[Location]:
    found = []
    for location in _children(server, "location"):
        args = location["args"]
        modifier, path = (args[0], args[1]) if len(args) == 2 else ("", args[0])
        # Regular expressions and nested locations would need nginx's full algorithm.
        assert modifier in {"", "=", "^~"}, args
        assert not _children(location["block"], "location"), args
        found.append(Location(modifier, path, location["block"]))
    return found


def _select(locations: list[Location], uri: str) -> Location:
    """The location nginx serves ``uri`` from (exact match, else longest prefix)."""
    for location in locations:
        if location.modifier == "=" and location.path == uri:
            return location
    prefixes = [loc for loc in locations if loc.modifier != "=" and uri.startswith(loc.path)]
    assert prefixes, f"no location serves {uri}"
    return max(prefixes, key=lambda location: len(location.path))


def test_nginx_directive_table_accepts_the_config() -> None:
    parsed = _parse(NGINX_CONF)

    assert parsed["status"] == "ok", parsed["errors"]


def test_a_misplaced_directive_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "nginx.conf"
    text = NGINX_CONF.read_text()
    assert "worker_connections 1024;" in text
    broken.write_text(text.replace("worker_connections 1024;", "proxy_pass http://engine;"))

    parsed = _parse(broken)

    assert parsed["status"] == "failed"
    assert "proxy_pass" in parsed["errors"][0]["error"]


@pytest.mark.parametrize(("uri", "service"), ROUTES)
def test_the_request_reaches_the_service_that_owns_it(
    locations: list[Location],
    upstreams: dict[str, list[str]],
    service_ports: dict[str, int],
    uri: str,
    service: str,
) -> None:
    location = _select(locations, uri)

    proxy_pass = location.directive("proxy_pass")
    assert proxy_pass is not None, f"{uri} is not proxied"
    (target,) = proxy_pass
    assert target.startswith("http://")
    # No URI part: the request path goes to the service unchanged.
    upstream = target.removeprefix("http://")
    assert "/" not in upstream
    assert upstreams[upstream] == [f"{service}:{service_ports[service]}"]


def test_the_proxy_listens_where_compose_publishes_and_answers_its_healthcheck(
    server: list[dict[str, Any]],
    locations: list[Location],
    compose_services: dict[str, Any],
) -> None:
    proxy = compose_services["proxy"]
    (listen,) = _children(server, "listen")
    health_url = proxy["healthcheck"]["test"][-1]
    health_path = "/" + health_url.split("/", 3)[3]

    assert [int(listen["args"][0])] == [port["target"] for port in proxy["ports"]]
    assert health_url.startswith(f"http://127.0.0.1:{listen['args'][0]}/")
    returned = _select(locations, health_path).directive("return")
    assert returned is not None and returned[0] == "200"


def test_upstream_names_are_re_resolved_through_dockers_dns(
    http_block: list[dict[str, Any]],
) -> None:
    (resolver,) = _children(http_block, "resolver")

    assert resolver["args"][0] == "127.0.0.11"
    for upstream in _children(http_block, "upstream"):
        assert _children(upstream["block"], "zone"), upstream["args"]
        for server in _children(upstream["block"], "server"):
            assert "resolve" in server["args"], server["args"]
