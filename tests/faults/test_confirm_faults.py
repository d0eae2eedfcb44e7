"""Publisher confirms under faults: late acks, silent brokers, dead links.

Each test here reproduces a failure of py-amqp's ``basic_publish_confirm``
(kombu's confirm path) against RabbitMQ, through the loopback fault proxy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import ConfirmTimeout, MessageNacked, OperationalError

from .conftest import bodies as _bodies
from .proxy import FaultProxy

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
    producer = conn.Producer(routing_key=one_slot_queue.name)
    one_slot_queue.declare(channel=conn.default_channel)
    producer.publish(b"warm-up", serializer="raw")
    assert _bodies(admin, one_slot_queue.name) == [b"warm-up"]

    proxy.hold_replies()
    with pytest.raises(ConfirmTimeout, match="outcome is unknown"):
        producer.publish(b"first", serializer="raw", confirm_timeout=0.5)
    proxy.release_replies()
    # The queue is full now ("first" took the slot): the broker nacks the
    # second message.  py-amqp would take first's late ack as its confirm.
    with pytest.raises(MessageNacked):
        producer.publish(b"second", serializer="raw")

    assert _bodies(admin, one_slot_queue.name) == [b"first"]
    conn.release()


def test_confirm_pending_when_the_connection_dies_fails_with_the_connection(
    proxy: FaultProxy, unique: str, admin: amqp.Channel
) -> None:
    conn = Connection(proxy.url, confirm_publish=True, heartbeat=0)
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    queue.declare(channel=conn.default_channel)
    producer = conn.Producer(routing_key=queue.name)
    proxy.hold_replies()
    threading.Timer(0.3, proxy.cut).start()

    started = time.monotonic()
    with pytest.raises(OperationalError):
        producer.publish(b"in flight", serializer="raw", confirm_timeout=20)

    assert time.monotonic() - started < 10
    admin.queue_delete(queue.name)
    conn.release()
