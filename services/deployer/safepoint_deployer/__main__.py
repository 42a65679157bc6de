"""``python -m safepoint_deployer``: run the deployer's HTTP API, settings from the environment."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from safepoint import eventloop, tracing
from safepoint.embedded import tracecontext
from safepoint.errors import BrokerUnavailable
from safepoint.logs import configure_logging
from safepoint.messaging import ensure_reachable
from safepoint_deployer.app import create_app
from safepoint_deployer.settings import Settings


def main() -> None:
    """Read the settings once, then serve :func:`create_app` with uvicorn until stopped."""
    try:
        settings = Settings()
    except ValidationError as exc:
        folded = " ".join(str(exc).split())
        sys.stderr.write(f"safepoint-deployer: invalid settings: {folded}\n")
        raise SystemExit(2) from None
    try:
        eventloop.loop_factory(settings.event_loop)  # uvicorn makes the loop; fail here clearly
    except RuntimeError as exc:
        sys.stderr.write(f"safepoint-deployer: {exc}\n")
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format, trace_context=tracecontext.current)
    if settings.publish_events:
        try:
            ensure_reachable(settings.amqp.url, name="safepoint-deployer-preflight")
        except BrokerUnavailable as exc:
            sys.stderr.write(f"safepoint-deployer: {exc}\n")
            raise SystemExit(2) from None
    tracing.configure("safepoint-deployer")
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.http.host,
            port=settings.http.port,
            log_level=settings.log_level.lower(),
            loop=settings.event_loop,
            log_config=None,  # the lines go through configure_logging's handler
        )
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
