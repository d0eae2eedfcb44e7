"""A body many frames long goes out and comes back whole, without extra copies.

On RabbitMQ a body longer than ``frame_max`` (131072 bytes) travels as
several body frames; the client sends views of the body and gathers the
frames it receives into one buffer.  The memory the client holds while
publishing and while receiving is measured with ``tracemalloc``: the body
the test made is not counted, the body handed back is.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Queue

Cleanup = Callable[[Exchange | Queue], None]

#: A few MiB, and not a whole number of frames.
SIZE = (3 << 20) + 7
#: Large enough that one more copy dwarfs everything else measured.
BIG = 16 << 20
OCTETS = {"content_type": "application/octet-stream"}


def _body(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    q = Queue(f"large-{unique}", durable=False)
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


def _consume_one(connection: Connection, queue: Queue) -> Message:
    got: list[Message] = []
    with Consumer(connection, [queue], on_message=got.append, no_ack=True):
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            connection.drain_events(timeout=1)
    [message] = got
    return message


def _wait_until_queued(connection: Connection, queue: Queue) -> None:
    deadline = time.monotonic() + 30
    while (
        queue(connection.default_channel).queue_declare(passive=True).message_count < 1
    ):
        assert time.monotonic() < deadline, "the message never reached the queue"
        time.sleep(0.05)


def test_a_body_of_many_frames_reaches_a_consumer_whole(
    connection: Connection, queue: Queue
) -> None:
    body = _body(SIZE)
    connection.Producer(routing_key=queue.name).publish(body, **OCTETS)

    message = _consume_one(connection, queue)

    assert type(message.body) is bytes
    assert message.body == body


def test_a_body_of_many_frames_comes_whole_from_queue_get(
    connection: Connection, queue: Queue
) -> None:
    body = _body(SIZE)
    connection.Producer(routing_key=queue.name).publish(body, **OCTETS)
    _wait_until_queued(connection, queue)

    message = queue(connection.default_channel).get(no_ack=True)

    assert message is not None
    assert type(message.body) is bytes
    assert message.body == body


def test_publishing_a_large_body_makes_no_copy_of_it(
    connection: Connection, queue: Queue
) -> None:
    producer = connection.Producer(routing_key=queue.name)
    producer.publish(b"warm", **OCTETS)  # the channel and caches made
    body = b"\x01" * BIG

    tracemalloc.start()
    try:
        producer.publish(body, **OCTETS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < BIG // 4


def test_receiving_a_large_body_holds_it_about_once(
    connection: Connection, queue: Queue
) -> None:
    connection.Producer(routing_key=queue.name).publish(b"\x01" * BIG, **OCTETS)
    _wait_until_queued(connection, queue)

    tracemalloc.start()
    try:
        message = _consume_one(connection, queue)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert len(message.body) == BIG
    assert peak < BIG * 3 // 2
