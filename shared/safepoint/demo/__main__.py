"""``python -m safepoint.demo``: the services demo, or ``--embedded`` for the step-by-step one."""

from __future__ import annotations

import argparse
from pathlib import Path

from safepoint.demo import embedded, services


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one of the demos."""
    parser = argparse.ArgumentParser(prog="python -m safepoint.demo")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="run the embedded engine step by step instead of the services",
    )
    parser.add_argument(
        "--database",
        help="embedded demo: SQLAlchemy URL (default: a fresh SQLite file under .demo/)",
    )
    parser.add_argument("--instances", type=int, default=300, help="services demo: orders")
    parser.add_argument("--executors", type=int, default=2, help="services demo: executors")
    parser.add_argument(
        "--base-port", type=int, default=8080, help="services demo: the engine's HTTP port"
    )
    args = parser.parse_args(argv)
    if args.embedded:
        url = args.database
        if url is None:
            path = Path(".demo/safepoint-embedded.db")
            path.parent.mkdir(exist_ok=True)
            path.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        return embedded.run(url)
    return services.run(
        instances=args.instances, executors=args.executors, base_port=args.base_port
    )


raise SystemExit(main())
