"""Publisher confirms and returns, the same on memory:// and RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import MessageNacked, MessageReturned

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def confirming(url: str) -> Any:
    conn = Connection(url, confirm_publish=True)
    yield conn
    conn.release()


@pytest.fixture
def full_queue(confirming: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A queue that holds one message and refuses (nacks) the next ones."""
    queue = Queue(
        f"{unique}-full",
        Exchange(f"{unique}-fx"),
        routing_key="rk",
        max_length=1,
        queue_arguments={"x-overflow": "reject-publish"},
    )
    cleanup(queue)
    queue.declare(channel=confirming.default_channel)
    return queue


def _drain(raw_get: RawGet, name: str) -> list[bytes]:
    bodies = []
    while (raw := raw_get(name)) is not None:
        bodies.append(raw.body)
    return bodies


def test_transport_option_spelling_turns_confirms_on(
    url: str, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    # kombu's spelling: publish then waits for each confirm and honours it.
    conn = Connection(url, transport_options={"confirm_publish": True})
    try:
        queue = Queue(
            f"{unique}-full",
            Exchange(f"{unique}-fx"),
            routing_key="rk",
            max_length=1,
            queue_arguments={"x-overflow": "reject-publish"},
        )
        cleanup(queue)
        producer = conn.Producer(exchange=queue.exchange, routing_key="rk")
        producer.publish(b"first", serializer="raw", declare=[queue])
        assert _drain(raw_get, queue.name) == [b"first"]  # there on return
        producer.publish(b"kept", serializer="raw")

        with pytest.raises(MessageNacked):
            producer.publish(b"refused", serializer="raw")

        assert conn.confirm_publish is True
        assert _drain(raw_get, queue.name) == [b"kept"]
    finally:
        conn.release()


def test_confirmed_publish_is_in_the_queue_when_it_returns(
    confirming: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(queue)
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")

    for n in range(20):
        producer.publish({"n": n}, declare=[queue])

    assert len(_drain(raw_get, queue.name)) == 20


def test_nack_raises_for_that_message_only(
    confirming: Connection, full_queue: Queue, raw_get: RawGet
) -> None:
    producer = confirming.Producer(exchange=full_queue.exchange, routing_key="rk")
    producer.publish(b"first", serializer="raw")

    with pytest.raises(MessageNacked) as caught:
        producer.publish(b"second", serializer="raw")

    assert caught.value.delivery_tag is not None
    assert _drain(raw_get, full_queue.name) == [b"first"]
    producer.publish(b"third", serializer="raw")  # room again: acked
    assert _drain(raw_get, full_queue.name) == [b"third"]


def test_unroutable_mandatory_without_on_return_raises_returned(
    confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    producer = confirming.Producer(exchange=exchange, routing_key="none")

    with pytest.raises(MessageReturned, match="NO_ROUTE"):
        producer.publish({"x": 1}, mandatory=True, declare=[exchange])


def test_unroutable_mandatory_goes_to_on_return_before_publish_returns(
    confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    seen: list[tuple[Any, ...]] = []
    producer = confirming.Producer(
        exchange=exchange,
        routing_key="none",
        on_return=lambda *args: seen.append(args),
    )

    producer.publish({"x": 1}, mandatory=True, declare=[exchange])

    assert len(seen) == 1
    exc, exchange_name, routing_key, message = seen[0]
    assert (exchange_name, routing_key) == (exchange.name, "none")
    assert "NO_ROUTE" in str(exc)
    assert message.decode() == {"x": 1}


def test_unroutable_non_mandatory_is_confirmed_silently(
    confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    producer = confirming.Producer(exchange=exchange, routing_key="none")

    producer.publish({"x": 1}, declare=[exchange])  # no error: RabbitMQ acks

    assert producer.channel.confirming is True


def test_publish_after_entity_deleted_redeclares_once(
    confirming: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    # With confirms the 404 comes back for this very publish (without them
    # RabbitMQ reports it later, on the next call on the channel).
    exchange = Exchange(f"{unique}-x")
    queue = Queue(f"{unique}-q", exchange, routing_key="rk")
    cleanup(queue)
    producer = confirming.Producer(exchange=exchange, routing_key="rk")
    producer.publish(b"one", serializer="raw", declare=[queue])
    with confirming.channel() as other:
        exchange.delete(channel=other)

    producer.publish(b"two", serializer="raw", declare=[queue])

    assert _drain(raw_get, queue.name) == [b"one", b"two"]


def test_exchange_publish_raises_a_nack_for_its_message(
    confirming: Connection, full_queue: Queue, raw_get: RawGet
) -> None:
    assert full_queue.exchange is not None
    exchange = full_queue.exchange(confirming.default_channel)
    exchange.publish(b"kept", routing_key="rk")

    with pytest.raises(MessageNacked):
        exchange.publish(b"refused", routing_key="rk")

    assert _drain(raw_get, full_queue.name) == [b"kept"]


def test_exchange_publish_of_an_unroutable_mandatory_message_raises_returned(
    confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    bound = exchange(confirming.default_channel)
    bound.declare()

    with pytest.raises(MessageReturned, match="NO_ROUTE"):
        bound.publish(b"lost", routing_key="none", mandatory=True)


def test_exchange_publish_waits_on_a_channel_publish_many_set_confirming(
    url: str, full_queue: Queue, raw_get: RawGet
) -> None:
    # Without confirm_publish: publish_many alone turned confirms on.
    with Connection(url) as conn:
        producer = conn.Producer(exchange=full_queue.exchange, routing_key="rk")
        assert [o.ok for o in producer.publish_many([b"kept"])] == [True]
        assert full_queue.exchange is not None
        exchange = full_queue.exchange(conn.default_channel)

        with pytest.raises(MessageNacked):
            exchange.publish(b"refused", routing_key="rk")

    assert _drain(raw_get, full_queue.name) == [b"kept"]
