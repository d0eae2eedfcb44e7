"""Message TTLs and ``x-expires`` on time, the same on memory:// and RabbitMQ."""

from __future__ import annotations

import time

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import NotFound

from .topology import Cleanup, declare, get, publish


def message_count(connection: Connection, queue: Queue) -> int:
    _, count, _ = queue.queue_declare(passive=True, channel=connection.channel())
    return count


def test_a_queue_ttl_expires_messages_without_a_consumer(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-ttl", **{"x-message-ttl": 100})
    publish(connection, queue.name, b"1")
    publish(connection, queue.name, b"2")
    assert message_count(connection, queue) == 2

    time.sleep(0.4)

    assert message_count(connection, queue) == 0


def test_the_shorter_of_queue_and_message_ttl_wins(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-ttl", **{"x-message-ttl": 60000})
    publish(connection, queue.name, b"short", expiration=0.1)
    publish(connection, queue.name, b"long")

    time.sleep(0.4)

    message = get(connection, queue.name)
    assert message is not None
    assert message.body == b"long"


def test_x_expires_deletes_an_unused_queue(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-exp", **{"x-expires": 200})

    time.sleep(0.6)

    with pytest.raises(NotFound):
        queue.queue_declare(passive=True, channel=connection.channel())


def test_x_expires_spares_a_queue_with_a_consumer(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-exp", **{"x-expires": 200})
    with connection.Consumer([queue], on_message=lambda message: None):
        time.sleep(0.6)
        assert message_count(connection, queue) == 0  # still there

    time.sleep(0.6)  # the consumer gone, its time runs again
    with pytest.raises(NotFound):
        queue.queue_declare(passive=True, channel=connection.channel())


def test_declaring_again_restarts_x_expires(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-exp", **{"x-expires": 400})
    for _ in range(3):
        time.sleep(0.2)
        queue.declare(channel=connection.channel())

    assert message_count(connection, queue) == 0
