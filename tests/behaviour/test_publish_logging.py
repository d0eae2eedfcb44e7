"""Publishes at DEBUG on the ``kombu_lite`` loggers: what, where, how big.

A publish logs its exchange, routing key and body size; a retried publish
logs each new attempt.  With DEBUG off nothing is formatted, and no record
ever shows a password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.transport.memory import default_broker

Cleanup = Callable[[Exchange | Queue], None]


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="kombu_lite")
    return caplog


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    declared = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(declared)
    declared.declare(channel=connection.default_channel)
    return declared


def _publish_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("kombu_lite") and "publish" in record.getMessage()
    ]


def test_a_publish_logs_exchange_routing_key_and_body_size(
    connection: Connection, queue: Queue, debug_log: pytest.LogCaptureFixture
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    producer.publish(b"twelve bytes", serializer="raw")

    [record] = _publish_records(debug_log)
    assert record.levelno == logging.DEBUG
    assert record.name == "kombu_lite.messaging"
    assert record.getMessage() == (
        f"published 12 bytes to exchange {queue.exchange.name!r} with routing key 'rk'"
    )


def test_a_confirmed_publish_logs_its_delivery_tag(
    url: str, queue: Queue, debug_log: pytest.LogCaptureFixture
) -> None:
    with Connection(url, confirm_publish=True) as conn:
        producer = conn.Producer(exchange=queue.exchange, routing_key="rk")

        producer.publish({"n": 1})

    [record] = _publish_records(debug_log)
    assert record.getMessage().endswith("(delivery tag 1)")


def test_nothing_is_logged_with_debug_off(
    connection: Connection, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kombu_lite")
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    producer.publish({"n": 1})
    producer.publish_many([{"n": 2}])

    assert _publish_records(caplog) == []


def test_publish_many_logs_each_message_and_the_outcome(
    connection: Connection, queue: Queue, debug_log: pytest.LogCaptureFixture
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    producer.publish_many([b"a", b"bb"], serializer="raw")

    messages = [record.getMessage() for record in _publish_records(debug_log)]
    exchange = queue.exchange.name
    where = f"to exchange {exchange!r} with routing key 'rk'"
    assert messages == [
        f"publishing 1 bytes {where} (pipelined)",
        f"publishing 2 bytes {where} (pipelined)",
        f"publish_many {where}: 2 confirmed, 0 not",
    ]


def test_a_retried_publish_logs_the_new_attempt(
    unique: str, debug_log: pytest.LogCaptureFixture
) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")
    producer = Producer(conn, routing_key=queue.name)
    producer.publish(b"first", declare=[queue])
    default_broker().close_all_connections()
    debug_log.clear()

    producer.publish(b"second", declare=[queue], retry=True)

    messages = [record.getMessage() for record in _publish_records(debug_log)]
    assert (
        f"publish to exchange '' with routing key {queue.name!r}: attempt 2, "
        f"after a connection failure"
    ) in messages
    assert messages[-1].startswith("published 6 bytes")
    conn.release()


def test_a_lost_entity_is_logged_before_it_is_declared_again(
    url: str, unique: str, debug_log: pytest.LogCaptureFixture
) -> None:
    # With confirms the broker's 404 for the publish comes back to it (on
    # RabbitMQ a publish without confirms never hears of it).
    conn = Connection(url, confirm_publish=True)
    queue = Queue(f"{unique}-lost", Exchange(""), routing_key=f"{unique}-lost")
    exchange = Exchange(f"{unique}-gone")
    producer = conn.Producer(exchange=exchange, routing_key=queue.name)
    producer.publish(b"1", declare=[queue])
    exchange.delete(channel=conn.default_channel)
    debug_log.clear()

    producer.publish(b"2", declare=[queue])

    messages = [record.getMessage() for record in _publish_records(debug_log)]
    lost = (
        f"publish found an entity missing (404): declaring "
        f"{queue.name!r}, {exchange.name!r} again"
    )
    # RabbitMQ's 404 comes after the frames went out (logged as published).
    assert lost in messages
    assert messages[-1].startswith("published 1 bytes")
    assert messages.index(lost) == len(messages) - 2
    exchange.delete(channel=conn.default_channel)
    queue.delete(channel=conn.default_channel)
    conn.release()


def test_no_record_shows_the_password(
    unique: str, debug_log: pytest.LogCaptureFixture
) -> None:
    conn = Connection("memory://publisher:s3cr3t-pw@localhost//")
    queue = Queue(f"{unique}-q")
    producer = Producer(conn, routing_key=queue.name)

    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue], retry=True)
    producer.publish_many([{"n": 3}], declare=[queue])

    assert _publish_records(debug_log)
    assert all("s3cr3t-pw" not in record.getMessage() for record in debug_log.records)
    conn.release()
