"""SimpleQueue and SimpleBuffer behaviour, the same on memory:// and RabbitMQ."""

from __future__ import annotations

import json
import logging
import queue
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from kombu_lite import Connection, Exchange, Queue, SimpleBuffer, SimpleQueue
from kombu_lite.exceptions import (
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    NotFound,
)
from kombu_lite.transport.memory import default_broker

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def name(unique: str, cleanup: Cleanup) -> str:
    """A queue name; the queue and its exchange of the same name are deleted."""
    qname = f"{unique}-simple"
    cleanup(Queue(qname, Exchange(qname)))
    return qname


@pytest.fixture
def simple(connection: Connection, name: str) -> Iterator[SimpleQueue]:
    sq = connection.SimpleQueue(name)
    yield sq
    sq.close()


def settled_size(simple: SimpleQueue, expected: int, within: float = 5.0) -> int:
    """``qsize()`` once it reaches ``expected`` or ``within`` seconds pass.

    RabbitMQ takes unconfirmed publishes asynchronously, so a count taken right
    after ``put`` may not include the last messages yet.
    """
    deadline = time.monotonic() + within
    size = simple.qsize()
    while size != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        size = simple.qsize()
    return size


def buffered(simple: SimpleQueue, expected: int, within: float = 5.0) -> int:
    """How many messages wait in the local buffer once ``expected`` arrived.

    ``qsize()`` moves the deliveries that have arrived into the buffer.
    """
    deadline = time.monotonic() + within
    while len(simple.buffer) < expected and time.monotonic() < deadline:
        simple.qsize()
        time.sleep(0.01)
    return len(simple.buffer)


def test_get_returns_what_put_sent(simple: SimpleQueue) -> None:
    simple.put({"n": 1}, headers={"h": "v"}, priority=3)

    message = simple.get(timeout=5)
    message.ack()

    assert message.payload == {"n": 1}
    assert message.headers == {"h": "v"}
    assert message.priority == 3


def test_a_str_body_comes_back_as_str_with_the_default_accept_list(
    simple: SimpleQueue,
) -> None:
    # kombu's consumers refuse text/plain, the type of its own str bodies.
    simple.put("hello")

    message = simple.get(timeout=5)
    message.ack()

    assert message.payload == "hello"
    assert message.content_type == "text/plain"


def test_messages_come_out_in_order(simple: SimpleQueue) -> None:
    for n in range(3):
        simple.put({"n": n})

    bodies = []
    for _ in range(3):
        message = simple.get(timeout=5)
        bodies.append(message.payload)
        message.ack()

    assert bodies == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_get_on_an_empty_queue_raises_empty_after_the_timeout(
    simple: SimpleQueue,
) -> None:
    start = time.monotonic()

    with pytest.raises(SimpleQueue.Empty, match=r"within 0\.1 s"):
        simple.get(timeout=0.1)

    assert time.monotonic() - start >= 0.1


def test_empty_is_a_queue_empty(simple: SimpleQueue) -> None:
    with pytest.raises(queue.Empty):
        simple.get(block=False)


def test_get_nowait_returns_a_ready_message(simple: SimpleQueue) -> None:
    simple.put({"n": 1})
    settled_size(simple, 1)

    message = simple.get_nowait()
    message.ack()

    assert message.payload == {"n": 1}


def test_get_nowait_on_an_empty_queue_raises_empty(simple: SimpleQueue) -> None:
    with pytest.raises(SimpleQueue.Empty, match="no message ready"):
        simple.get_nowait()


def test_qsize_and_len_count_the_ready_messages(simple: SimpleQueue) -> None:
    for n in range(3):
        simple.put({"n": n})

    assert settled_size(simple, 3) == 3
    assert len(simple) == 3


def test_clear_drops_the_messages_and_counts_them(simple: SimpleQueue) -> None:
    for n in range(2):
        simple.put({"n": n})
    settled_size(simple, 2)

    assert simple.clear() == 2
    assert simple.qsize() == 0


def test_close_gives_buffered_messages_back(connection: Connection, name: str) -> None:
    simple = connection.SimpleQueue(name)
    for n in range(2):
        simple.put({"n": n})
    first = simple.get(timeout=5)

    simple.close()
    first.ack()

    # The requeue is asynchronous on RabbitMQ: wait for it to show.
    assert settled_size(simple, 1) == 1


def test_an_unacked_message_is_redelivered_after_the_channel_closes(
    connection: Connection, name: str
) -> None:
    channel = connection.channel()
    simple = SimpleQueue(channel, name)
    simple.put({"n": 1})
    assert simple.get(timeout=5).payload == {"n": 1}
    channel.close()

    again = connection.SimpleQueue(name)
    message = again.get(timeout=5)
    message.ack()
    again.close()

    assert message.redelivered


def test_the_with_block_closes_the_queue(connection: Connection, name: str) -> None:
    with connection.SimpleQueue(name) as simple:
        simple.put({"n": 1})
        simple.get(timeout=5).ack()

    assert not simple.consumer.consuming_from(name)


def test_a_queue_object_is_used_as_given(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    given = Queue(f"{unique}-given", max_length=5)
    cleanup(given)

    with connection.SimpleQueue(given) as simple:
        simple.put({"n": 1})
        message = simple.get(timeout=5)
        message.ack()

    assert message.payload == {"n": 1}
    assert message.delivery_info["routing_key"] == given.name


def test_queue_opts_and_args_reach_the_broker(url: str, name: str) -> None:
    # Confirmed publishes are in the queue when put() returns, so the count
    # below sees both of them.
    with (
        Connection(url, confirm_publish=True) as confirming,
        confirming.SimpleQueue(
            name, queue_opts={"max_length": 1}, queue_args={"x-overflow": "drop-head"}
        ) as simple,
    ):
        simple.put({"n": 1})
        simple.put({"n": 2})

        assert simple.qsize() == 1
        message = simple.get(timeout=5)
        message.ack()

    assert message.payload == {"n": 2}


def test_simple_buffer_needs_no_ack(connection: Connection, name: str) -> None:
    with connection.SimpleBuffer(name) as buffer:
        buffer.put({"n": 1})
        message = buffer.get(timeout=5)

        assert message.payload == {"n": 1}
        assert message.delivery_mode == 1
        assert buffer.qsize() == 0


def test_simple_buffer_queue_goes_away_with_its_connection(
    connection: Connection, url: str, name: str
) -> None:
    with Connection(url) as own:
        SimpleBuffer(own, name).put({"n": 1})

    with pytest.raises(NotFound):
        Queue(name).queue_declare(passive=True, channel=connection.channel())


# -- the local buffer --------------------------------------------------------------


def test_messages_delivered_while_consuming_wait_in_the_buffer(
    simple: SimpleQueue,
) -> None:
    for n in range(3):
        simple.put({"n": n})
    simple.get(timeout=5).ack()  # consuming from now on

    assert buffered(simple, 2) == 2
    assert simple.qsize() == 2
    second = simple.get(timeout=5)
    second.ack()

    assert second.payload == {"n": 1}
    assert len(simple.buffer) == 1


def test_get_nowait_takes_a_message_already_delivered(simple: SimpleQueue) -> None:
    simple.put({"n": 1})
    simple.put({"n": 2})
    simple.get(timeout=5).ack()  # consuming from now on

    deadline = time.monotonic() + 5
    while True:
        try:
            message = simple.get_nowait()
            break
        except SimpleQueue.Empty:
            # On RabbitMQ the message may still be on its way to us.
            assert time.monotonic() < deadline
            time.sleep(0.02)
    message.ack()

    assert message.payload == {"n": 2}


def test_get_nowait_hands_out_a_message_of_a_refused_type_unsettled(
    connection: Connection, simple: SimpleQueue, name: str
) -> None:
    elsewhere = connection.Producer(routing_key=name)
    elsewhere.publish(b"\x00opaque", content_type="application/x-custom")
    elsewhere.publish({"n": 2})
    settled_size(simple, 2)

    refused = simple.get_nowait()
    with pytest.raises(ContentDisallowed, match="application/x-custom"):
        _ = refused.payload
    unsettled = refused.acknowledged
    refused.reject()
    second = simple.get_nowait()
    second.ack()

    assert not unsettled
    assert refused.body == b"\x00opaque"
    assert second.payload == {"n": 2}


def test_get_lets_other_consumers_of_the_connection_receive_while_it_waits(
    connection: Connection, simple: SimpleQueue, unique: str, cleanup: Cleanup
) -> None:
    other = Queue(f"{unique}-other")
    cleanup(other)
    received: list[object] = []
    with connection.Consumer(
        other, callbacks=[lambda body, message: received.append(body)], no_ack=True
    ):
        connection.Producer().publish({"for": "other"}, routing_key=other.name)

        with pytest.raises(SimpleQueue.Empty):
            simple.get(timeout=1.0)

    assert received == [{"for": "other"}]


def test_clear_rejects_the_buffered_messages(connection: Connection, name: str) -> None:
    simple = connection.SimpleQueue(name)
    for n in range(3):
        simple.put({"n": n})
    simple.get(timeout=5).ack()  # consuming from now on
    buffered(simple, 2)

    assert simple.clear() == 2
    simple.close()

    with connection.SimpleQueue(name) as again, pytest.raises(SimpleQueue.Empty):
        again.get(timeout=0.3)


def test_close_after_the_channel_closed_leaves_the_requeue_to_the_broker(
    connection: Connection, name: str
) -> None:
    channel = connection.channel()
    simple = SimpleQueue(channel, name)
    for n in range(2):
        simple.put({"n": n})
    simple.get(timeout=5)  # not acknowledged
    buffered(simple, 1)
    channel.close()

    simple.close()

    with connection.SimpleQueue(name) as again:
        messages = [again.get(timeout=5) for _ in range(2)]
        for message in messages:
            message.ack()
    assert [m.payload for m in messages] == [{"n": 0}, {"n": 1}]
    assert all(m.redelivered for m in messages)


def test_an_empty_queue_is_still_true(simple: SimpleQueue) -> None:
    assert len(simple) == 0
    assert simple


def test_the_repr_names_the_queue_and_channel(
    connection: Connection, simple: SimpleQueue, name: str
) -> None:
    channel_id = simple.channel.channel_id

    assert repr(simple) == f"<SimpleQueue {name!r} on channel {channel_id}>"


# -- serializer, compression, accept, routing key ----------------------------------


@dataclass(frozen=True)
class Point:
    """A body only pickle can carry."""

    x: int
    y: int


def test_the_serializer_and_accept_options_carry_a_pickled_body(
    connection: Connection, name: str
) -> None:
    with connection.SimpleQueue(name, serializer="pickle", accept=["pickle"]) as sq:
        sq.put(Point(1, 2))
        message = sq.get(timeout=5)
        message.ack()

    assert message.content_type == "application/x-python-serialize"
    assert message.payload == Point(1, 2)


def test_accept_takes_several_serializers_and_put_picks_one(
    connection: Connection, name: str
) -> None:
    with connection.SimpleQueue(name, accept=["json", "pickle"]) as sq:
        sq.put({"n": 1})
        sq.put(Point(3, 4), serializer="pickle")
        messages = [sq.get(timeout=5) for _ in range(2)]
        for message in messages:
            message.ack()

    assert [m.content_type for m in messages] == [
        "application/json",
        "application/x-python-serialize",
    ]
    assert [m.payload for m in messages] == [{"n": 1}, Point(3, 4)]


def test_the_compression_option_compresses_what_put_sends(
    connection: Connection, name: str, raw_get: RawGet
) -> None:
    with connection.SimpleQueue(name, compression="zlib") as sq:
        sq.put({"n": 1})
        settled_size(sq, 1)

    raw = raw_get(name)

    assert raw is not None
    assert raw.properties["headers"]["compression"] == "application/x-gzip"
    assert json.loads(zlib.decompress(raw.body)) == {"n": 1}


def test_a_compressed_message_comes_back_inflated(
    connection: Connection, name: str
) -> None:
    with connection.SimpleQueue(name) as sq:
        sq.put({"n": 1}, compression="bzip2")
        message = sq.get(timeout=5)
        message.ack()

    assert message.headers["compression"] == "application/x-bz2"
    assert message.payload == {"n": 1}


def test_put_routing_key_routes_through_the_queues_exchange(
    connection: Connection,
    simple: SimpleQueue,
    name: str,
    unique: str,
    cleanup: Cleanup,
    raw_get: RawGet,
) -> None:
    other = Queue(f"{unique}-other", Exchange(name), routing_key="elsewhere")
    cleanup(other)
    other.declare(channel=connection.default_channel)

    simple.put({"to": "other"}, routing_key="elsewhere")
    deadline = time.monotonic() + 5
    raw = raw_get(other.name)
    while raw is None and time.monotonic() < deadline:
        time.sleep(0.02)
        raw = raw_get(other.name)

    assert raw is not None
    assert json.loads(raw.body) == {"to": "other"}
    assert raw.routing_key == "elsewhere"
    assert simple.qsize() == 0


# -- nothing undecodable is lost ---------------------------------------------------


def test_a_serializer_outside_accept_is_refused_by_put_before_sending(
    connection: Connection, name: str
) -> None:
    # It constructs, as in kombu (code builds such queues to read only).
    with connection.SimpleQueue(name, serializer="pickle") as sq:
        with pytest.raises(
            ConfigurationError,
            match=(
                r"serializer 'pickle' \(application/x-python-serialize\) is not "
                r"in its accept list \(application/json\).*add 'pickle' to accept="
            ),
        ):
            sq.put({"n": 1})
        sq.put({"n": 2}, serializer="json")

        assert settled_size(sq, 1) == 1


def test_without_json_in_accept_put_sends_only_bytes_and_str(
    connection: Connection, name: str
) -> None:
    with connection.SimpleQueue(name, accept=["pickle"]) as sq:
        with pytest.raises(
            ConfigurationError, match=r"serializer 'json' \(the default"
        ):
            sq.put({"n": 1})
        sq.put("text")
        message = sq.get(timeout=5)
        message.ack()

        assert message.payload == "text"
        assert sq.qsize() == 0


def test_raw_needs_no_accept_entry(connection: Connection, name: str) -> None:
    with connection.SimpleQueue(name, serializer="raw", accept=["pickle"]) as sq:
        sq.put(b"\x01\x02")
        message = sq.get(timeout=5)
        message.ack()

    assert message.payload == b"\x01\x02"


@pytest.mark.parametrize("factory", ["SimpleQueue", "SimpleBuffer"])
def test_put_with_a_serializer_outside_accept_sends_nothing(
    connection: Connection, name: str, factory: str
) -> None:
    with getattr(connection, factory)(name) as sq:
        with pytest.raises(
            ConfigurationError, match=r"serializer 'pickle'.*add 'pickle' to accept="
        ):
            sq.put({"n": 1}, serializer="pickle")
        sq.put({"n": 2})
        message = sq.get(timeout=5)
        message.ack()  # records the state only, on a SimpleBuffer

        assert message.payload == {"n": 2}
        assert sq.qsize() == 0


def test_put_with_a_content_type_outside_accept_sends_nothing(
    simple: SimpleQueue,
) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"content_type 'application/x-custom'.*add 'application/x-custom'",
    ):
        simple.put(b"\x00", content_type="application/x-custom")

    assert simple.qsize() == 0


def test_a_content_type_in_accept_is_sent(connection: Connection, name: str) -> None:
    with connection.SimpleQueue(name, accept=["application/x-custom"]) as sq:
        sq.put(b"\x00", content_type="application/x-custom")
        message = sq.get(timeout=5)
        message.ack()

    assert message.payload == b"\x00"


def test_get_hands_out_a_message_of_a_refused_type_and_loses_nothing(
    connection: Connection,
    simple: SimpleQueue,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elsewhere = connection.Producer(routing_key=name, serializer="pickle")
    elsewhere.publish(Point(5, 6))

    with caplog.at_level(logging.WARNING):
        refused = simple.get(timeout=5)
    with pytest.raises(ContentDisallowed, match="application/x-python-serialize"):
        _ = refused.payload
    unsettled = refused.acknowledged
    refused.requeue()
    simple.close()

    with connection.SimpleQueue(name, accept=["json", "pickle"]) as again:
        message = again.get(timeout=5)
        message.ack()

    assert not unsettled
    assert caplog.records == []
    assert message.payload == Point(5, 6)
    assert message.redelivered


def test_get_hands_out_a_corrupt_message_for_the_caller_to_settle(
    connection: Connection, simple: SimpleQueue, name: str
) -> None:
    connection.Producer(routing_key=name).publish(
        b"{not json", content_type="application/json"
    )

    message = simple.get(timeout=5)
    with pytest.raises(DecodeError):
        _ = message.payload
    unsettled = message.acknowledged
    message.reject()

    assert not unsettled
    assert message.body == b"{not json"
    assert settled_size(simple, 0) == 0


# -- argument checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"no_ack": "yes"}, "no_ack"),
        ({"queue_opts": ["durable"]}, "queue_opts must be a mapping"),
        ({"queue_opts": {"durible": False}}, "unknown option 'durible' in queue_opts"),
        ({"exchange_opts": {"kind": "topic"}}, "unknown option 'kind'"),
        ({"ack_batch": 0}, "ack_batch must be a positive int"),
    ],
)
def test_a_bad_argument_is_refused_before_anything_is_sent(
    options: dict[str, object], match: str, unique: str
) -> None:
    with (
        Connection("memory://") as conn,
        pytest.raises(ConfigurationError, match=match),
    ):
        SimpleQueue(conn, f"{unique}-never", **options)  # type: ignore[arg-type]

    assert default_broker().queues() == []
    assert not conn.connected


def test_options_for_a_given_queue_object_are_refused(unique: str) -> None:
    with (
        Connection("memory://") as conn,
        pytest.raises(ConfigurationError, match="only to a queue given by name"),
    ):
        SimpleQueue(conn, Queue(f"{unique}-q"), queue_opts={"durable": False})


def test_the_name_must_be_a_str_or_a_queue() -> None:
    with (
        Connection("memory://") as conn,
        pytest.raises(ConfigurationError, match="queue name or a Queue"),
    ):
        SimpleQueue(conn, 42)  # type: ignore[arg-type]


def test_a_simple_queue_needs_a_channel_or_a_connection() -> None:
    with pytest.raises(ConfigurationError, match="Channel or a Connection"):
        SimpleBuffer("memory://", "q")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [-1, "5", True])
def test_get_refuses_a_bad_timeout(simple: SimpleQueue, timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        simple.get(timeout=timeout)  # type: ignore[arg-type]
