"""One connection shared by threads, and an idle connection kept alive."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import amqp
import pytest

from kombu_lite import Connection, Exchange, Message, Producer, Queue
from kombu_lite.exceptions import ConnectionLost, NotFound

from .conftest import bodies as _bodies
from .proxy import FaultProxy

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("confirm", [False, True], ids=["unconfirmed", "confirmed"])
def test_threads_sharing_a_producer_keep_every_frame_intact(
    rabbitmq: str,
    unique: str,
    admin: amqp.Channel,
    confirm: bool,
    record_property: Callable[[str, object], None],
) -> None:
    conn = Connection(rabbitmq, confirm_publish=confirm)
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    queue.declare(channel=conn.default_channel)
    producer = conn.Producer(routing_key=queue.name)
    errors: list[BaseException] = []
    # Bodies of several sizes, so a torn frame would show as a bad body.
    expected = {
        f"{w}-{n}-".encode() + b"x" * (n % 7 * 1000)
        for w in range(4)
        for n in range(150)
    }

    def publish(worker: int) -> None:
        try:
            for n in range(150):
                body = f"{worker}-{n}-".encode() + b"x" * (n % 7 * 1000)
                producer.publish(body, serializer="raw")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if not confirm:
        conn.default_channel.queue_declare(queue.name, passive=True)  # a sync point

    received = _bodies(admin, queue.name)
    record_property("report:threads", len(threads))
    record_property("report:messages", len(received))
    record_property("report:missing", len(expected - set(received)))
    assert errors == []
    assert sorted(received) == sorted(expected)
    admin.queue_delete(queue.name)
    conn.release()


def _publish_until_refused(producer: Producer) -> None:
    for _ in range(1_000_000):  # ends with the broker's 404 long before
        producer.publish(b"x", serializer="raw")


def test_a_channel_closed_while_another_thread_reads_keeps_the_connection(
    rabbitmq: str, unique: str, admin: amqp.Channel
) -> None:
    # One thread publishes without confirms to an exchange that is then
    # deleted; another thread reads the connection (a consumer's loop), so
    # it is the one that reads the broker's channel.close and sends the
    # close-ok.  A publish written after that close-ok would make RabbitMQ
    # close the whole connection (504 CHANNEL_ERROR), the consumer's too.
    conn = Connection(rabbitmq)
    name = f"{unique}-x"
    admin.exchange_declare(name, "fanout", durable=False, auto_delete=False)
    producer = conn.Producer(channel=conn.channel(), exchange=name, auto_declare=False)
    producer.publish(b"first", serializer="raw")
    reading = threading.Event()
    stop = threading.Event()
    reader_errors: list[BaseException] = []

    def read() -> None:
        reading.set()
        while not stop.is_set():
            try:
                conn.drain_events(timeout=0.05)
            except TimeoutError:
                continue
            except BaseException as exc:  # noqa: BLE001 - reported below
                reader_errors.append(exc)
                return

    reader = threading.Thread(target=read, name="reader")
    reader.start()
    try:
        assert reading.wait(5)
        admin.exchange_delete(name)
        with pytest.raises(NotFound):
            _publish_until_refused(producer)
        # The connection is still up: a new channel answers.
        assert conn.channel().queue_declare("", exclusive=True).queue
    finally:
        stop.set()
        reader.join(5)
        conn.release()
    assert reader_errors == []


@pytest.mark.slow
def test_idle_connection_with_heartbeats_survives(
    rabbitmq: str, unique: str, admin: amqp.Channel
) -> None:
    # RabbitMQ closes a connection that stays silent for two heartbeat
    # intervals; py-amqp alone never sends heartbeats, so this would die.
    conn = Connection(rabbitmq, heartbeat=2)
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    queue.declare(channel=conn.default_channel)
    producer = conn.Producer(routing_key=queue.name)
    producer.publish(b"before", serializer="raw")
    wire_before = conn.connection

    time.sleep(7)
    producer.publish(b"after", serializer="raw")  # no retry: must not need one
    conn.default_channel.queue_declare(queue.name, passive=True)

    assert conn.connection is wire_before
    assert _bodies(admin, queue.name) == [b"before", b"after"]
    admin.queue_delete(queue.name)
    conn.release()


def test_heartbeat_is_on_by_default(rabbitmq: str) -> None:
    with Connection(rabbitmq) as conn:
        conn.connect()
        assert conn.connection.heartbeat == 60


def test_a_silent_broker_fails_a_waiting_call_instead_of_hanging(
    proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    conn = Connection(proxy.url, heartbeat=1)
    try:
        channel = conn.default_channel
        proxy.hold_replies()  # the broker goes silent: no replies, no heartbeats
        silent_since = time.monotonic()

        with (
            caplog.at_level(logging.WARNING, logger="kombu_lite"),
            pytest.raises(ConnectionLost),
        ):
            channel.queue_declare("amq.rabbitmq.reply-to", passive=True)
        elapsed = time.monotonic() - silent_since
    finally:
        proxy.release_replies()
        conn.release()

    # The heartbeat watchdog gave up on it after two intervals (of 1 s)
    # without a byte, and said why.
    assert 2 <= elapsed < 10
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and "sent nothing for" in record.getMessage()
    ]
    assert len(warnings) == 1
    assert "heartbeat 1.0s" in warnings[0]
    assert "closing the connection as dead" in warnings[0]


@pytest.mark.slow
def test_heartbeats_flow_while_a_callback_runs_for_five_intervals(
    rabbitmq: str, unique: str, admin: amqp.Channel
) -> None:
    # The callback holds drain_events for 10 s, five intervals of 2 s:
    # RabbitMQ would close a connection that said nothing for two.  The
    # heartbeat thread keeps writing while the callback sleeps, and its
    # watchdog sees the broker's heartbeats waiting unread on the socket.
    name = f"{unique}-q"
    admin.queue_declare(name, durable=True, auto_delete=False)
    try:
        conn = Connection(rabbitmq, heartbeat=2)
        try:
            queue = Queue(name, Exchange(""), routing_key=name)
            handled: list[tuple[bytes, float]] = []

            def slow(body: object, message: Message) -> None:
                started = time.monotonic()
                if message.body == b"slow":
                    time.sleep(10)
                message.ack()
                handled.append((message.body, time.monotonic() - started))

            producer = conn.Producer(routing_key=name)
            producer.publish(b"slow", serializer="raw")
            wire_before = conn.connection
            with conn.Consumer(queue, callbacks=[slow], accept=["application/data"]):
                conn.drain_events(timeout=5)
                producer.publish(b"after", serializer="raw")
                conn.drain_events(timeout=12)
            assert conn.connection is wire_before
            assert [body for body, _ in handled] == [b"slow", b"after"]
            assert handled[0][1] >= 10
        finally:
            conn.release()
        # Both acks reached the broker: nothing is left to redeliver.
        assert admin.queue_declare(name, passive=True).message_count == 0
    finally:
        admin.queue_delete(name)
