"""Exchange and Queue against a broker, the same on memory:// and RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue, binding
from kombu_lite.exceptions import (
    AccessRefused,
    ChannelClosed,
    ContentDisallowed,
    MessageStateError,
    NotFound,
    PreconditionFailed,
)

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]
Mode = Literal["transient", "persistent"] | None


def test_passive_declare_of_a_missing_exchange_raises_not_found(
    connection: Connection, unique: str
) -> None:
    with pytest.raises(NotFound, match=f"{unique}-none"):
        Exchange(f"{unique}-none", passive=True).declare(
            channel=connection.default_channel
        )


def test_passive_declare_of_a_missing_queue_raises_not_found(
    connection: Connection, unique: str
) -> None:
    with pytest.raises(NotFound, match=f"{unique}-none"):
        Queue(f"{unique}-none").queue_declare(
            passive=True, channel=connection.default_channel
        )


def test_redeclaring_an_exchange_with_another_type_fails(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    direct = Exchange(f"{unique}-x", type="direct")
    cleanup(direct)
    direct.declare(channel=connection.default_channel)

    with pytest.raises(PreconditionFailed, match="type"):
        Exchange(f"{unique}-x", type="topic").declare(channel=connection.channel())


def test_redeclaring_a_queue_with_other_arguments_fails(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q", max_length=10)
    cleanup(queue)
    queue.declare(channel=connection.default_channel)

    with pytest.raises(PreconditionFailed, match="x-max-length"):
        Queue(f"{unique}-q", max_length=20).declare(channel=connection.channel())


def test_a_channel_is_closed_after_a_broker_error(
    connection: Connection, unique: str
) -> None:
    channel = connection.channel()
    with pytest.raises(NotFound):
        Exchange(f"{unique}-none", passive=True).declare(channel=channel)

    assert not channel.is_open
    with pytest.raises(ChannelClosed):
        Queue(f"{unique}-q", exclusive=True).declare(channel=channel)


def test_server_named_queue_gets_its_name_after_declare(
    connection: Connection,
) -> None:
    queue = Queue("", exclusive=True)

    name = queue.declare(channel=connection.default_channel)

    assert name.startswith("amq.gen-")
    assert queue.name == name


def test_queue_declare_reports_message_count(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")
    cleanup(queue)
    queue.declare(channel=connection.default_channel)
    producer = connection.Producer(routing_key=queue.name)
    for n in range(3):
        producer.publish({"n": n})
    # basic.get goes through the queue, so the publishes before it are counted
    # (RabbitMQ's count may lag a publish that was only just written).
    assert queue.get(channel=connection.default_channel) is not None

    result = queue.queue_declare(passive=True, channel=connection.default_channel)

    assert (result.queue, result.message_count) == (queue.name, 2)


def test_get_returns_none_on_an_empty_queue(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")
    cleanup(queue)
    queue.declare(channel=connection.default_channel)

    assert queue.get(channel=connection.default_channel) is None


def test_get_ack_removes_the_message(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    connection.Producer(routing_key=queue.name).publish({"n": 1})

    message = queue.get()
    assert message is not None
    assert message.payload == {"n": 1}
    message.ack()

    assert message.acknowledged
    assert queue.get() is None


def test_acking_twice_raises_message_state_error(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    connection.Producer(routing_key=queue.name).publish({"n": 1})
    message = queue.get()
    assert message is not None
    message.ack()

    with pytest.raises(MessageStateError):
        message.ack()


def test_requeued_message_comes_back_redelivered(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    connection.Producer(routing_key=queue.name).publish({"n": 1})
    first = queue.get()
    assert first is not None
    assert not first.redelivered

    first.requeue()
    again = queue.get()

    assert again is not None
    assert again.redelivered
    assert again.payload == {"n": 1}


def test_rejected_message_is_dropped(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    connection.Producer(routing_key=queue.name).publish({"n": 1})
    message = queue.get()
    assert message is not None

    message.reject()

    assert queue.get() is None


def test_pickle_is_refused_by_default_and_accepted_when_asked(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    producer = connection.Producer(routing_key=queue.name)
    producer.publish({"n": 1}, serializer="pickle")
    producer.publish({"n": 2}, serializer="pickle")

    refused = queue.get()
    accepted = queue.get(accept=["pickle"])

    assert refused is not None
    with pytest.raises(ContentDisallowed, match="x-python-serialize"):
        refused.decode()
    assert accepted is not None
    assert accepted.decode() == {"n": 2}


def test_purge_returns_the_number_of_dropped_messages(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    cleanup(queue)
    queue.declare()
    producer = connection.Producer(routing_key=queue.name)
    for n in range(3):
        producer.publish({"n": n})

    assert queue.purge() == 3
    assert queue.get() is None


def test_delete_returns_the_number_of_messages_it_held(
    connection: Connection, unique: str
) -> None:
    queue = Queue(f"{unique}-q")(connection)
    queue.declare()
    connection.Producer(routing_key=queue.name).publish({"n": 1})

    assert queue.delete() == 1
    with pytest.raises(NotFound):
        queue.queue_declare(passive=True)


def test_queue_with_extra_bindings_receives_from_each(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    ex1 = Exchange(f"{unique}-x1")
    ex2 = Exchange(f"{unique}-x2", type="fanout")
    queue = Queue(
        f"{unique}-q",
        bindings=[binding(ex1, routing_key="a"), ex2.binding()],
    )(connection)
    cleanup(queue)
    cleanup(ex1)
    cleanup(ex2)
    queue.declare()

    Producer(connection, exchange=ex1).publish({"via": 1}, routing_key="a")
    Producer(connection, exchange=ex2).publish({"via": 2})

    got = [queue.get(), queue.get()]
    assert sorted(m.payload["via"] for m in got if m is not None) == [1, 2]


def test_exchange_to_exchange_binding_routes_through(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    source = Exchange(f"{unique}-src", type="fanout")(connection)
    dest = Exchange(f"{unique}-dst")(connection)
    queue = Queue(f"{unique}-q", dest, routing_key="k")(connection)
    cleanup(queue)
    cleanup(source)
    source.declare()
    queue.declare()

    dest.bind_to(source)
    Producer(connection, exchange=source).publish({"n": 1}, routing_key="k")

    message = queue.get()
    assert message is not None
    assert message.payload == {"n": 1}


def test_unbind_from_by_exchange_name_stops_routing(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-x")
    queue = Queue(f"{unique}-q", exchange, routing_key="k")(connection)
    cleanup(queue)
    queue.declare()

    queue.unbind_from(exchange.name, routing_key="k")
    Producer(connection, exchange=exchange).publish({"n": 1}, routing_key="k")

    assert queue.get() is None


def test_raw_exchange_message_publish(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-x")(connection)
    queue = Queue(f"{unique}-q", exchange, routing_key="k")(connection)
    cleanup(queue)
    queue.declare()

    exchange.publish(
        exchange.Message("raw text", content_type="text/plain", priority=3),
        routing_key="k",
    )

    message = queue.get(accept=["text/plain"])
    assert message is not None
    assert message.decode() == "raw text"
    assert message.priority == 3


@pytest.mark.parametrize(
    ("exchange_mode", "message_mode", "expected"),
    [
        (None, None, 2),
        ("transient", None, 1),
        ("transient", "persistent", 2),
        (None, "transient", 1),
    ],
)
def test_raw_message_delivery_mode_defaults_to_the_exchange_then_persistent(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    raw_get: RawGet,
    exchange_mode: Mode,
    message_mode: Mode,
    expected: int,
) -> None:
    exchange = Exchange(f"{unique}-x", delivery_mode=exchange_mode)(connection)
    queue = Queue(f"{unique}-q", exchange, routing_key="k")(connection)
    cleanup(queue)
    queue.declare()

    exchange.publish(exchange.Message(b"raw", delivery_mode=message_mode), "k")

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.properties["delivery_mode"] == expected


def test_raw_publish_of_a_str_is_persistent(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    exchange = Exchange(f"{unique}-x")(connection)
    queue = Queue(f"{unique}-q", exchange, routing_key="k")(connection)
    cleanup(queue)
    queue.declare()

    exchange.publish("raw text", routing_key="k")

    raw = raw_get(queue.name)
    assert raw is not None
    assert (raw.body, raw.properties["delivery_mode"]) == (b"raw text", 2)


# -- internal exchanges ---------------------------------------------------------------


@pytest.fixture
def confirming(url: str) -> Iterator[Connection]:
    conn = Connection(url, confirm_publish=True)
    yield conn
    conn.release()


def test_a_confirmed_publish_to_an_internal_exchange_is_refused(
    confirming: Connection, unique: str, cleanup: Cleanup
) -> None:
    inner = Exchange(f"{unique}-inner", type="fanout", internal=True)
    cleanup(inner)
    inner.declare(channel=confirming.default_channel)

    with pytest.raises(AccessRefused, match="cannot publish to internal exchange"):
        Producer(confirming, exchange=inner).publish({"n": 1})


def _publish_then_sync(producer: Producer) -> None:
    producer.publish({"n": 1})
    # RabbitMQ refuses asynchronously: the next synchronous call on the
    # channel raises it (memory:// raises from publish at once).
    Queue("", exclusive=True).queue_declare(channel=producer.channel)


def test_an_unconfirmed_publish_to_an_internal_exchange_is_refused(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    inner = Exchange(f"{unique}-inner", type="fanout", internal=True)
    cleanup(inner)
    inner.declare(channel=connection.default_channel)
    producer = Producer(connection, exchange=inner)

    with pytest.raises(AccessRefused, match="cannot publish to internal exchange"):
        _publish_then_sync(producer)


def test_an_internal_exchange_routes_what_a_bound_exchange_sends_it(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    outer = Exchange(f"{unique}-outer", type="fanout")(connection)
    inner = Exchange(f"{unique}-inner", type="fanout", internal=True)(connection)
    queue = Queue(f"{unique}-q", inner)(connection)
    cleanup(queue)
    cleanup(outer)
    outer.declare()
    queue.declare()
    inner.bind_to(outer)

    Producer(connection, exchange=outer).publish({"n": 1})

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.exchange == outer.name


def test_redeclaring_an_internal_exchange_as_not_internal_fails(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    inner = Exchange(f"{unique}-inner", type="fanout", internal=True)
    cleanup(inner)
    inner.declare(channel=connection.default_channel)

    with pytest.raises(PreconditionFailed, match="inequivalent arg 'internal'"):
        Exchange(inner.name, type="fanout").declare(channel=connection.channel())
