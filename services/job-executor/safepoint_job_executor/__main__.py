"""``python -m safepoint_job_executor`` (``safepoint-job-executor``): run one job-executor.

Start-up, in order: settings from ``SAFEPOINT_*`` variables, logging, RabbitMQ, the
topology (declared idempotently), the delegate registry, the engine core on the
database (migrated unless ``SAFEPOINT_DATABASE_MIGRATE=false``), the consumer, then the
HTTP server (health, readiness, metrics). Whatever cannot start is reported in one
line on stderr, with what to do, and the exit code is 2.

Then it runs until SIGTERM or SIGINT: it stops taking messages, lets the running jobs
finish within ``SAFEPOINT_EXECUTOR_SHUTDOWN_GRACE_SECONDS`` (their messages are then
acknowledged), closes the connection (RabbitMQ redelivers whatever is unacknowledged to
another executor) and exits 0. A second signal cuts the grace period short.

Exit codes: 0 stopped by a signal; 1 crashed; 2 could not start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Final, NoReturn

import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from safepoint import eventloop, heap, startup, tracing
from safepoint.core.context import EngineConfig
from safepoint.embedded import Engine, tracecontext
from safepoint.errors import BrokerUnavailable, MessagingError, PersistenceError
from safepoint.logs import configure_logging
from safepoint.messaging import (
    Publisher,
    Topology,
    connect,
    declare_topology,
    open_channel,
    redact,
)
from safepoint.messaging.outbox import OutboxRelay
from safepoint.registry import DelegateRegistryError, load_delegates
from safepoint.startup import event_loop, one_line, read_settings
from safepoint_job_executor.app import HttpServer, bind, create_app, http_server, serve
from safepoint_job_executor.consumers import JobConsumer
from safepoint_job_executor.metrics import JobMetrics
from safepoint_job_executor.service import DatabaseProbe, JobExecution
from safepoint_job_executor.settings import JobExecutorSettings

logger = logging.getLogger("safepoint_job_executor")

PROGRAM: Final = "safepoint-job-executor"
EXIT_OK: Final = 0
EXIT_CRASH: Final = 1
EXIT_CANNOT_START: Final = startup.EXIT_CANNOT_START

CLOSE_TIMEOUT: Final = 5.0
"""Seconds each step of the shutdown after the grace period (HTTP, broker) may take."""


class StartupError(Exception):
    """The job-executor cannot start; the message says why and what to do, in one line."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """How a run ended: the exit code, and how many jobs were still running."""

    code: int
    jobs_still_running: int = 0


def node_name() -> str:
    """Who this process is, in job leases and in RabbitMQ: ``job-executor@host:pid``."""
    return f"job-executor@{socket.gethostname()}:{os.getpid()}"


async def run(
    settings: JobExecutorSettings, *, topology: Topology | None = None, freeze_heap: bool = False
) -> Stopped:
    """Run the job-executor until SIGTERM or SIGINT; return how it ended.

    Args:
        settings: built once, from the environment.
        topology: the exchange and queue names (``safepoint.*``; tests use others).
        freeze_heap: freeze what the start made before the first job is taken
            (:func:`safepoint.heap.freeze_startup`); only a process that runs one
            job-executor for its whole life should (``main`` does).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            logger.warning("%s again: not waiting for running jobs any longer", name)
            hurry.set()
        else:
            logger.info("%s: stopping", name)
            stop.set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await _run(settings, topology or Topology(), stop, hurry, freeze_heap=freeze_heap)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _run(
    settings: JobExecutorSettings,
    topology: Topology,
    stop: asyncio.Event,
    hurry: asyncio.Event,
    *,
    freeze_heap: bool,
) -> Stopped:
    """Start, run until ``stop`` is set, then stop gracefully (``hurry`` cuts it short)."""
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        try:
            consumer, server_done = await _start(settings, stack, topology, freeze_heap=freeze_heap)
        except StartupError as exc:
            sys.stderr.write(f"{PROGRAM}: {exc}\n")
            return Stopped(EXIT_CANNOT_START)
        code = EXIT_OK
        stopped = loop.create_task(stop.wait())
        await asyncio.wait({stopped, server_done}, return_when=asyncio.FIRST_COMPLETED)
        if server_done.done() and not stop.is_set():
            stopped.cancel()
            logger.error("the HTTP server stopped unexpectedly; stopping")
            code = EXIT_CRASH
        grace = settings.executor.shutdown_grace_seconds
        logger.info(
            "no new jobs taken; waiting up to %g s for %d running job(s)",
            grace,
            consumer.busy_threads,
        )
        draining = loop.create_task(consumer.stop(grace))
        hurried = loop.create_task(hurry.wait())
        await asyncio.wait({draining, hurried}, return_when=asyncio.FIRST_COMPLETED)
        hurried.cancel()
        if not draining.done():
            draining.cancel()
        still_running = consumer.busy_threads
        if still_running:
            logger.warning(
                "%d job(s) still running; their messages go back to the queue", still_running
            )
    logger.info("stopped")
    return Stopped(code, still_running)


async def _start(
    settings: JobExecutorSettings, stack: AsyncExitStack, topology: Topology, *, freeze_heap: bool
) -> tuple[JobConsumer, asyncio.Task[None]]:
    """Open everything the job-executor needs; ``stack`` closes it in reverse order.

    Raises:
        StartupError: something cannot be reached or is misconfigured.
    """
    loop = asyncio.get_running_loop()
    node = node_name()
    amqp_url = settings.amqp.url

    try:
        with _quiet("aiormq.connection"):  # it logs the failure we report in one line
            connection = await connect(amqp_url, name=node)
    except BrokerUnavailable as exc:
        raise StartupError(one_line(str(exc))) from exc
    stack.push_async_callback(_close_connection, connection)
    try:
        publish_channel = await open_channel(connection)
        consume_channel = await open_channel(connection)
        await declare_topology(publish_channel, topology)
    except MessagingError as exc:
        raise StartupError(one_line(f"RabbitMQ at {redact(amqp_url)}: {exc}")) from exc
    publisher = Publisher(publish_channel, topology=topology, app_id="job-executor")

    try:
        delegates = load_delegates(settings.delegates)
    except DelegateRegistryError as exc:
        raise StartupError(one_line(f"{exc}; check SAFEPOINT_DELEGATES_MODULE")) from exc

    database_url = settings.database.url
    shown_url = sa.make_url(database_url).render_as_string(hide_password=True)
    relay = OutboxRelay(publisher, loop, topology=topology)
    try:
        engine = await asyncio.to_thread(
            Engine,
            database_url,
            delegates=delegates,
            config=EngineConfig(
                default_retries=settings.engine.default_retries,
                failed_job_retry_time_cycle=settings.engine.failed_job_retry_time_cycle,
            ),
            migrate=settings.database.migrate,
            on_commit=relay,
            job_lease=settings.executor.job_lease,
            node_name=node,
            # One connection per worker thread, so that no job waits for the pool.
            pool_size=max(settings.database.pool_size, settings.executor.concurrency),
            # A span per activity executed inside each job's span (tracing on only).
            activity_listener=tracing.activity_listener,
            definition_cache_size=settings.engine.definition_cache_size,
        )
    except (PersistenceError, sa.exc.ArgumentError) as exc:
        raise StartupError(
            one_line(f"cannot open the database {shown_url} ({exc}); start it or set ")
            + "SAFEPOINT_DATABASE_URL"
        ) from exc
    stack.callback(engine.close)
    probe = DatabaseProbe(database_url)
    stack.callback(probe.close)

    http = settings.http
    try:
        sock = bind(http.host, http.port)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {http.host}:{http.port} ({exc.strerror or exc}); "
            "set SAFEPOINT_HTTP_PORT to a free port"
        ) from exc
    stack.callback(sock.close)

    metrics = JobMetrics()
    consumer = JobConsumer(
        JobExecution(engine, metrics),
        concurrency=settings.executor.concurrency,
        prefetch=settings.executor.prefetch,
        topology=topology,
        relay=relay,
        follow_ups=settings.executor.follow_ups,
    )
    stack.callback(consumer.close)
    if freeze_heap:  # before the first job: the collection it starts with pauses the process
        heap.freeze_startup()
    try:
        await consumer.start(consume_channel, publisher)
    except MessagingError as exc:
        raise StartupError(one_line(f"cannot consume {topology.jobs_queue}: {exc}")) from exc

    async def broker_ready() -> bool:
        return consumer.ready and not connection.is_closed

    async def database_ready() -> bool:
        return await asyncio.to_thread(probe.reachable)

    app = create_app(broker=broker_ready, database=database_ready, metrics=metrics)
    server = http_server(app, log_level=settings.log_level)
    server_done = serve(server, sock)
    stack.push_async_callback(_stop_server, server, server_done)
    logger.info(
        "%s started: %d delegate(s), %d worker thread(s), %s event loop, "
        "health on http://%s:%d/health",
        node,
        len(delegates),
        settings.executor.concurrency,
        eventloop.loop_name(asyncio.get_running_loop()),
        http.host,
        http.port,
    )
    return consumer, server_done


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence logger ``name`` for a while (its errors are reported otherwise)."""
    target = logging.getLogger(name)
    level = target.level
    target.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        target.setLevel(level)


async def _stop_server(server: HttpServer, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT)
    except TimeoutError:
        task.cancel()
    except Exception as exc:  # the server failed: nothing more to stop
        logger.warning("the HTTP server ended with %r", exc)


async def _close_connection(connection: AbstractRobustConnection) -> None:
    try:
        await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)
    except Exception as exc:  # closing is best effort: the broker redelivers anyway
        logger.warning("closing the RabbitMQ connection failed: %r", exc)


def main() -> NoReturn:
    """Run a job-executor with settings from the environment, then exit with its code."""
    settings = read_settings(PROGRAM, JobExecutorSettings)
    configure_logging(settings.log_level, settings.log_format, trace_context=tracecontext.current)
    loop_factory = event_loop(PROGRAM, settings.event_loop)
    tracing.configure(PROGRAM)
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            stopped = runner.run(run(settings, freeze_heap=True))
    except Exception:
        logger.exception("the job-executor crashed")
        tracing.shutdown()
        sys.exit(EXIT_CRASH)
    tracing.shutdown()
    if stopped.jobs_still_running:
        # Their threads cannot be interrupted; the interpreter would wait for them.
        # Their transactions roll back when the connections drop, their messages are
        # redelivered: leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stopped.code)
    sys.exit(stopped.code)


if __name__ == "__main__":
    main()
