"""``Consumer(ack_batch=N)``: batched acks, the same on memory:// and RabbitMQ.

Also ``SimpleQueue(ack_batch=N)``, whose ``get`` consumes with such a Consumer.

What reached the broker is read back by cutting the consumer's connection
behind its back (memory://: ``close_all_connections()``; RabbitMQ: a
loopback proxy's cut): the broker requeues what was not acked, and the
queue's ready count says how many acks were lost.  The channel's batch is
made first with a long deadline (``channel.ack_batch(100, delay=60)``), so
that only the flush under test can have sent the acks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from kombu_lite import Connection, Consumer, Message, Producer, Queue, SimpleQueue
from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport.memory import default_broker


@dataclass
class Setup:
    """The consumer's connection (breakable) and the direct one."""

    url: str
    direct: str
    cut: Callable[[], None]


@pytest.fixture
def setup(
    transport_kind: str, url: str, request: pytest.FixtureRequest
) -> Iterator[Setup]:
    if transport_kind == "memory":
        yield Setup(url, url, default_broker().close_all_connections)
        return
    from tests.faults.proxy import FaultProxy

    with FaultProxy() as proxy:
        yield Setup(proxy.url, url, proxy.cut)


@pytest.fixture
def queue(
    connection: Connection, unique: str, cleanup: Callable[[Queue], None]
) -> Queue:
    queue = Queue(f"acks-{unique}", durable=False)
    cleanup(queue)
    with connection.channel() as channel:
        queue.declare(channel=channel)
    return queue


def publish(connection: Connection, queue: Queue, count: int) -> None:
    with connection.channel() as channel:
        producer = Producer(channel)
        for number in range(count):
            producer.publish({"n": number}, routing_key=queue.name)


def ready_after_cut(setup: Setup, queue: Queue, channel: Channel) -> int:
    """Cut the consumer's connection; the ready count once the broker requeued.

    A reply on the consumer's channel first: the broker has then processed
    every frame written on it before (a cut drops what is in flight).
    """
    channel.queue_declare(queue.name, passive=True)
    setup.cut()
    deadline = time.monotonic() + 10
    with Connection(setup.direct) as conn, conn.channel() as channel:
        while True:
            ok = channel.queue_declare(queue.name, passive=True)
            if ok.consumer_count == 0 or time.monotonic() > deadline:
                return int(ok.message_count)
            time.sleep(0.05)


def receive(
    conn: Connection, channel: Channel, queue: Queue, count: int, **options: object
) -> tuple[Consumer, list[Message]]:
    """Consume ``count`` messages without acking them (yet)."""
    got: list[Message] = []
    consumer = Consumer(
        channel, [queue], on_message=got.append, prefetch_count=1000, **options
    )
    consumer.consume()
    while len(got) < count:
        conn.drain_events(timeout=5)
    return consumer, got


@pytest.fixture
def consuming(setup: Setup) -> Iterator[tuple[Connection, Channel]]:
    conn = Connection(setup.url)
    channel = conn.channel()
    channel.ack_batch(100, delay=60.0)
    yield conn, channel
    conn.release()


def test_pending_acks_are_sent_when_the_drain_waits(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 5)
    got: list[Message] = []

    def on_message(message: Message) -> None:
        got.append(message)
        message.ack()

    Consumer(channel, [queue], on_message=on_message, ack_batch=100).consume()
    while len(got) < 5:
        conn.drain_events(timeout=5)
    with pytest.raises(TimeoutError):
        conn.drain_events(timeout=0.05)

    assert ready_after_cut(setup, queue, channel) == 0


def test_acks_lost_with_the_connection_are_delivered_again(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 5)
    _consumer, got = receive(conn, channel, queue, 5, ack_batch=100)
    for message in got:
        message.ack()  # recorded, not sent

    assert ready_after_cut(setup, queue, channel) == 5


def test_flush_acks_sends_them(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 5)
    consumer, got = receive(conn, channel, queue, 5, ack_batch=100)
    for message in got:
        message.ack()

    consumer.flush_acks()

    assert ready_after_cut(setup, queue, channel) == 0


def test_the_limit_sends_a_full_batch(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 5)
    _consumer, got = receive(conn, channel, queue, 5, ack_batch=3)
    for message in got:
        message.ack()

    assert ready_after_cut(setup, queue, channel) == 2  # 3 sent, 2 pending


def test_an_ack_out_of_order_never_acks_the_earlier_message(
    connection: Connection, queue: Queue, consuming: tuple[Connection, Channel]
) -> None:
    conn, channel = consuming
    publish(connection, queue, 2)
    _consumer, got = receive(conn, channel, queue, 2, ack_batch=100)

    got[1].ack()
    channel.close()  # sends the pending ack; the first message goes back

    with connection.channel() as check:
        back = check.basic_get(queue.name, no_ack=True)
        assert back is not None
        assert back.payload == {"n": 0}
        assert check.basic_get(queue.name) is None


def test_a_reject_sends_the_pending_acks(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 3)
    _consumer, got = receive(conn, channel, queue, 3, ack_batch=100)
    got[0].ack()
    got[1].ack()

    got[2].reject()

    assert ready_after_cut(setup, queue, channel) == 0


def test_cancel_sends_the_pending_acks(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    conn, channel = consuming
    publish(connection, queue, 3)
    consumer, got = receive(conn, channel, queue, 3, ack_batch=100)
    for message in got:
        message.ack()

    consumer.cancel()

    assert ready_after_cut(setup, queue, channel) == 0


def test_closing_the_connection_sends_the_pending_acks(
    connection: Connection, setup: Setup, queue: Queue
) -> None:
    publish(connection, queue, 3)
    conn = Connection(setup.url)
    channel = conn.channel()
    channel.ack_batch(100, delay=60.0)
    _consumer, got = receive(conn, channel, queue, 3, ack_batch=100)
    for message in got:
        message.ack()

    conn.release()

    with connection.channel() as check:
        assert check.queue_declare(queue.name, passive=True).message_count == 0


def test_the_deadline_sends_acks_nobody_flushes(
    connection: Connection, setup: Setup, queue: Queue
) -> None:
    publish(connection, queue, 3)
    with Connection(setup.url) as conn:
        channel = conn.channel()
        _consumer, got = receive(conn, channel, queue, 3, ack_batch=100)
        for message in got:
            message.ack()

        time.sleep(0.5)  # the deadline is 0.1 s

        assert ready_after_cut(setup, queue, channel) == 0


def test_two_threads_acking_one_channel(
    connection: Connection, queue: Queue, consuming: tuple[Connection, Channel]
) -> None:
    conn, channel = consuming
    publish(connection, queue, 200)
    consumer, got = receive(conn, channel, queue, 200, ack_batch=10)

    def ack(parity: int) -> None:
        for message in got[parity::2]:
            message.ack()

    threads = [threading.Thread(target=ack, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    consumer.flush_acks()  # raises if a tag was acked twice (channel closed)
    channel.close()

    with connection.channel() as check:
        assert check.queue_declare(queue.name, passive=True).message_count == 0


def test_ack_batch_must_be_a_positive_int(connection: Connection, queue: Queue) -> None:
    with pytest.raises(ConfigurationError, match="ack_batch must be a positive int"):
        Consumer(connection, [queue], on_message=print, ack_batch=0)


# -- SimpleQueue(ack_batch=N) ------------------------------------------------------


#: get() consumes (the Consumer's deliveries); get_nowait() before any get()
#: asks with basic.get.
TAKES = {
    "get": lambda simple: simple.get(timeout=5),
    "get_nowait": lambda simple: simple.get_nowait(),
}
#: A get that finds nothing: get() waits, get(block=False) does not.
MISSES = {
    "timeout": lambda simple: simple.get(timeout=0.05),
    "block_false": lambda simple: simple.get(block=False),
}


@pytest.mark.parametrize("take", TAKES.values(), ids=TAKES.keys())
def test_simple_queue_sends_the_acks_of_its_messages_n_at_a_time(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
    take: Callable[[SimpleQueue], Message],
) -> None:
    _conn, channel = consuming
    publish(connection, queue, 5)
    simple = SimpleQueue(channel, queue, ack_batch=3)
    got = [take(simple) for _ in range(5)]

    for message in got:
        message.ack()

    assert ready_after_cut(setup, queue, channel) == 2  # 3 sent, 2 pending


@pytest.mark.parametrize("miss", MISSES.values(), ids=MISSES.keys())
def test_a_simple_queue_get_that_finds_nothing_sends_the_pending_acks(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
    miss: Callable[[SimpleQueue], Message],
) -> None:
    _conn, channel = consuming
    publish(connection, queue, 1)
    simple = SimpleQueue(channel, queue, ack_batch=100)
    simple.get(timeout=5).ack()

    with pytest.raises(SimpleQueue.Empty):
        miss(simple)

    assert ready_after_cut(setup, queue, channel) == 0


def test_closing_a_simple_queue_sends_the_pending_acks(
    connection: Connection,
    setup: Setup,
    queue: Queue,
    consuming: tuple[Connection, Channel],
) -> None:
    _conn, channel = consuming
    publish(connection, queue, 2)
    simple = SimpleQueue(channel, queue, ack_batch=100)
    got = [simple.get(timeout=5) for _ in range(2)]
    for message in got:
        message.ack()

    simple.close()

    assert ready_after_cut(setup, queue, channel) == 0


def test_releasing_the_connection_sends_a_simple_queues_pending_acks(
    connection: Connection, setup: Setup, queue: Queue
) -> None:
    publish(connection, queue, 2)
    conn = Connection(setup.url)
    conn.default_channel.ack_batch(100, delay=60.0)
    simple = conn.SimpleQueue(queue, ack_batch=100)
    got = [simple.get(timeout=5) for _ in range(2)]
    for message in got:
        message.ack()

    conn.release()

    with connection.channel() as check:
        assert check.queue_declare(queue.name, passive=True).message_count == 0


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "3"])
def test_simple_queue_refuses_a_bad_ack_batch_as_consumer_does(
    connection: Connection, queue: Queue, value: object
) -> None:
    with pytest.raises(ConfigurationError) as simple_error:
        SimpleQueue(connection, queue, ack_batch=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as consumer_error:
        Consumer(connection, [queue], on_message=print, ack_batch=value)  # type: ignore[arg-type]

    assert type(simple_error.value) is type(consumer_error.value)
    assert str(simple_error.value) == str(consumer_error.value)
