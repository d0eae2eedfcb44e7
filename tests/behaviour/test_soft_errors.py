"""Broker refusals (403/404/406): typed, named, not retried, channel replaced."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import AccessRefused, NotFound, PreconditionFailed

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


def _sent(records: list[logging.LogRecord], exchange: str) -> list[str]:
    """The DEBUG lines of publishes sent to ``exchange``, retries included."""
    return [
        record.getMessage()
        for record in records
        if record.name.startswith("kombu_lite")
        and f"exchange {exchange!r}" in record.getMessage()
        and ("published" in record.getMessage() or "attempt" in record.getMessage())
    ]


def test_a_refusal_is_not_retried(
    confirming: Connection, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    missing = f"{unique}-missing"
    producer = confirming.Producer(exchange=missing, routing_key="rk")
    wire = confirming.connection

    with (
        caplog.at_level(logging.DEBUG, logger="kombu_lite"),
        pytest.raises(NotFound),
    ):
        producer.publish(b"refused", serializer="raw", retry=True)

    assert confirming.connection is wire  # no reconnect, no second attempt
    # Nothing was sent again: at most the one publish the broker refused
    # (memory:// refuses it before it is sent), and no retry attempt.
    sent = _sent(caplog.records, missing)
    assert len(sent) <= 1
    assert not [line for line in sent if "attempt" in line]


def test_a_refused_declare_is_not_sent_again(
    confirming: Connection,
    queue: Queue,
    unique: str,
    cleanup: Cleanup,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = Queue(f"{unique}-first", queue.exchange, routing_key="rk")
    cleanup(first)
    other = Queue(queue.name, queue.exchange, routing_key="rk", max_length=5)
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")

    with (
        caplog.at_level(logging.DEBUG, logger="kombu_lite"),
        pytest.raises(PreconditionFailed),
    ):
        producer.publish(b"x", serializer="raw", declare=[first, other], retry=True)

    declared = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith(f"declared queue {first.name!r}")
    ]
    assert len(declared) == 1  # declared once, then the 406: no second round
    assert _sent(caplog.records, queue.exchange.name) == []  # never published


def test_an_inequivalent_redeclare_names_the_argument(
    confirming: Connection, queue: Queue
) -> None:
    other = Queue(queue.name, queue.exchange, routing_key="rk", max_length=5)
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")

    with pytest.raises(PreconditionFailed, match="x-max-length"):
        producer.publish(b"x", serializer="raw", declare=[other])


def test_the_next_publish_works_after_an_inequivalent_redeclare(
    confirming: Connection, queue: Queue, raw_get: RawGet
) -> None:
    other = Queue(queue.name, queue.exchange, routing_key="rk", max_length=5)
    producer = confirming.Producer(exchange=queue.exchange, routing_key="rk")
    with pytest.raises(PreconditionFailed):
        producer.publish(b"refused", serializer="raw", declare=[other])

    producer.publish(b"accepted", serializer="raw", declare=[queue])

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.body == b"accepted"
    assert raw_get(queue.name) is None


@pytest.mark.parametrize("confirm", [False, True], ids=["unconfirmed", "confirmed"])
def test_a_reserved_queue_name_is_refused_by_name(
    url: str, confirm: bool, unique: str, queue: Queue, raw_get: RawGet
) -> None:
    reserved = Queue(f"amq.{unique}", Exchange(""), routing_key=f"amq.{unique}")
    with Connection(url, confirm_publish=confirm) as conn:
        producer = conn.Producer(routing_key=reserved.name)

        with pytest.raises(AccessRefused, match=f"amq.{unique}") as caught:
            producer.publish(b"refused", serializer="raw", declare=[reserved])

        assert caught.value.reply_code == 403
        # The channel was replaced: the same Producer publishes on.
        producer.publish(
            b"accepted", serializer="raw", exchange=queue.exchange, routing_key="rk"
        )
        if not confirm:
            queue.queue_declare(passive=True, channel=conn.default_channel)  # sync
    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.body == b"accepted"
