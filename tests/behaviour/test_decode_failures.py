"""A message that cannot be decoded here is never lost: the same on both transports.

As in kombu, a :class:`~kombu_lite.Consumer` hands it to
``on_decode_error(message, exc)`` or, without one, raises the typed error out
of ``drain_events``; either way nothing settles the message behind the
application's back, so it goes back to the queue when the channel closes.
A codec library missing on this host (an optional extra) is reported the
same way, plus one warning naming the extra to install.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Producer, Queue
from kombu_lite import compression as compression_module
from kombu_lite.exceptions import (
    CompressionNotInstalled,
    ContentDisallowed,
    DecodeError,
    KombuError,
    SerializerNotInstalled,
)

Cleanup = Callable[[Exchange | Queue], None]

#: The modules behind each optional extra (pyproject.toml), any one of which
#: would provide the codec.
_EXTRA_MODULES = {
    "yaml": ("yaml",),
    "msgpack": ("msgpack",),
    "zstd": ("backports.zstd", "compression.zstd"),
    "brotli": ("brotli", "brotlicffi"),
}

MissingCodec = type[SerializerNotInstalled] | type[CompressionNotInstalled]

#: extra -> (publish options that need it, accept list, the error raised).
_NEEDS_EXTRA: dict[str, tuple[dict[str, Any], list[str], MissingCodec]] = {
    "yaml": ({"serializer": "yaml"}, ["yaml"], SerializerNotInstalled),
    "msgpack": ({"serializer": "msgpack"}, ["msgpack"], SerializerNotInstalled),
    "zstd": ({"compression": "zstd"}, ["json"], CompressionNotInstalled),
    "brotli": ({"compression": "brotli"}, ["json"], CompressionNotInstalled),
}


@contextlib.contextmanager
def extra_not_installed(extra: str) -> Iterator[None]:
    """Make this host look as if ``pip install 'kombu-lite[extra]'`` was never run.

    A ``None`` entry in :data:`sys.modules` makes ``import`` raise
    ImportError, the way tests/unit/test_serialization.py and
    test_compression.py simulate a missing library without uninstalling it.
    The compression registry keeps the methods it has loaded, so it is
    reset (its documented hook for tests) on the way in and, with the
    modules back, on the way out.
    """
    with pytest.MonkeyPatch.context() as patch:
        for module in _EXTRA_MODULES[extra]:
            patch.setitem(sys.modules, module, None)
        compression_module.registry.reset()
        try:
            yield
        finally:
            patch.undo()
            compression_module.registry.reset()


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


class Inbox:
    """A callback that keeps what it receives."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, body: Any, message: Message) -> None:
        self.bodies.append(body)


def redelivered_after_close(connection: Connection, queue: Queue) -> Message:
    """Receive, undecoded, the message the closed channel gave back to the queue."""
    received: list[Message] = []
    with Consumer(connection, queue, on_message=received.append):
        while not received:
            connection.drain_events(timeout=5)
    message = received[0]
    message.ack()
    return message


# -- no on_decode_error: raised out of drain_events ------------------------------------

UNDECODABLE = [
    pytest.param(
        {"body": b"{not json", "content_type": "application/json"},
        DecodeError,
        id="corrupt",
    ),
    pytest.param(
        {"body": {"n": 1}, "serializer": "yaml"}, ContentDisallowed, id="refused"
    ),
]


@pytest.mark.parametrize(("publish", "error"), UNDECODABLE)
def test_an_undecodable_message_raises_out_of_drain_events(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    publish: dict[str, Any],
    error: type[KombuError],
) -> None:
    inbox = Inbox()
    producer.publish(**publish)
    channel = connection.channel()

    with Consumer(channel, queue, callbacks=[inbox]), pytest.raises(error):
        connection.drain_events(timeout=5)

    assert inbox.bodies == []


@pytest.mark.parametrize(("publish", "error"), UNDECODABLE)
def test_an_undecodable_message_is_left_unacked_for_another_consumer(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    publish: dict[str, Any],
    error: type[KombuError],
) -> None:
    producer.publish(**publish)
    channel = connection.channel()
    with (
        Consumer(channel, queue, callbacks=[Inbox()]),
        pytest.raises(error),
    ):
        connection.drain_events(timeout=5)
    channel.close()

    again = redelivered_after_close(connection, queue)

    assert again.redelivered


# -- on_decode_error: called, and nothing settled for it -------------------------------


def test_on_decode_error_gets_the_message_unsettled(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    failures: list[tuple[Message, Exception]] = []
    producer.publish(b"{not json", content_type="application/json")
    channel = connection.channel()

    with Consumer(
        channel,
        queue,
        callbacks=[Inbox()],
        on_decode_error=lambda message, exc: failures.append((message, exc)),
    ):
        connection.drain_events(timeout=5)
    channel.close()
    again = redelivered_after_close(connection, queue)

    message, exc = failures[0]
    assert isinstance(exc, DecodeError)
    assert message.body == b"{not json"
    assert not message.acknowledged
    assert again.redelivered


# -- a codec this host does not have ---------------------------------------------------


@pytest.mark.parametrize("extra", list(_NEEDS_EXTRA))
def test_a_missing_codec_raises_naming_the_extra_and_warns_once(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    caplog: pytest.LogCaptureFixture,
    extra: str,
) -> None:
    options, accept, error = _NEEDS_EXTRA[extra]
    producer.publish({"n": 1}, **options)
    channel = connection.channel()

    with (
        extra_not_installed(extra),
        caplog.at_level(logging.WARNING, logger="kombu_lite"),
        Consumer(channel, queue, callbacks=[Inbox()], accept=accept),
        pytest.raises(error) as info,
    ):
        connection.drain_events(timeout=5)

    assert isinstance(info.value, SerializerNotInstalled | CompressionNotInstalled)
    assert info.value.extra == extra
    assert f"pip install 'kombu-lite[{extra}]'" in str(info.value)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"pip install 'kombu-lite[{extra}]'" in warnings[0].getMessage()


@pytest.mark.parametrize("extra", list(_NEEDS_EXTRA))
def test_a_message_needing_a_missing_codec_stays_for_another_consumer(
    connection: Connection, queue: Queue, producer: Producer, extra: str
) -> None:
    options, accept, error = _NEEDS_EXTRA[extra]
    producer.publish({"n": 1}, **options)
    channel = connection.channel()
    with extra_not_installed(extra):
        with (
            Consumer(channel, queue, callbacks=[Inbox()], accept=accept),
            pytest.raises(error),
        ):
            connection.drain_events(timeout=5)
        channel.close()

    inbox = Inbox()
    with Consumer(connection, queue, callbacks=[inbox], accept=accept):
        while not inbox.bodies:
            connection.drain_events(timeout=5)

    assert inbox.bodies == [{"n": 1}]


def test_a_missing_codec_goes_to_on_decode_error_unsettled(
    connection: Connection, queue: Queue, producer: Producer
) -> None:
    failures: list[tuple[Message, Exception]] = []
    producer.publish({"n": 1}, compression="zstd")
    channel = connection.channel()

    with (
        extra_not_installed("zstd"),
        Consumer(
            channel,
            queue,
            callbacks=[Inbox()],
            on_decode_error=lambda message, exc: failures.append((message, exc)),
        ),
    ):
        connection.drain_events(timeout=5)
    channel.close()
    again = redelivered_after_close(connection, queue)

    message, exc = failures[0]
    assert isinstance(exc, CompressionNotInstalled)
    assert not message.acknowledged
    assert again.decode() == {"n": 1}


# -- Queue.get and Message.decode -----------------------------------------------------


@pytest.mark.parametrize("extra", list(_NEEDS_EXTRA))
def test_decode_of_a_fetched_message_raises_the_missing_codec_and_settles_nothing(
    connection: Connection, queue: Queue, producer: Producer, extra: str
) -> None:
    options, accept, error = _NEEDS_EXTRA[extra]
    producer.publish({"n": 1}, **options)
    message = queue.get(accept=accept, channel=connection.default_channel)
    assert message is not None

    with extra_not_installed(extra), pytest.raises(error) as info:
        message.decode()
    acknowledged = message.acknowledged
    message.requeue()

    assert isinstance(info.value, SerializerNotInstalled | CompressionNotInstalled)
    assert info.value.extra == extra
    assert not acknowledged


def test_simple_queue_get_hands_out_a_message_needing_a_missing_codec(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    name = f"{unique}-simple"
    cleanup(Queue(name, Exchange(name)))
    with connection.SimpleQueue(name, compression="zstd") as sq:
        sq.put({"n": 1})
        with extra_not_installed("zstd"):
            message = sq.get(timeout=5)
            with pytest.raises(CompressionNotInstalled) as info:
                _ = message.payload
        acknowledged = message.acknowledged
        message.requeue()

    assert info.value.extra == "zstd"
    assert not acknowledged
