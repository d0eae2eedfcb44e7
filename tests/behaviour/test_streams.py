"""Stream queues on RabbitMQ: declared, published to, read from an offset.

memory:// refuses streams with a 406 naming the gap (docs/guide/testing.rst),
so these run on RabbitMQ only.  A stream keeps its messages after they are
read: each consumer says where to start with the ``x-stream-offset``
consumer argument, and must use manual acks and a prefetch count.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from kombu_lite import Connection, Consumer, Message, Queue
from kombu_lite.exceptions import OperationalError, PreconditionFailed

pytestmark = pytest.mark.broker


@pytest.fixture
def stream(rabbitmq: str, unique: str) -> Iterator[Queue]:
    """A stream holding five messages, ``b"0"`` to ``b"4"``; deleted afterwards."""
    queue = Queue(f"{unique}-stream", queue_type="stream")
    with Connection(rabbitmq, confirm_publish=True) as conn:
        try:
            queue.declare(channel=conn.default_channel)
            producer = conn.Producer(routing_key=queue.name)
            for n in range(5):
                producer.publish(str(n).encode(), serializer="raw")
            yield queue
        finally:
            with contextlib.suppress(OperationalError, PreconditionFailed):
                queue.delete(channel=conn.channel())


def _read(url: str, queue: Queue, offset: object, count: int) -> list[bytes]:
    bodies: list[bytes] = []

    def on_message(body: object, message: Message) -> None:
        bodies.append(message.body)
        message.ack()

    with Connection(url) as conn:
        reader = Queue(
            queue.name,
            queue_type="stream",
            consumer_arguments={"x-stream-offset": offset},
        )
        with Consumer(
            conn,
            [reader],
            callbacks=[on_message],
            accept=["application/data"],
            prefetch_count=10,
        ):
            deadline = time.monotonic() + 10
            while len(bodies) < count and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.5)
    return bodies


def test_a_stream_is_read_from_the_first_message(rabbitmq: str, stream: Queue) -> None:
    assert _read(rabbitmq, stream, "first", 5) == [b"0", b"1", b"2", b"3", b"4"]


def test_a_stream_is_read_from_a_numeric_offset(rabbitmq: str, stream: Queue) -> None:
    assert _read(rabbitmq, stream, 3, 2) == [b"3", b"4"]


def test_reading_a_stream_leaves_its_messages_for_the_next_reader(
    rabbitmq: str, stream: Queue
) -> None:
    first = _read(rabbitmq, stream, "first", 5)
    again = _read(rabbitmq, stream, "first", 5)

    assert first == again == [b"0", b"1", b"2", b"3", b"4"]
