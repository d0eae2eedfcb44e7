"""The memory broker's delivery inbox: runs of deliveries, and the short paths.

A connection's inbox keeps the deliveries to one consumer as a run (one
list slot per message, tags worked out when drained) rather than one
object per delivery; these tests pin what a client sees through it: tags,
order, ``redelivered``, withdrawals on cancel and close, and the short
publish path of a queue without TTL, priority or length limits.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from kombu_lite.transport.base import (
    BasicProperties,
    ConnectionParameters,
    Delivery,
)
from kombu_lite.transport.delivery import new_delivery
from kombu_lite.transport.memory import (
    Broker,
    MemoryChannel,
    MemoryConnection,
    MemoryTransport,
)
from kombu_lite.transport.memory.connection import DeliveryRun
from kombu_lite.transport.memory.queue import QueuedMessage

PARAMS = ConnectionParameters(
    hostname="localhost", port=0, userid="guest", password="guest", virtual_host="/"
)
PLAIN = BasicProperties()


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def conn(broker: Broker) -> Iterator[MemoryConnection]:
    connection = MemoryTransport(broker).connect(PARAMS)
    yield connection
    connection.close()


@pytest.fixture
def channel(conn: MemoryConnection) -> MemoryChannel:
    channel = conn.channel()
    channel.queue_declare("q", durable=False)
    return channel


def publish(channel: MemoryChannel, *bodies: bytes, key: str = "q") -> None:
    for body in bodies:
        channel.basic_publish(body, PLAIN, "", key)


def collect(channel: MemoryChannel, **options: object) -> list[Delivery]:
    received: list[Delivery] = []
    channel.basic_consume("q", received.append, **options)  # type: ignore[arg-type]
    return received


def drain_all(conn: MemoryConnection) -> None:
    while True:
        try:
            conn.drain_events(timeout=0)
        except TimeoutError:
            return


def inbox_entries(conn: MemoryConnection) -> list[object]:
    return list(conn._inbox)  # the inbox's shape is what these tests are about


def test_new_delivery_equals_the_keyword_built_delivery() -> None:
    properties = BasicProperties(content_type="application/json")
    built = new_delivery(b"body", properties, 7, "ex", "rk", True, "ctag")
    assert built == Delivery(
        body=b"body",
        properties=properties,
        delivery_tag=7,
        exchange="ex",
        routing_key="rk",
        redelivered=True,
        consumer_tag="ctag",
    )
    assert built.message_count is None


def test_a_burst_to_one_consumer_waits_as_one_run(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    publish(channel, *(str(n).encode() for n in range(1000)))
    received = collect(channel, no_ack=True)
    entries = inbox_entries(conn)
    assert len(entries) == 1
    assert isinstance(entries[0], DeliveryRun)
    drain_all(conn)
    assert [d.body for d in received] == [str(n).encode() for n in range(1000)]
    assert [d.delivery_tag for d in received] == list(range(1, 1001))
    assert inbox_entries(conn) == []


def test_a_drained_message_is_not_kept_alive_by_its_run(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    publish(channel, b"a", b"b")
    collect(channel, no_ack=True)
    conn.drain_events(timeout=0)
    (run,) = inbox_entries(conn)
    assert isinstance(run, DeliveryRun)
    assert run.messages[0] is None
    assert [(m.body, tag) for m, tag in run.pending()] == [(b"b", 2)]


def test_a_run_being_drained_does_not_grow(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    received = collect(channel, no_ack=True)
    publish(channel, b"a", b"b")
    conn.drain_events(timeout=0)
    publish(channel, b"c")
    assert len(inbox_entries(conn)) == 2
    drain_all(conn)
    assert [(d.body, d.delivery_tag) for d in received] == [
        (b"a", 1),
        (b"b", 2),
        (b"c", 3),
    ]


def test_consumers_of_one_channel_get_tags_in_drain_order(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    order: list[tuple[str, bytes, int]] = []
    for tag in ("first", "second"):
        channel.basic_consume(
            "q",
            lambda d, tag=tag: order.append((tag, d.body, d.delivery_tag)),  # type: ignore[misc]
            consumer_tag=tag,
            no_ack=True,
        )
    publish(channel, b"1", b"2", b"3")
    drain_all(conn)
    assert order == [("first", b"1", 1), ("second", b"2", 2), ("first", b"3", 3)]


def test_cancel_takes_back_the_undrained_part_of_a_run_in_order(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    publish(channel, b"1", b"2", b"3")
    received = collect(channel, consumer_tag="c")
    conn.drain_events(timeout=0)
    channel.basic_cancel("c")
    drain_all(conn)
    assert [d.body for d in received] == [b"1"]
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"2", False),
        (b"3", False),
    ]
    assert broker.statistics().delivered == 1


def test_a_closed_channel_leaves_no_run_behind(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    received = collect(channel)
    publish(channel, b"1", b"2")
    channel.close()
    assert inbox_entries(conn) == []
    drain_all(conn)
    assert received == []
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"1", True),
        (b"2", True),
    ]


def test_a_requeued_delivery_in_the_same_run_arrives_once(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    received = collect(channel)
    publish(channel, b"a", b"b")
    channel.basic_recover()
    drain_all(conn)
    assert [(d.body, d.delivery_tag, d.redelivered) for d in received] == [
        (b"a", 3, True),
        (b"b", 4, True),
    ]


def test_a_thread_waiting_is_woken_by_each_new_run(
    conn: MemoryConnection, channel: MemoryChannel, broker: Broker
) -> None:
    received = collect(channel, no_ack=True)
    publisher = MemoryTransport(broker).connect(PARAMS)
    try:
        sender = publisher.channel()

        def send_later() -> None:
            time.sleep(0.05)
            publish(sender, b"late")

        thread = threading.Thread(target=send_later)
        thread.start()
        conn.drain_events(timeout=5)
        thread.join()
    finally:
        publisher.close()
    assert [d.body for d in received] == [b"late"]
    assert conn._waiting == 0


def test_every_waiting_thread_is_woken_while_a_run_grows(
    conn: MemoryConnection, channel: MemoryChannel, broker: Broker
) -> None:
    received = collect(channel, no_ack=True)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            conn.drain_events(timeout=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while conn._waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    publish(channel, b"1", b"2")  # one run of two: both waiters must wake
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(d.body for d in received) == [b"1", b"2"]


def test_a_message_in_a_plain_queue_takes_96_bytes() -> None:
    message = QueuedMessage(b"", PLAIN, "", "q")
    assert sys.getsizeof(message) <= 96


def test_a_priority_queue_still_orders_by_priority(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.queue_declare("p", durable=False, arguments={"x-max-priority": 5})
    for priority in (1, 9, 3):
        channel.basic_publish(
            str(priority).encode(), BasicProperties(priority=priority), "", "p"
        )
    assert [(m.body, m.priority) for m in broker.queue_messages("p")] == [
        (b"9", 5),
        (b"3", 3),
        (b"1", 1),
    ]
