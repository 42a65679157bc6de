"""``make demo``: the services demo runs the invoice example to a correct summary."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_the_services_demo_completes_every_order_and_reports_the_incidents(
    database_url: str, rabbitmq_vhost: Any, tmp_path: Path
) -> None:
    base_port = 20000 + secrets.randbelow(20000)
    while any(_busy(base_port + n) for n in range(4)):
        base_port = 20000 + secrets.randbelow(20000)
    env = {
        **os.environ,
        "SAFEPOINT_DATABASE_URL": database_url,
        "SAFEPOINT_AMQP_URL": rabbitmq_vhost.url,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "safepoint.demo",
            "--instances",
            "30",
            "--base-port",
            str(base_port),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "deployed invoice.bpmn over HTTP" in out
    assert "started 30 instances" in out
    summary = out.split("\nsummary\n", 1)[1]
    # three orders start with the mail server down: three incidents, the rest complete
    completed = int(summary.split("completed", 1)[1].split("of", 1)[0])
    incidents = int(summary.split("incidents", 1)[1].split()[0])
    assert incidents >= 3
    assert completed + incidents == 30
    assert f"dead letters   {incidents} from this run" in summary
    assert (tmp_path / ".demo" / "logs" / "engine.log").exists()


def _busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
