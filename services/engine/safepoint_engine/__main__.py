"""``python -m safepoint_engine``: run the engine's HTTP API with settings from the environment."""

from __future__ import annotations

import logging

import uvicorn

from safepoint_engine.app import create_app
from safepoint_engine.settings import Settings


def main() -> None:
    """Read the settings once, then serve :func:`create_app` with uvicorn until stopped."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
