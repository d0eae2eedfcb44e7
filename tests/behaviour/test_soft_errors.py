"""Broker refusals (403/404/406): typed, named, not retried, channel replaced."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import NotFound, PreconditionFailed

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def confirming(url: str) -> Iterator[Connection]:
    # With confirms a refused publish fails in its own call on RabbitMQ too.
    conn = Connection(url, confirm_publish=True)
    yield conn
    conn.release()


@pytest.fixture
def queue(confirming: Connection, unique: str, cleanup: Cleanup) -> Queue:
    declared = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(declared)
    declared.declare(channel=confirming.default_channel)
    return declared


def test_publish_to_a_missing_exchange_names_it(
    confirming: Connection, unique: str
) -> None:
    producer = confirming.Producer(exchange=f"{unique}-missing", routing_key="rk")

    with pytest.raises(NotFound, match=f"{unique}-missing"):
        producer.publish(b"lost?", serializer="raw")


def test_the_next_publish_on_the_same_producer_works(
    confirming: Connection, unique: str, queue: Queue, raw_get: RawGet
) -> None:
    producer = confirming.Producer(routing_key="rk")
    with pytest.raises(NotFound):
        producer.publish(b"refused", exchange=f"{unique}-missing", serializer="raw")

    producer.publish(b"accepted", exchange=queue.exchange, serializer="raw")

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.body == b"accepted"


def test_a_refusal_is_not_retried(confirming: Connection, unique: str) -> None:
    producer = confirming.Producer(exchange=f"{unique}-missing", routing_key="rk")
    wire = confirming.connection

    with pytest.raises(NotFound):
        producer.publish(b"refused", serializer="raw", retry=True)

    assert confirming.connection is wire  # no reconnect, no second attempt


def test_an_inequivalent_redeclare_names_the_argument(
    confirming: Connection, queue: Queue
) -> None:
    other = Queue(queue.name, queue.exchange, routing_key="rk", max_length=5)
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")

    with pytest.raises(PreconditionFailed, match="x-max-length"):
        producer.publish(b"x", serializer="raw", declare=[other])
