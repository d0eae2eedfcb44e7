"""Pipelined confirms: ``Producer.publish_many``, on memory:// and RabbitMQ.

Each message of a batch ends with exactly one outcome, identified by its
delivery tag: confirmed, nacked, returned, or failed with the error that
stopped the batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import (
    ChannelError,
    ConfigurationError,
    ConfirmTimeout,
    EncodeError,
    MessageNacked,
    MessageReturned,
    NotFound,
    OperationalError,
    PublishInterrupted,
    UnknownArgument,
)
from kombu_lite.message import Message
from kombu_lite.messaging import PublishOutcome
from tests.faults.proxy import FaultProxy

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


def _drain(raw_get: RawGet, name: str) -> list[bytes]:
    bodies = []
    while (raw := raw_get(name)) is not None:
        bodies.append(raw.body)
    return bodies


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    declared = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(declared)
    declared.declare(channel=connection.default_channel)
    return declared


@pytest.fixture
def full_queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A queue that holds two messages and refuses (nacks) the next ones."""
    declared = Queue(
        f"{unique}-full",
        Exchange(f"{unique}-fx"),
        routing_key="rk",
        max_length=2,
        queue_arguments={"x-overflow": "reject-publish"},
    )
    cleanup(declared)
    declared.declare(channel=connection.default_channel)
    return declared


def _tags_are_the_channels_sequence(outcomes: list[PublishOutcome]) -> bool:
    tags = [outcome.delivery_tag for outcome in outcomes]
    return tags == list(range(tags[0], tags[0] + len(tags)))


def test_every_message_is_confirmed_and_enqueued_in_order(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    outcomes = producer.publish_many([f"m{n}".encode() for n in range(50)])

    assert [outcome.index for outcome in outcomes] == list(range(50))
    assert all(outcome.ok for outcome in outcomes)
    assert _tags_are_the_channels_sequence(outcomes)
    assert _drain(raw_get, queue.name) == [f"m{n}".encode() for n in range(50)]


def test_a_window_smaller_than_the_batch_still_confirms_each(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    outcomes = producer.publish_many(({"n": n} for n in range(25)), window=4)

    assert [outcome.ok for outcome in outcomes] == [True] * 25
    assert len({outcome.delivery_tag for outcome in outcomes}) == 25
    assert len(_drain(raw_get, queue.name)) == 25


def test_nacked_messages_are_reported_by_delivery_tag(
    connection: Connection, full_queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=full_queue.exchange, routing_key="rk")

    outcomes = producer.publish_many([b"a", b"b", b"c", b"d"], serializer="raw")

    assert [outcome.ok for outcome in outcomes] == [True, True, False, False]
    for outcome in outcomes[2:]:
        assert isinstance(outcome.error, MessageNacked)
        assert outcome.error.delivery_tag == outcome.delivery_tag
    assert _tags_are_the_channels_sequence(outcomes)
    assert _drain(raw_get, full_queue.name) == [b"a", b"b"]


def test_unroutable_mandatory_messages_are_reported_as_returned(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    producer = connection.Producer(exchange=exchange, routing_key="none")

    outcomes = producer.publish_many([b"1", b"2", b"3"], mandatory=True)

    assert all(isinstance(outcome.error, MessageReturned) for outcome in outcomes)
    assert [o.error.delivery_tag for o in outcomes if o.error] == [
        o.delivery_tag for o in outcomes
    ]


def test_with_on_return_returned_messages_go_there_and_count_as_confirmed(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-nowhere")
    cleanup(exchange)
    returned: list[bytes] = []

    def on_return(
        exc: BaseException, exchange: str, routing_key: str, message: Message
    ) -> None:
        returned.append(message.body)

    producer = connection.Producer(
        exchange=exchange, routing_key="none", on_return=on_return
    )

    outcomes = producer.publish_many([b"1", b"2"], mandatory=True, serializer="raw")
    if len(returned) < 2:
        # RabbitMQ's basic.return comes just before the ack: it may still be
        # unread when the ack of the last message was, for a memory broker
        # never.  Any further read delivers it.
        connection.drain_events(timeout=0.5)

    assert all(outcome.ok for outcome in outcomes)
    assert returned == [b"1", b"2"]


class _NoMoreBodies(Exception):
    """What the bodies' iterator raises in these tests."""


def _bodies_then_raise(count: int) -> Iterator[bytes]:
    yield from (f"m{n}".encode() for n in range(count))
    raise _NoMoreBodies("the source of bodies failed")


# 300: two full write chunks, then a part-filled one still unsent.
@pytest.mark.parametrize("count", [0, 1, 300])
def test_bodies_that_raise_report_what_was_sent_then_raise(
    connection: Connection, queue: Queue, raw_get: RawGet, count: int
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    with pytest.raises(PublishInterrupted) as caught:
        producer.publish_many(_bodies_then_raise(count), serializer="raw")

    assert isinstance(caught.value.__cause__, _NoMoreBodies)
    outcomes = caught.value.outcomes
    assert [outcome.index for outcome in outcomes] == list(range(count))
    assert all(outcome.ok for outcome in outcomes)
    assert len(_drain(raw_get, queue.name)) == count
    # Every confirm was claimed: none is left on the channel.
    wire = producer.channel
    for outcome in outcomes:
        with pytest.raises(ConfirmTimeout):
            wire.wait_for_confirm(outcome.delivery_tag, 0)


def test_bodies_that_raise_report_nacks_too(
    connection: Connection, full_queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=full_queue.exchange, routing_key="rk")

    def bodies() -> Iterator[bytes]:
        yield from [b"a", b"b", b"c"]
        raise _NoMoreBodies("the source of bodies failed")

    with pytest.raises(PublishInterrupted) as caught:
        producer.publish_many(bodies(), serializer="raw")

    outcomes = caught.value.outcomes
    assert [outcome.ok for outcome in outcomes] == [True, True, False]
    assert isinstance(outcomes[2].error, MessageNacked)
    assert _drain(raw_get, full_queue.name) == [b"a", b"b"]


def test_a_body_that_cannot_be_encoded_fails_alone_without_a_tag(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    outcomes = producer.publish_many([{"n": 1}, {"bad": object()}, {"n": 3}])

    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, EncodeError)
    assert outcomes[1].delivery_tag == 0
    assert len(_drain(raw_get, queue.name)) == 2


def test_a_missing_exchange_fails_every_message_of_the_batch(
    connection: Connection, unique: str
) -> None:
    producer = connection.Producer(
        exchange=Exchange(f"{unique}-missing", no_declare=True), routing_key="rk"
    )

    outcomes = producer.publish_many([b"1", b"2", b"3"], serializer="raw")

    assert not any(outcome.ok for outcome in outcomes)
    assert isinstance(outcomes[0].error, NotFound)
    assert all(isinstance(outcome.error, ChannelError) for outcome in outcomes)


def test_confirms_stay_on_for_later_publishes(
    connection: Connection, full_queue: Queue
) -> None:
    producer = connection.Producer(exchange=full_queue.exchange, routing_key="rk")
    producer.publish_many([b"a", b"b"], serializer="raw")

    with pytest.raises(MessageNacked):
        producer.publish(b"c", serializer="raw")


def test_declare_and_properties_apply_to_every_message(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-decl", Exchange(f"{unique}-dx"), routing_key="rk")
    cleanup(queue)
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")
    reply = Queue(f"{unique}-reply")

    outcomes = producer.publish_many(
        ["x", "y"],
        declare=[queue],
        headers={"h": "v"},
        priority=3,
        reply_to=reply,
        correlation_id="c-1",
    )

    assert all(outcome.ok for outcome in outcomes)
    for body in (b"x", b"y"):
        raw = raw_get(queue.name)
        assert raw is not None
        assert raw.body == body
        assert raw.properties["headers"] == {"h": "v"}
        assert raw.properties["priority"] == 3
        assert raw.properties["reply_to"] == reply.name
        assert raw.properties["correlation_id"] == "c-1"


def test_no_bodies_give_no_outcomes(connection: Connection, queue: Queue) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    assert producer.publish_many([]) == []


@pytest.mark.parametrize("window", [0, -1, True, 2.5])
def test_a_bad_window_is_refused_before_anything_is_sent(
    connection: Connection, queue: Queue, raw_get: RawGet, window: object
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    with pytest.raises(ConfigurationError, match="window"):
        producer.publish_many([b"x"], window=window)  # type: ignore[arg-type]

    assert raw_get(queue.name) is None


def test_a_bad_argument_is_refused_before_anything_is_sent(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    with pytest.raises(UnknownArgument, match="unknown keyword argument 'colour'"):
        producer.publish_many([b"x"], colour="blue")

    assert raw_get(queue.name) is None


# -- RabbitMQ only: confirms that never come, connections that die -------------------


@pytest.fixture
def proxy(rabbitmq: str) -> Iterator[FaultProxy]:
    del rabbitmq
    with FaultProxy() as fault_proxy:
        yield fault_proxy


@pytest.mark.broker
def test_confirms_that_never_come_are_timeouts_by_tag(
    proxy: FaultProxy, unique: str
) -> None:
    conn = Connection(proxy.url, heartbeat=0)
    queue = Queue(f"{unique}-slow", Exchange(""), routing_key=f"{unique}-slow")
    queue.declare(channel=conn.default_channel)
    producer = conn.Producer(routing_key=queue.name)
    producer.publish_many([b"warm-up"], serializer="raw")
    proxy.hold_replies()

    outcomes = producer.publish_many(
        [b"1", b"2", b"3"], serializer="raw", confirm_timeout=0.3
    )

    assert all(isinstance(outcome.error, ConfirmTimeout) for outcome in outcomes)
    assert [o.error.delivery_tag for o in outcomes if o.error] == [2, 3, 4]
    proxy.release_replies()
    queue.delete(channel=conn.default_channel)
    conn.release()


@pytest.mark.broker
def test_a_connection_lost_mid_batch_fails_the_rest(
    proxy: FaultProxy, unique: str
) -> None:
    conn = Connection(proxy.url, heartbeat=0)
    producer = conn.Producer(routing_key=f"{unique}-gone")
    producer.publish_many([b"warm-up"], serializer="raw")
    proxy.hold_replies()
    cut = threading.Timer(0.3, proxy.cut)
    cut.start()

    outcomes = producer.publish_many(
        [b"a", b"b", b"c"], serializer="raw", confirm_timeout=20
    )
    cut.join()

    assert all(isinstance(outcome.error, OperationalError) for outcome in outcomes)
    conn.release()


@pytest.mark.broker
def test_a_property_too_long_for_amqp_fails_the_batch_unsent(
    rabbitmq: str, unique: str
) -> None:
    with Connection(rabbitmq) as conn:
        queue = Queue(f"{unique}-long", Exchange(""), routing_key=f"{unique}-long")
        queue.declare(channel=conn.default_channel)
        producer = conn.Producer(routing_key=queue.name)

        refused = producer.publish_many([b"a", b"b"], correlation_id="x" * 300)
        accepted = producer.publish_many([b"c"], serializer="raw")

        assert all(isinstance(outcome.error, EncodeError) for outcome in refused)
        assert [outcome.delivery_tag for outcome in refused] == [0, 0]
        assert [outcome.ok for outcome in accepted] == [True]
        assert queue.queue_declare(passive=True, channel=conn).message_count == 1
        queue.delete(channel=conn.default_channel)
