"""connection.blocked: wait, give up cleanly, and never write twice.

RabbitMQ sends ``connection.blocked`` when a memory or disk alarm goes off
and stops reading from publishing connections.  The fault proxy plays that
part: it slips the frame into the stream and stalls the client's writes.
"""

from __future__ import annotations

import threading
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


def _block(proxy: FaultProxy) -> None:
    proxy.send_to_clients(blocked_frame("low on memory"))
    time.sleep(0.1)  # let the frame arrive before the next publish looks


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
    producer = conn.Producer(routing_key=queue.name)
    _block(proxy)
    threading.Timer(0.3, proxy.send_to_clients, [unblocked_frame()]).start()

    producer.publish(b"after the alarm", serializer="raw")

    assert events == ["blocked: low on memory", "unblocked"]
    conn.release()


def test_publish_waits_for_unblock_then_sends_once(
    proxy: FaultProxy, queue: Queue, admin: amqp.Channel
) -> None:
    conn = _connect(proxy, confirm_publish=True)
    producer = conn.Producer(routing_key=queue.name)
    _block(proxy)
    threading.Timer(0.5, proxy.send_to_clients, [unblocked_frame()]).start()

    started = time.monotonic()
    producer.publish(b"patient", serializer="raw")

    assert time.monotonic() - started >= 0.4
    assert bodies(admin, queue.name) == [b"patient"]
    conn.release()


def test_still_blocked_after_the_timeout_raises_and_sends_nothing(
    proxy: FaultProxy, queue: Queue, admin: amqp.Channel
) -> None:
    conn = _connect(proxy, blocked_connection_timeout=0.5)
    producer = conn.Producer(routing_key=queue.name)
    _block(proxy)

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
