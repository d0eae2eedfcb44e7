"""connection.blocked: wait, give up cleanly, and never write twice.

RabbitMQ sends ``connection.blocked`` when a memory or disk alarm goes off
and stops reading from publishing connections.  The fault proxy plays that
part: it slips the frame into the stream and stalls the client's writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import ConnectionBlocked, OperationalError

from .conftest import bodies
from .proxy import FaultProxy, blocked_frame, unblocked_frame

pytestmark = pytest.mark.broker


@pytest.fixture
def queue(admin: amqp.Channel, unique: str) -> Iterator[Queue]:
    declared = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    admin.queue_declare(declared.name, durable=True)
    yield declared
    admin.queue_delete(declared.name)


def _connect(proxy: FaultProxy, **kwargs: object) -> Connection:
    conn = Connection(proxy.url, heartbeat=0, **kwargs)  # type: ignore[arg-type]
    conn.connect()
    return conn


def _block(proxy: FaultProxy, conn: Connection, reason: str = "low on memory") -> None:
    """Send ``connection.blocked`` and read it: the client knows it is blocked."""
    proxy.send_to_clients(blocked_frame(reason))
    # With heartbeats off the blocked frame is the only thing coming.
    conn.drain_events(timeout=10)


def test_the_client_advertises_connection_blocked(proxy: FaultProxy) -> None:
    conn = _connect(proxy)
    try:
        raw = conn.connection._conn  # type: ignore[attr-defined]
        assert raw.client_properties["capabilities"]["connection.blocked"] is True
    finally:
        conn.release()


def test_on_blocked_and_on_unblocked_are_called(
    proxy: FaultProxy, queue: Queue
) -> None:
    events: list[str] = []
    conn = _connect(
        proxy,
        on_blocked=lambda reason: events.append(f"blocked: {reason}"),
        on_unblocked=lambda: events.append("unblocked"),
    )
    try:
        producer = conn.Producer(routing_key=queue.name)
        _block(proxy, conn)
        assert events == ["blocked: low on memory"]
        proxy.send_to_clients(unblocked_frame())

        # A blocked publish reads on until the unblock comes.
        producer.publish(b"after the alarm", serializer="raw")

        assert events == ["blocked: low on memory", "unblocked"]
    finally:
        conn.release()


def test_publish_waits_for_unblock_then_sends_once(
    proxy: FaultProxy, queue: Queue, admin: amqp.Channel
) -> None:
    sent_when_unblocked: list[int] = []

    def a_second_alarm(reason: str) -> None:
        # The publish below reads this one while it waits: the broker lifts
        # the block from here, and the bytes sent so far are counted.
        if reason == "low on disk":
            sent_when_unblocked.append(proxy.uploaded())
            proxy.send_to_clients(unblocked_frame())

    conn = _connect(proxy, confirm_publish=True, on_blocked=a_second_alarm)
    try:
        producer = conn.Producer(routing_key=queue.name)
        producer.channel.enable_confirms()  # nothing left to send but the message
        _block(proxy, conn)
        sent_before = proxy.uploaded()
        proxy.send_to_clients(blocked_frame("low on disk"))

        producer.publish(b"patient", serializer="raw")

        # The publish started while blocked and wrote nothing until the
        # unblock came; then it sent the message, once.
        assert sent_when_unblocked == [sent_before]
        assert proxy.uploaded() > sent_before
        assert bodies(admin, queue.name) == [b"patient"]
    finally:
        conn.release()


def test_still_blocked_after_the_timeout_raises_and_sends_nothing(
    proxy: FaultProxy, queue: Queue, admin: amqp.Channel
) -> None:
    conn = _connect(proxy, blocked_connection_timeout=0.5)
    producer = conn.Producer(routing_key=queue.name)
    _block(proxy, conn)

    with pytest.raises(ConnectionBlocked, match="was not sent"):
        producer.publish(b"refused", serializer="raw", retry=True)

    assert bodies(admin, queue.name) == []
    assert proxy.accepted == 1  # retry=True did not reconnect and resend
    conn.release()


def test_a_write_that_stalls_fails_instead_of_hanging(
    proxy: FaultProxy, queue: Queue
) -> None:
    conn = _connect(proxy, blocked_connection_timeout=1)
    producer = conn.Producer(routing_key=queue.name)
    producer.publish(b"channel open", serializer="raw")
    proxy.stall_uploads()

    def publish_far_more_than_the_buffers_hold() -> None:
        for _ in range(64):
            producer.publish(b"x" * 1_048_576, serializer="raw")

    started = time.monotonic()
    with pytest.raises(OperationalError, match="stalled"):
        publish_far_more_than_the_buffers_hold()

    assert time.monotonic() - started < 20
    assert not conn.connected
    proxy.resume_uploads()
    conn.release()
