"""``python -m safepoint_deployer``: run the deployer's HTTP API, settings from the environment."""

from __future__ import annotations

import uvicorn

from safepoint import heap, tracing
from safepoint.embedded import tracecontext
from safepoint.errors import BrokerUnavailable
from safepoint.logs import configure_logging
from safepoint.messaging import ensure_reachable
from safepoint.startup import cannot_start, event_loop, read_settings
from safepoint_deployer.app import create_app
from safepoint_deployer.settings import Settings

PROGRAM = "safepoint-deployer"


def main() -> None:
    """Read the settings once, then serve :func:`create_app` with uvicorn until stopped."""
    settings = read_settings(PROGRAM, Settings)
    event_loop(PROGRAM, settings.event_loop)  # uvicorn makes the loop: fail here, clearly
    configure_logging(settings.log_level, settings.log_format, trace_context=tracecontext.current)
    if settings.publish_events:
        try:
            ensure_reachable(settings.amqp.url, name=f"{PROGRAM}-preflight")
        except BrokerUnavailable as exc:
            cannot_start(PROGRAM, str(exc))
    tracing.configure(PROGRAM)
    try:
        app = create_app(settings)
        # What is imported and built so far lives as long as the process (what the
        # lifespan opens, the database engine and connections, is not frozen).
        heap.freeze_startup()
        uvicorn.run(
            app,
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
