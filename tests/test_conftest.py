"""The shared fixtures give each test real, empty, isolated services."""

import asyncio

import aio_pika
import sqlalchemy as sa


def test_database_url_is_an_empty_database_of_the_test_own(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY, note TEXT)"))
            connection.execute(sa.text("INSERT INTO probe (id, note) VALUES (1, 'kept')"))
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT note FROM probe")).scalar_one() == "kept"
    finally:
        engine.dispose()


def test_amqp_url_reaches_a_broker_that_routes_messages(amqp_url: str) -> None:
    async def round_trip() -> bytes:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)
            await channel.default_exchange.publish(
                aio_pika.Message(body=b"ping"), routing_key=queue.name
            )
            message = await queue.get(timeout=5, fail=True)
            assert message is not None
            await message.ack()
            return message.body

    assert asyncio.run(round_trip()) == b"ping"
