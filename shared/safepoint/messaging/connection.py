"""Connections to RabbitMQ: robust (they reconnect by themselves) and named.

Connection errors are translated into :class:`~safepoint.errors.BrokerUnavailable` with
the broker's address and what to do; the password never appears in a message.
"""

from __future__ import annotations

import asyncio
from typing import Final
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from safepoint.errors import BrokerUnavailable

URL_SETTING: Final = "SAFEPOINT_AMQP_URL"
"""The environment variable the start-up hint tells the operator to set."""

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
"""Seconds to wait for the first connection before giving up."""

DEFAULT_RECONNECT_INTERVAL: Final = 2.0
"""Seconds between reconnection attempts after the connection was lost."""


def redact(url: str) -> str:
    """``url`` without user and password: ``amqp://host:port/vhost``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    except ValueError:
        return "<an invalid AMQP URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or 'amqp'}://{host}:{port}{parts.path or '/'}"


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (if any) replaced by ``***``."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    if not password:
        return text
    return text.replace(password, "***").replace(unquote(password), "***")


async def connect(
    url: str,
    *,
    name: str,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    reconnect_interval: float = DEFAULT_RECONNECT_INTERVAL,
    url_setting: str = URL_SETTING,
) -> AbstractRobustConnection:
    """Open a robust connection, which reconnects by itself after a broker restart.

    After a reconnection, channels, the exchanges and queues declared on them, their
    bindings, prefetch and consumers are restored by aio-pika.

    Args:
        url: ``amqp://user:password@host:port/vhost``.
        name: the connection's name in RabbitMQ's management UI (e.g. the service).
        timeout: seconds to wait for the first connection.
        reconnect_interval: seconds between reconnection attempts later on.
        url_setting: the setting the hint names when the broker cannot be reached.

    Raises:
        BrokerUnavailable: the broker cannot be reached, or refused the login.
    """
    where = redact(url)
    try:
        return await aio_pika.connect_robust(
            url,
            timeout=timeout,
            reconnect_interval=reconnect_interval,
            client_properties={"connection_name": name},
        )
    except (
        aiormq.exceptions.AuthenticationError,
        aiormq.exceptions.ProbableAuthenticationError,
    ) as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", url)
        raise BrokerUnavailable(
            f"RabbitMQ at {where} refused the login ({detail}); "
            f"check the user and password in {url_setting}"
        ) from exc
    except (TimeoutError, aiormq.exceptions.AMQPError, OSError) as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", url) if str(exc) else type(exc).__name__
        raise BrokerUnavailable(
            f"cannot reach RabbitMQ at {where} ({detail}). "
            f"Start it with `rabbitmq-server -detached` or set {url_setting}"
        ) from exc


async def open_channel(
    connection: AbstractRobustConnection, *, prefetch: int | None = None
) -> AbstractRobustChannel:
    """Open a channel with publisher confirms, on which unroutable mandatory messages raise.

    Args:
        connection: from :func:`connect`.
        prefetch: the most unacknowledged deliveries per consumer on this channel
            (``None`` leaves the broker's default, unlimited).

    Raises:
        BrokerUnavailable: the connection is closed or the channel cannot be opened.
    """
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        if prefetch is not None:
            await channel.set_qos(prefetch_count=prefetch)
    except (
        aiormq.exceptions.AMQPError,
        aiormq.exceptions.ChannelInvalidStateError,
        OSError,
    ) as exc:
        raise BrokerUnavailable(f"cannot open a channel to RabbitMQ: {exc!r}") from exc
    if not isinstance(channel, AbstractRobustChannel):  # pragma: no cover - aio-pika contract
        raise BrokerUnavailable("the connection gave a channel that is not robust")
    return channel


def ensure_reachable(url: str, *, name: str, timeout: float = 5.0) -> None:
    """Connect once and close, outside any event loop: a start-up check.

    Raises:
        BrokerUnavailable: RabbitMQ cannot be reached (the message says how to start it).
    """

    async def probe() -> None:
        connection = await connect(url, name=name, timeout=timeout)
        await connection.close()

    asyncio.run(probe())
