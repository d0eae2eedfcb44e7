"""Publisher confirms under faults: late acks, silent brokers, dead links.

Each test here reproduces a failure of py-amqp's ``basic_publish_confirm``
(kombu's confirm path) against RabbitMQ, through the loopback fault proxy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import ConfirmTimeout, MessageNacked, OperationalError

from .conftest import bodies as _bodies
from .proxy import BASIC_ACK, FaultProxy

pytestmark = pytest.mark.broker


@pytest.fixture
def one_slot_queue(admin: amqp.Channel, unique: str) -> Iterator[Queue]:
    """A queue that takes one message and nacks the next ones."""
    queue = Queue(
        f"{unique}-slot",
        Exchange(""),
        routing_key=f"{unique}-slot",
        max_length=1,
        queue_arguments={"x-overflow": "reject-publish"},
        durable=False,
    )
    yield queue
    admin.queue_delete(queue.name)


def test_late_ack_is_not_taken_as_the_next_messages_confirm(
    proxy: FaultProxy, one_slot_queue: Queue, admin: amqp.Channel
) -> None:
    conn = Connection(proxy.url, confirm_publish=True, heartbeat=0)
    try:
        producer = conn.Producer(routing_key=one_slot_queue.name)
        one_slot_queue.declare(channel=conn.default_channel)
        producer.publish(b"warm-up", serializer="raw")
        assert _bodies(admin, one_slot_queue.name) == [b"warm-up"]

        proxy.hold_replies()
        try:
            with pytest.raises(ConfirmTimeout, match="outcome is unknown"):
                producer.publish(b"first", serializer="raw", confirm_timeout=0.5)
        finally:
            proxy.release_replies()
        # The queue is full now ("first" took the slot): the broker nacks the
        # second message.  py-amqp would take first's late ack as its confirm.
        with pytest.raises(MessageNacked):
            producer.publish(b"second", serializer="raw")

        assert _bodies(admin, one_slot_queue.name) == [b"first"]
    finally:
        conn.release()


@pytest.fixture
def queue(admin: amqp.Channel, unique: str) -> Iterator[Queue]:
    """A plain queue on the default exchange, deleted afterwards."""
    declared = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    yield declared
    admin.queue_delete(declared.name)


def test_confirm_pending_when_the_connection_dies_fails_with_the_connection(
    proxy: FaultProxy, queue: Queue
) -> None:
    conn = Connection(proxy.url, confirm_publish=True, heartbeat=0)
    try:
        queue.declare(channel=conn.default_channel)
        producer = conn.Producer(routing_key=queue.name)
        # The link dies while the confirm is on its way: the broker's ack
        # never arrives.
        proxy.cut_on_reply(BASIC_ACK)

        started = time.monotonic()
        with pytest.raises(OperationalError):
            producer.publish(b"in flight", serializer="raw", confirm_timeout=20)

        assert time.monotonic() - started < 10
        assert proxy.cuts == 1
    finally:
        conn.release()


def test_a_burst_settled_by_multiple_acks_is_confirmed_message_by_message(
    proxy: FaultProxy,
    queue: Queue,
    admin: amqp.Channel,
    record_property: Callable[[str, object], None],
) -> None:
    conn = Connection(proxy.url, heartbeat=0)
    try:
        queue.declare(channel=conn.default_channel)
        producer = conn.Producer(routing_key=queue.name)

        outcomes = producer.publish_many(
            (f"{n}".encode() for n in range(1000)), serializer="raw"
        )
    finally:
        conn.release()

    acks = list(proxy.acks)
    multiple = [ack for ack in acks if ack.multiple]
    record_property("report:messages", len(outcomes))
    record_property("report:acks", len(acks))
    record_property("report:acks with multiple=True", len(multiple))
    # RabbitMQ confirms a burst in ranges: one ack settles many messages.
    assert multiple, "the broker sent no basic.ack with multiple=True"
    assert len(acks) < 1000
    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    tags = [outcome.delivery_tag for outcome in outcomes]
    assert tags == list(range(1, 1001))
    # The broker's acks cover exactly the tags reported confirmed.
    covered: set[int] = set()
    for ack in acks:
        if ack.multiple:
            covered.update(range(1, ack.delivery_tag + 1))
        else:
            covered.add(ack.delivery_tag)
    assert covered == set(tags)
    assert _bodies(admin, queue.name) == [f"{n}".encode() for n in range(1000)]
