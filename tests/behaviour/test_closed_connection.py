"""After ``Connection.close()`` its producers and channels raise; it reconnects.

kombu raises when a producer or channel is used after its connection was
closed; kombu_lite raises :class:`ChannelClosed` saying why instead of
quietly opening the connection again.  The ``Connection`` object itself
still reconnects when used directly, and pools, which give connections
back without closing them, are unaffected.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import ChannelClosed
from kombu_lite.pools import ProducerPool

from .conftest import RawMessage

Cleanup = Callable[[Queue], None]
RawGet = Callable[[str], RawMessage | None]


def wait_get(raw_get: RawGet, name: str) -> RawMessage | None:
    """``raw_get``, waiting up to 2 s for a publish to arrive."""
    deadline = time.monotonic() + 2
    while (message := raw_get(name)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return message


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    declared = Queue(f"{unique}-q")
    cleanup(declared)
    declared.declare(channel=connection)
    return declared


@pytest.mark.parametrize("retry", [False, True])
def test_a_producer_used_after_close_raises_and_leaves_the_connection_closed(
    connection: Connection, queue: Queue, raw_get: RawGet, retry: bool
) -> None:
    producer = connection.Producer(routing_key=queue.name)
    producer.publish(1)
    assert wait_get(raw_get, queue.name) is not None

    connection.close()

    with pytest.raises(ChannelClosed, match="this Producer's connection was closed"):
        producer.publish(2, retry=retry)
    assert not connection.connected
    assert raw_get(queue.name) is None


def test_a_channel_used_after_close_says_so_even_once_reconnected(
    connection: Connection, queue: Queue
) -> None:
    channel = connection.channel()
    connection.release()
    connection.connect()  # the Connection itself reconnects

    with pytest.raises(ChannelClosed) as caught:
        queue(channel).get()

    assert str(caught.value) == (
        f"channel {channel.channel_id} was closed with its connection "
        f"(Connection.close() or release()); open a new channel"
    )
    assert "the connection is closed" not in str(caught.value)
    assert channel.retired
    assert not channel.is_open
    assert queue(connection.channel()).get() is None


def test_the_connection_itself_reconnects_lazily_after_close(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    connection.Producer().publish(1, routing_key=queue.name)
    connection.close()

    connection.Producer().publish(2, routing_key=queue.name)

    assert connection.connected
    assert wait_get(raw_get, queue.name) is not None
    assert wait_get(raw_get, queue.name) is not None


def test_revive_binds_a_producer_to_the_reconnected_connection(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(routing_key=queue.name)
    producer.publish(1)
    assert wait_get(raw_get, queue.name) is not None
    connection.close()

    producer.revive(connection)
    producer.publish(2)

    message = wait_get(raw_get, queue.name)
    assert message is not None
    assert message.body == b"2"


def test_pooled_producers_and_channels_are_reused_across_releases(
    url: str, queue: Queue, raw_get: RawGet
) -> None:
    # Confirmed publishes: each is on the queue before the gets below.
    connection = Connection(url, confirm_publish=True)
    pool = connection.Pool(1)
    producers = ProducerPool(pool, limit=1)
    for n in range(3):
        with producers.acquire(block=True) as producer:
            producer.publish(n, routing_key=queue.name)
    channels = connection.ChannelPool(1)
    for _ in range(2):
        with channels.acquire() as channel:
            assert queue(channel).get(no_ack=True) is not None
    connection.release()  # retires the pooled channel: the pool opens another
    with channels.acquire() as channel:
        assert channel.is_open
        assert queue(channel).get(no_ack=True) is not None
    assert raw_get(queue.name) is None
    pool.force_close_all()
    connection.release()
