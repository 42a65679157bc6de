"""Point 2: the floor, a hand-written hop loop with aio-pika and asyncpg on the same servers.

Each worker process consumes a quorum queue (prefetch ``concurrency``) and, per message,
runs one transaction (lock the instance row, update it, insert the next job row, delete
the consumed one), publishes the next message persistent with publisher confirms, then
acks, as in ``shared/reference/performance-floor.md``. Like the no-op delegate, each
hop appends a timestamp line, so latency is measured the same way.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from bench_async import hop_latencies
from bench_infra import (
    CpuMeter,
    asyncpg_dsn,
    fresh_database,
    fresh_vhost,
    load_average,
    percentile,
)

from safepoint.eventloop import loop_factory
from safepoint.settings import EventLoop

QUEUE = "floor.jobs"
SCHEMA = """
CREATE TABLE floor_instance (id text PRIMARY KEY, hop integer NOT NULL, updated_at timestamptz);
CREATE TABLE floor_job (id text PRIMARY KEY, instance_id text NOT NULL, hop integer NOT NULL);
"""


async def _worker(dsn: str, amqp_url: str, hops: int, concurrency: int, times: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=concurrency)
    queue = await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    fd = os.open(times, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def hop(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        instance_id, job_id, number = message.body.decode().split()
        os.write(fd, f"{instance_id} h{number} {time.time():.6f}\n".encode())
        next_hop = int(number) + 1
        next_job = str(uuid.uuid4())
        async with pool.acquire() as db, db.transaction():
            await db.fetchrow(
                "SELECT hop FROM floor_instance WHERE id = $1 FOR UPDATE", instance_id
            )
            await db.execute(
                "UPDATE floor_instance SET hop = $2, updated_at = now() WHERE id = $1",
                instance_id,
                next_hop,
            )
            if next_hop < hops:
                await db.execute(
                    "INSERT INTO floor_job (id, instance_id, hop) VALUES ($1, $2, $3)",
                    next_job,
                    instance_id,
                    next_hop,
                )
            await db.execute("DELETE FROM floor_job WHERE id = $1", job_id)
        if next_hop < hops:
            body = f"{instance_id} {next_job} {next_hop}".encode()
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=QUEUE,
            )
        await message.ack()

    async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        asyncio.get_running_loop().create_task(hop(message))

    await queue.consume(handle)
    await asyncio.Future()


def _worker_main(
    dsn: str, amqp_url: str, hops: int, concurrency: int, times: str, loop: EventLoop
) -> None:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        runner.run(_worker(dsn, amqp_url, hops, concurrency, times))


async def _seed(dsn: str, amqp_url: str, instances: int) -> None:
    db = await asyncpg.connect(dsn)
    await db.execute(SCHEMA)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    jobs = [(f"i{n}", str(uuid.uuid4())) for n in range(instances)]
    await db.executemany(
        "INSERT INTO floor_instance (id, hop) VALUES ($1, 0)", [(i,) for i, _ in jobs]
    )
    await db.executemany("INSERT INTO floor_job (id, instance_id, hop) VALUES ($2, $1, 0)", jobs)
    await db.close()
    await connection.close()


async def _publish_all(amqp_url: str, instances: int) -> None:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await asyncio.gather(
        *(
            channel.default_exchange.publish(
                aio_pika.Message(f"i{n} seed-{n} 0".encode(), delivery_mode=2), routing_key=QUEUE
            )
            for n in range(instances)
        )
    )
    await connection.close()


async def _wait_done(dsn: str, instances: int, hops: int, timeout: float) -> float:
    db = await asyncpg.connect(dsn)
    deadline = time.monotonic() + timeout
    try:
        while True:
            done = await db.fetchval("SELECT count(*) FROM floor_instance WHERE hop >= $1", hops)
            if done >= instances:
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor: {done} of {instances} done in {timeout} s")
            await asyncio.sleep(0.02)
    finally:
        await db.close()


def run_floor(
    *,
    instances: int,
    hops: int,
    processes: int,
    concurrency: int = 8,
    timeout: float = 300.0,
    loop: EventLoop = "asyncio",
) -> dict[str, Any]:
    """One measured run of the floor; the same figures as :func:`bench_async.run_chain`.

    ``loop`` is the workers' event loop: asyncio's own, as the floor of the issue and of
    ``performance-floor.md`` was measured, or ``uvloop``, the one the services run on.
    """
    with (
        fresh_database() as database_url,
        fresh_vhost() as amqp_url,
        tempfile.TemporaryDirectory(prefix="sp-floor-") as scratch,
    ):
        dsn = asyncpg_dsn(database_url)
        asyncio.run(_seed(dsn, amqp_url, instances))
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(
                target=_worker_main,
                args=(dsn, amqp_url, hops, concurrency, f"{scratch}/{n}.times", loop),
                daemon=True,
            )
            for n in range(processes)
        ]
        for worker in workers:
            worker.start()
        try:
            time.sleep(1.5)  # connected and consuming
            meter = CpuMeter({"floor": [w.pid for w in workers if w.pid is not None]})
            load = load_average()
            meter.start()
            started = time.perf_counter()
            asyncio.run(_publish_all(amqp_url, instances))
            ended = asyncio.run(_wait_done(dsn, instances, hops, timeout))
            cpu = meter.stop()
        finally:
            for worker in workers:
                worker.terminate()
                worker.join(10)
        latencies = hop_latencies(Path(scratch))
    safe_points = instances * hops
    seconds = ended - started
    return {
        "load_average": load,
        "instances": instances,
        "processes": processes,
        "safe_points": safe_points,
        "seconds": round(seconds, 3),
        "safe_points_per_second": round(safe_points / seconds, 1),
        "hop_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "hop_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "cpu_seconds": cpu,
        "cpu_ms_per_safe_point": {
            name: round(value * 1000 / safe_points, 3) for name, value in cpu.items()
        },
    }


if __name__ == "__main__":
    import json

    result = run_floor(instances=int(sys.argv[1]), hops=20, processes=int(sys.argv[2]))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
