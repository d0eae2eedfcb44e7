"""Consumer behaviour, the same on memory:// and RabbitMQ."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Producer, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    ConnectionLost,
    ContentDisallowed,
    DecodeError,
    KombuError,
    MessageStateError,
    NotFound,
)
from kombu_lite.transport.memory import default_broker

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue bound to its own direct exchange with key 'rk'."""
    q = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    assert queue.exchange is not None
    return Producer(connection, exchange=queue.exchange, routing_key="rk")


@dataclass
class Breakable:
    """A URL whose connections a test can break all at once."""

    url: str
    break_connections: Callable[[], None]


@pytest.fixture
def breakable(
    transport_kind: str, request: pytest.FixtureRequest
) -> Iterator[Breakable]:
    """memory:// with its broker's switch, or RabbitMQ behind a loopback proxy."""
    if transport_kind == "memory":
        yield Breakable("memory://", default_broker().close_all_connections)
        return
    from tests.faults.proxy import FaultProxy

    request.getfixturevalue("rabbitmq")
    with FaultProxy() as proxy:
        yield Breakable(proxy.url, proxy.cut)


def drain_until(
    connection: Connection, done: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Drain events until ``done()``; fail if an event takes over ``timeout``."""
    while not done():
        connection.drain_events(timeout=timeout)


def drain_quietly(connection: Connection, window: float = 0.3) -> None:
    """Drain whatever arrives within ``window`` seconds of silence."""
    try:
        while True:
            connection.drain_events(timeout=window)
    except TimeoutError:
        return


class Inbox:
    """A callback that keeps what it receives."""

    def __init__(self, ack: bool = False) -> None:
        self.bodies: list[Any] = []
        self.messages: list[Message] = []
        self._ack = ack

    def __call__(self, body: Any, message: Message) -> None:
        self.bodies.append(body)
        self.messages.append(message)
        if self._ack:
            message.ack()


# -- delivery --------------------------------------------------------------------------


def test_callbacks_get_the_decoded_body_and_the_message(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 1}, headers={"h": "v"}, correlation_id="c-1")

    with Consumer(connection, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert inbox.bodies == [{"n": 1}]
    message = inbox.messages[0]
    assert message.headers == {"h": "v"}
    assert message.correlation_id == "c-1"
    assert message.delivery_info["routing_key"] == "rk"


def test_every_callback_is_called_in_order(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    calls: list[str] = []
    producer.publish({"n": 1})
    consumer = Consumer(
        connection,
        queue,
        callbacks=[lambda body, m: calls.append("first")],
        no_ack=True,
    )
    consumer.register_callback(lambda body, m: calls.append("second"))

    with consumer:
        drain_until(connection, lambda: len(calls) == 2)

    assert calls == ["first", "second"]


def test_on_message_replaces_the_callbacks_and_skips_decoding(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    received: list[Message] = []
    callbacks = Inbox()
    producer.publish(b"not json", content_type="application/json")

    with Consumer(connection, queue, callbacks=[callbacks], on_message=received.append):
        drain_until(connection, lambda: len(received) == 1)

    assert received[0].body == b"not json"
    assert callbacks.bodies == []
    received[0].ack()


def test_drain_events_timeout_raises_socket_timeout(
    connection: Connection, queue: Queue
) -> None:
    with (
        Consumer(connection, queue, callbacks=[Inbox()]),
        pytest.raises(socket.timeout),
    ):
        connection.drain_events(timeout=0.05)


def test_connection_consumer_factory_consumes_on_the_default_channel(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 2})

    with connection.Consumer(queue, callbacks=[inbox]) as consumer:
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert consumer.channel is connection.default_channel
    assert inbox.bodies == [{"n": 2}]


def test_a_queue_name_is_consumed_without_being_declared(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 3})

    with Consumer(connection, queue.name, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert inbox.bodies == [{"n": 3}]


def test_a_server_named_queue_gets_its_name_when_declared(
    connection: Connection,
) -> None:
    consumer = Consumer(connection, Queue("", exclusive=True), callbacks=[Inbox()])

    assert consumer.queues[0].name.startswith("amq.gen-")


def test_tag_prefix_starts_the_consumer_tag(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 1})

    with Consumer(connection, queue, callbacks=[inbox], tag_prefix="worker-7."):
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    tag = inbox.messages[0].delivery_info["consumer_tag"]
    assert isinstance(tag, str)
    assert tag.startswith("worker-7.")


# -- acknowledgement -------------------------------------------------------------------


def test_an_acked_message_is_gone_from_the_queue(
    connection: Connection, queue: Queue, producer: Producer, raw_get: RawGet
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 1})
    channel = connection.channel()

    with Consumer(channel, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)
    channel.close()

    assert inbox.messages[0].acknowledged
    assert raw_get(queue.name) is None


def test_acking_twice_raises_message_state_error(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 1})

    with Consumer(connection, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    with pytest.raises(MessageStateError, match="already acked"):
        inbox.messages[0].ack()


def test_a_rejected_message_is_dropped(
    connection: Connection, queue: Queue, producer: Producer, raw_get: RawGet
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})
    channel = connection.channel()

    with Consumer(channel, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        inbox.messages[0].reject()
    channel.close()

    assert raw_get(queue.name) is None


def test_a_requeued_message_comes_back_marked_redelivered(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})

    with Consumer(connection, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        inbox.messages[0].requeue()
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        inbox.messages[1].ack()

    assert inbox.bodies == [{"n": 1}, {"n": 1}]
    assert not inbox.messages[0].redelivered
    assert inbox.messages[1].redelivered


def test_unacked_messages_are_redelivered_after_the_channel_closes(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    first, second = Inbox(), Inbox(ack=True)
    producer.publish({"n": 1})
    channel = connection.channel()
    with Consumer(channel, queue, callbacks=[first]):
        drain_until(connection, lambda: len(first.bodies) == 1)
    channel.close()

    with Consumer(connection, queue, callbacks=[second]):
        drain_until(connection, lambda: len(second.bodies) == 1)

    assert second.bodies == [{"n": 1}]
    assert second.messages[0].redelivered


def test_unacked_messages_are_redelivered_after_the_connection_closes(
    connection: Connection, url: str, queue: Queue, producer: Producer
) -> None:
    first, second = Inbox(), Inbox(ack=True)
    producer.publish({"n": 1})
    with Connection(url) as other, Consumer(other, queue, callbacks=[first]):
        drain_until(other, lambda: len(first.bodies) == 1)

    with Consumer(connection, queue, callbacks=[second]):
        drain_until(connection, lambda: len(second.bodies) == 1)

    assert not first.messages[0].redelivered
    assert second.bodies == [{"n": 1}]
    assert second.messages[0].redelivered


@pytest.mark.parametrize("settle", ["ack", "reject", "requeue"])
def test_a_failed_settle_leaves_the_message_unacknowledged(
    url: str, queue: Queue, producer: Producer, settle: str
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})
    other = Connection(url)
    with Consumer(other, queue, callbacks=[inbox]):
        drain_until(other, lambda: len(inbox.bodies) == 1)
        other.release()  # the broker requeues the unacked message
    message = inbox.messages[0]

    with pytest.raises(KombuError):
        getattr(message, settle)()

    assert not message.acknowledged
    assert "received" in repr(message)


def test_a_message_whose_ack_failed_is_delivered_again(
    connection: Connection, url: str, queue: Queue, producer: Producer
) -> None:
    first, second = Inbox(), Inbox(ack=True)
    producer.publish({"n": 1})
    other = Connection(url)
    with Consumer(other, queue, callbacks=[first]):
        drain_until(other, lambda: len(first.bodies) == 1)
        other.release()
    with pytest.raises(KombuError):
        first.messages[0].ack()

    with Consumer(connection, queue, callbacks=[second]):
        drain_until(connection, lambda: len(second.bodies) == 1)

    assert second.bodies == [{"n": 1}]
    assert second.messages[0].redelivered


def test_ack_multiple_settles_the_earlier_deliveries_too(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    first, second = Inbox(), Inbox(ack=True)
    for n in range(3):
        producer.publish({"n": n})
    channel = connection.channel()
    with Consumer(channel, queue, callbacks=[first]):
        drain_until(connection, lambda: len(first.bodies) == 3)
        first.messages[1].ack(multiple=True)
    channel.close()

    with Consumer(connection, queue, callbacks=[second]):
        drain_until(connection, lambda: len(second.bodies) == 1)
        drain_quietly(connection)

    # Messages 0 and 1 were settled by the one ack; only 2 comes back.
    assert second.bodies == [{"n": 2}]
    assert second.messages[0].redelivered


def test_no_ack_messages_leave_the_queue_without_an_ack(
    connection: Connection, queue: Queue, producer: Producer, raw_get: RawGet
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})
    channel = connection.channel()

    with Consumer(channel, queue, callbacks=[inbox], no_ack=True):
        drain_until(connection, lambda: len(inbox.bodies) == 1)
    channel.close()

    assert raw_get(queue.name) is None


def test_settling_a_no_ack_message_sends_nothing(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})
    producer.publish({"n": 2})

    with Consumer(connection, queue, callbacks=[inbox], no_ack=True):
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        inbox.messages[0].reject()
        inbox.messages[1].ack()
        # RabbitMQ would close the channel over an unknown delivery tag:
        # a round trip on it shows nothing was sent.
        queue.queue_declare(passive=True, channel=connection.default_channel)

    assert all(message.acknowledged for message in inbox.messages)
    assert connection.default_channel is inbox.messages[0].channel


def test_recover_redelivers_the_unacked_messages(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox()
    producer.publish({"n": 1})

    with Consumer(connection, queue, callbacks=[inbox]) as consumer:
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        consumer.recover(requeue=True)
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        inbox.messages[1].ack()

    assert inbox.messages[1].redelivered


# -- prefetch --------------------------------------------------------------------------


def test_prefetch_count_caps_the_unacked_deliveries(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox()
    for n in range(5):
        producer.publish({"n": n})

    with Consumer(connection, queue, callbacks=[inbox], prefetch_count=2):
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        drain_quietly(connection)
        assert inbox.bodies == [{"n": 0}, {"n": 1}]
        inbox.messages[0].ack()
        drain_until(connection, lambda: len(inbox.bodies) == 3)
        for message in inbox.messages[1:]:
            message.ack()

    assert inbox.bodies[2] == {"n": 2}


def test_qos_sets_the_prefetch_for_later_consumers(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox()
    for n in range(3):
        producer.publish({"n": n})
    consumer = Consumer(connection, queue, callbacks=[inbox])
    consumer.qos(prefetch_count=1)

    with consumer:
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        drain_quietly(connection)
        received = list(inbox.bodies)
        inbox.messages[0].ack()

    assert received == [{"n": 0}]


def test_a_global_prefetch_caps_the_channels_consumers_together(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    unique: str,
    cleanup: Cleanup,
) -> None:
    other = Queue(f"{unique}-other")
    cleanup(other)
    inbox = Inbox()
    consumer = Consumer(connection, [queue, other], callbacks=[inbox])
    producer.publish({"n": 1})
    producer.publish({"n": 2}, exchange="", routing_key=other.name)
    consumer.qos(prefetch_count=1, apply_global=True)

    with consumer:
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        drain_quietly(connection)
        held = list(inbox.bodies)
        inbox.messages[0].ack()
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        inbox.messages[1].ack()

    assert len(held) == 1
    assert sorted(body["n"] for body in inbox.bodies) == [1, 2]


# -- queue limits: message TTL and max length ------------------------------------------


@pytest.fixture
def confirming(url: str) -> Iterator[Connection]:
    """A connection whose publishes are in their queue when publish returns."""
    with Connection(url, confirm_publish=True) as conn:
        yield conn


def limited_queue(
    connection: Connection, name: str, cleanup: Cleanup, **limits: Any
) -> Queue:
    queue = Queue(name, routing_key=name, **limits)
    cleanup(queue)
    queue.declare(channel=connection.default_channel)
    return queue


def test_a_message_older_than_the_queue_ttl_is_never_delivered(
    connection: Connection, confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = limited_queue(connection, f"{unique}-ttl", cleanup, message_ttl=0.2)
    producer = confirming.Producer(routing_key=queue.name)
    inbox = Inbox()

    # Prefetch 1: the first message goes straight to the consumer, the
    # second waits in the queue past its TTL.
    with Consumer(connection, queue, callbacks=[inbox], prefetch_count=1):
        producer.publish({"n": 1})
        producer.publish({"n": 2})
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        time.sleep(0.5)  # the TTL itself is what is tested: time has to pass
        inbox.messages[0].ack()
        drain_quietly(connection)

    assert inbox.bodies == [{"n": 1}]


def test_the_queue_ttl_argument_expires_messages_like_message_ttl(
    connection: Connection, confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = limited_queue(
        connection,
        f"{unique}-ttl-arg",
        cleanup,
        queue_arguments={"x-message-ttl": 100},
    )
    confirming.Producer(routing_key=queue.name).publish({"n": 1})
    time.sleep(0.4)  # the TTL itself is what is tested: time has to pass
    inbox = Inbox()

    with Consumer(connection, queue, callbacks=[inbox]):
        drain_quietly(connection)

    assert inbox.bodies == []


def test_a_full_queue_drops_its_oldest_messages(
    connection: Connection, confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = limited_queue(connection, f"{unique}-max", cleanup, max_length=2)
    producer = confirming.Producer(routing_key=queue.name)
    for n in range(3):
        producer.publish({"n": n})
    inbox = Inbox(ack=True)

    with Consumer(connection, queue, callbacks=[inbox]):
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        drain_quietly(connection)

    assert inbox.bodies == [{"n": 1}, {"n": 2}]


def test_max_length_counts_only_the_ready_messages(
    connection: Connection, confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = limited_queue(connection, f"{unique}-max", cleanup, max_length=2)
    producer = confirming.Producer(routing_key=queue.name)
    inbox = Inbox()
    producer.publish({"n": 0})

    with Consumer(connection, queue, callbacks=[inbox], prefetch_count=1):
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        # One delivered and unacknowledged, two ready: nothing is dropped.
        producer.publish({"n": 1})
        producer.publish({"n": 2})
        inbox.messages[0].ack()
        drain_until(connection, lambda: len(inbox.bodies) == 2)
        inbox.messages[1].ack()
        drain_until(connection, lambda: len(inbox.bodies) == 3)
        inbox.messages[2].ack()

    assert inbox.bodies == [{"n": 0}, {"n": 1}, {"n": 2}]


# -- decode errors ---------------------------------------------------------------------


def test_an_undecodable_message_goes_to_on_decode_error(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    failures: list[tuple[Message, Exception]] = []
    producer.publish(b"{not json", content_type="application/json")

    with Consumer(
        connection,
        queue,
        callbacks=[Inbox()],
        on_decode_error=lambda m, exc: failures.append((m, exc)),
    ):
        drain_until(connection, lambda: len(failures) == 1)
        message, exc = failures[0]
        message.ack()

    assert isinstance(exc, DecodeError)
    assert message.body == b"{not json"


def test_a_content_type_outside_accept_goes_to_on_decode_error(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    failures: list[Exception] = []
    producer.publish({"n": 1}, serializer="yaml")

    with Consumer(
        connection,
        queue,
        callbacks=[Inbox()],
        on_decode_error=lambda m, exc: (failures.append(exc), m.ack()),
    ):
        drain_until(connection, lambda: len(failures) == 1)

    assert isinstance(failures[0], ContentDisallowed)


def test_accept_lets_other_serializers_through(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    producer.publish({"n": 1}, serializer="yaml")

    with Consumer(connection, queue, callbacks=[inbox], accept=["json", "yaml"]):
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert inbox.bodies == [{"n": 1}]


def test_draining_goes_on_after_an_undecodable_message_raised(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    raw_get: RawGet,
) -> None:
    inbox = Inbox(ack=True)
    producer.publish(b"{not json", content_type="application/json")
    producer.publish({"n": 2})
    channel = connection.channel()

    with Consumer(channel, queue, callbacks=[inbox]):
        with pytest.raises(DecodeError):
            connection.drain_events(timeout=5)
        drain_until(connection, lambda: len(inbox.bodies) == 1)
    channel.close()
    left = raw_get(queue.name)

    assert inbox.bodies == [{"n": 2}]
    assert left is not None
    assert left.body == b"{not json"


# -- cancelling ------------------------------------------------------------------------


def test_leaving_the_with_block_stops_consuming(
    connection: Connection, queue: Queue, producer: Producer, raw_get: RawGet
) -> None:
    inbox = Inbox(ack=True)
    with Consumer(connection, queue, callbacks=[inbox]) as consumer:
        assert consumer.consuming_from(queue)

    producer.publish({"n": 1})
    drain_quietly(connection, 0.1)

    assert not consumer.consuming_from(queue)
    assert inbox.bodies == []
    assert raw_get(queue.name) is not None


def test_cancel_by_queue_stops_only_that_queue(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    unique: str,
    cleanup: Cleanup,
) -> None:
    other = Queue(f"{unique}-other", queue.exchange, routing_key="rk")
    cleanup(other)
    inbox = Inbox(ack=True)

    with Consumer(connection, [queue, other], callbacks=[inbox]) as consumer:
        consumer.cancel_by_queue(other.name)
        producer.publish({"n": 1})
        drain_until(connection, lambda: len(inbox.bodies) == 1)
        drain_quietly(connection, 0.1)

    assert inbox.bodies == [{"n": 1}]
    assert [q.name for q in consumer.queues] == [queue.name]


def test_add_queue_declares_and_the_next_consume_consumes_it(
    connection: Connection,
    queue: Queue,
    unique: str,
    cleanup: Cleanup,
) -> None:
    extra = Queue(f"{unique}-extra")
    cleanup(extra)
    inbox = Inbox(ack=True)

    with Consumer(connection, queue, callbacks=[inbox]) as consumer:
        consumer.add_queue(extra)
        assert not consumer.consuming_from(extra)
        connection.Producer().publish({"n": 9}, routing_key=extra.name)
        consumer.consume()
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert inbox.bodies == [{"n": 9}]


def test_a_consumer_made_without_queues_consumes_those_added_later(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    consumer = Consumer(connection, callbacks=[inbox])
    producer.publish({"n": 5})

    consumer.add_queue(queue)
    with consumer:
        drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert inbox.bodies == [{"n": 5}]


def test_a_deleted_queue_cancels_the_consumer_through_on_cancel(
    connection: Connection, queue: Queue
) -> None:
    cancelled: list[Queue] = []

    with Consumer(
        connection, queue, callbacks=[Inbox()], on_cancel=cancelled.append
    ) as consumer:
        with connection.channel() as other:
            queue.delete(channel=other)
        drain_until(connection, lambda: len(cancelled) == 1)

    assert cancelled[0].name == queue.name
    assert not consumer.consuming_from(queue)
    assert connection.connected


def test_a_broker_cancel_without_on_cancel_is_logged_not_raised(
    connection: Connection, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="kombu_lite.messaging.consumer"),
        Consumer(connection, queue, callbacks=[Inbox()]) as consumer,
    ):
        with connection.channel() as other:
            queue.delete(channel=other)
        drain_until(connection, lambda: not consumer.consuming_from(queue))

    assert "cancelled consumer" in caplog.text
    assert connection.default_channel.is_open


# -- queue operations ------------------------------------------------------------------


def test_purge_drops_the_ready_messages_and_counts_them(
    connection: Connection, queue: Queue, confirming: Connection
) -> None:
    # Confirmed publishes: all three are in the queue before the purge.
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")
    for n in range(3):
        producer.publish({"n": n})
    consumer = Consumer(connection, queue, callbacks=[Inbox()])

    assert consumer.purge() == 3


def test_revive_moves_the_consumer_to_a_new_channel(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    inbox = Inbox(ack=True)
    old = connection.channel()
    consumer = Consumer(old, queue, callbacks=[inbox])
    consumer.consume()
    old.close()
    new = connection.channel()

    consumer.revive(new)
    producer.publish({"n": 1})
    drain_until(connection, lambda: len(inbox.bodies) == 1)

    assert consumer.channel is new
    assert inbox.messages[0].channel is new
    consumer.cancel()


# -- settings and argument checks --------------------------------------------------


def test_without_auto_declare_nothing_is_declared(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    first, second = Queue(f"{unique}-undeclared"), Queue(f"{unique}-added")
    cleanup(first)
    cleanup(second)

    consumer = Consumer(connection, first, callbacks=[Inbox()], auto_declare=False)
    consumer.add_queue(second)

    for queue in (first, second):
        with pytest.raises(NotFound):
            queue.queue_declare(passive=True, channel=connection.channel())
    assert [q.name for q in consumer.queues] == [first.name, second.name]


def test_the_consumer_belongs_to_its_channels_connection(
    connection: Connection, queue: Queue
) -> None:
    channel = connection.channel()

    consumer = Consumer(channel, queue, callbacks=[Inbox()])

    assert consumer.connection is connection
    assert repr(consumer) == (
        f"<Consumer: [{queue.name!r}] on channel {channel.channel_id}>"
    )


def test_a_single_accept_name_is_one_serializer(
    connection: Connection, queue: Queue
) -> None:
    consumer = Consumer(connection, queue, callbacks=[Inbox()], accept="json")

    assert consumer.accept == frozenset({"application/json"})


def test_cancel_on_a_closed_channel_only_forgets_the_consumers(
    connection: Connection, queue: Queue
) -> None:
    channel = connection.channel()
    consumer = Consumer(channel, queue, callbacks=[Inbox()])
    consumer.consume()
    channel.close()

    consumer.cancel()

    assert not consumer.consuming_from(queue)


def test_cancel_by_queue_drops_a_queue_not_consumed_yet(
    connection: Connection, queue: Queue
) -> None:
    consumer = Consumer(connection, queue, callbacks=[Inbox()])

    consumer.cancel_by_queue(queue.name)

    assert consumer.queues == []


def test_consume_needs_somewhere_to_deliver(
    connection: Connection, queue: Queue, raw_get: RawGet, producer: Producer
) -> None:
    consumer = Consumer(connection, queue)
    producer.publish({"n": 1})

    with pytest.raises(ConfigurationError, match="no callbacks"):
        consumer.consume()
    with pytest.raises(ConfigurationError, match="no callbacks"):
        consumer.receive({"n": 1}, None)  # type: ignore[arg-type]

    # Nothing was consumed: the message is still in the queue.
    assert not consumer.consuming_from(queue)
    deadline = time.monotonic() + 5
    while (got := raw_get(queue.name)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got is not None


def test_qos_refuses_a_prefetch_size(connection: Connection, queue: Queue) -> None:
    consumer = Consumer(connection, queue, callbacks=[Inbox()])

    with pytest.raises(ConfigurationError, match="prefetch_size"):
        consumer.qos(prefetch_size=1024)

    assert connection.default_channel.is_open


def test_recover_without_requeue_is_refused(
    connection: Connection, queue: Queue
) -> None:
    consumer = Consumer(connection, queue, callbacks=[Inbox()])

    with pytest.raises(ConfigurationError, match="requeue=True"):
        consumer.recover()

    assert connection.default_channel.is_open


def test_leaving_the_with_block_on_a_lost_connection_raises_only_that(
    breakable: Breakable, unique: str
) -> None:
    conn = Connection(breakable.url)
    queue = Queue(f"{unique}-lost", exclusive=True)

    consumer = Consumer(conn, queue, callbacks=[Inbox()])
    consumer.consume()
    breakable.break_connections()

    # Entering consumes nothing more: every queue is consumed already.
    with pytest.raises(ConnectionLost), consumer:
        conn.drain_events(timeout=5)

    assert not consumer.consuming_from(queue)
    conn.release()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"no_ack": "yes"}, "no_ack"),
        ({"callbacks": [42]}, "callback"),
        ({"on_message": 42}, "on_message"),
        ({"on_decode_error": 42}, "on_decode_error"),
        ({"on_cancel": 42}, "on_cancel"),
        ({"prefetch_count": -1}, "prefetch_count"),
        ({"prefetch_count": 65536}, "prefetch_count"),
        ({"prefetch_count": True}, "prefetch_count"),
        ({"tag_prefix": 7}, "tag_prefix"),
        ({"queues": 7}, "queues"),
        ({"queues": [7]}, "queues"),
    ],
)
def test_a_bad_argument_is_refused_before_anything_is_sent(
    options: dict[str, Any], match: str, unique: str
) -> None:
    queues = options.pop("queues", Queue(f"{unique}-never"))

    with (
        Connection("memory://") as conn,
        pytest.raises(ConfigurationError, match=match),
    ):
        Consumer(conn, queues, **options)

    assert default_broker().queues() == []
    assert not conn.connected


def test_a_consumer_needs_a_channel_or_a_connection() -> None:
    with pytest.raises(ConfigurationError, match="Channel or a Connection"):
        Consumer("memory://", [])  # type: ignore[arg-type]


def test_consume_refuses_a_bad_no_ack(connection: Connection, queue: Queue) -> None:
    consumer = Consumer(connection, queue, callbacks=[Inbox()])

    with pytest.raises(ConfigurationError, match="no_ack"):
        consumer.consume(no_ack="yes")  # type: ignore[arg-type]

    assert not consumer.consuming_from(queue)
