"""Bad values are refused with a typed error before anything is sent.

Each case is one that RabbitMQ punishes (a NaN header closes the whole
connection with 541) or that used to escape as a plain ``ValueError``,
``OverflowError``, ``LookupError`` or ``UnicodeEncodeError``; the same on
memory:// and RabbitMQ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    EncodeError,
    PreconditionFailed,
)

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]

NAN = math.nan
INF = math.inf


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue, published to through the default exchange."""
    q = Queue(f"{unique}-q")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    return Producer(connection, routing_key=queue.name)


def _still_works(connection: Connection, queue: Queue, raw_get: RawGet) -> None:
    """Nothing reached the queue; the connection and a new channel still work."""
    assert raw_get(queue.name) is None
    with connection.channel() as other:
        Producer(other, routing_key=queue.name).publish({"after": True})
    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.body == b'{"after": true}'


# -- item 14: non-finite floats in headers ----------------------------------------


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"f": NAN}, "'f'"),
        ({"f": INF}, "'f'"),
        ({"f": -INF}, "'f'"),
        ({"ok": 1.5, "nested": {"deeper": {"f": NAN}}}, "'f'"),
        ({"in-a-list": [1, 2.0, INF]}, "'in-a-list'"),
        ({"in-a-tuple": ({"f": NAN},)}, "'f'"),
    ],
    ids=["nan", "inf", "-inf", "nested table", "list", "table in a tuple"],
)
def test_a_non_finite_float_header_is_refused_and_the_connection_survives(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    raw_get: RawGet,
    headers: dict[str, Any],
    named: str,
) -> None:
    with pytest.raises(EncodeError, match=rf"header {named}.*(nan|inf)") as info:
        producer.publish({"n": 1}, headers=headers)

    assert "finite" in str(info.value)
    _still_works(connection, queue, raw_get)


def test_a_non_finite_float_header_is_refused_by_publish_many(
    connection: Connection, producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    [outcome] = producer.publish_many([{"n": 1}], headers={"f": NAN})

    assert isinstance(outcome.error, EncodeError)
    assert outcome.delivery_tag == 0
    _still_works(connection, queue, raw_get)


def test_a_non_finite_float_header_is_refused_by_exchange_publish(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    exchange = Exchange("", channel=connection)
    message = exchange.Message(b"x", headers={"f": INF})

    with pytest.raises(EncodeError, match="header 'f'"):
        exchange.publish(message, routing_key=queue.name)

    _still_works(connection, queue, raw_get)


# -- item 15: publish arguments ----------------------------------------------------


@pytest.mark.parametrize(
    ("expiration", "problem"),
    [
        (NAN, "expiration must be a number of seconds"),
        (INF, "expiration must be a number of seconds"),
        (-INF, "expiration must be a number of seconds"),
        (1e10, "from 0 to 315360000"),
        (315360000.001, "from 0 to 315360000"),
    ],
)
def test_an_expiration_rabbitmq_cannot_take_is_refused(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    raw_get: RawGet,
    expiration: float,
    problem: str,
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        producer.publish({"n": 1}, expiration=expiration)

    _still_works(connection, queue, raw_get)


def test_the_longest_expiration_rabbitmq_takes_is_sent(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1}, expiration=315360000)

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.properties["expiration"] == "315360000000"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"content_encoding": "no-such-codec"}, "content_encoding 'no-such-codec'"),
        ({"content_encoding": "base64"}, "content_encoding 'base64'"),
        ({"content_encoding": "ascii"}, "cannot be encoded as 'ascii'"),
        ({"content_encoding": "latin-1"}, "cannot be encoded as 'latin-1'"),
    ],
)
def test_a_str_body_that_cannot_be_encoded_is_refused(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    raw_get: RawGet,
    kwargs: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(EncodeError, match=problem):
        producer.publish("snow ☃", content_type="text/plain", **kwargs)

    _still_works(connection, queue, raw_get)


def test_a_raw_str_message_that_cannot_be_encoded_is_refused(
    connection: Connection,
) -> None:
    exchange = Exchange("", channel=connection)

    with pytest.raises(EncodeError, match="cannot be encoded as 'ascii'"):
        exchange.Message("snow ☃", content_encoding="ascii")


@pytest.mark.parametrize("value", [NAN, INF, -1.0, True, "soon"])
@pytest.mark.parametrize("name", ["confirm_timeout", "timeout"])
def test_a_bad_confirm_timeout_is_refused_before_the_publish(
    url: str, queue: Queue, raw_get: RawGet, name: str, value: object
) -> None:
    with Connection(url, confirm_publish=True) as connection:
        producer = Producer(connection, routing_key=queue.name)

        with pytest.raises(ConfigurationError, match=f"{name} must be"):
            producer.publish({"n": 1}, **{name: value})

        _still_works(connection, queue, raw_get)


@pytest.mark.parametrize("value", [NAN, INF, -1.0])
def test_a_bad_confirm_timeout_is_refused_by_publish_many(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    raw_get: RawGet,
    value: float,
) -> None:
    with pytest.raises(ConfigurationError, match="confirm_timeout must be"):
        producer.publish_many([{"n": 1}], confirm_timeout=value)

    _still_works(connection, queue, raw_get)


# -- item 15: connection arguments -------------------------------------------------


@pytest.mark.parametrize("option", ["confirm_timeout", "blocked_connection_timeout"])
@pytest.mark.parametrize("value", [NAN, INF, 1e300])
def test_a_non_finite_connection_timeout_is_refused(
    url: str, option: str, value: float
) -> None:
    with pytest.raises(ConfigurationError, match=f"{option} must be"):
        Connection(url, transport_options={option: value})


@pytest.mark.parametrize("value", [1e300, 1e10, INF])
def test_a_connect_timeout_too_long_to_wait_is_refused(url: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match="connect_timeout must be"):
        Connection(url, connect_timeout=value)


def test_a_connect_timeout_too_long_to_wait_is_refused_in_the_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="'connect_timeout' must be"):
        Connection(f"{url.rstrip('/')}/?connect_timeout=1e300")


# -- item 15: entities -------------------------------------------------------------


@pytest.mark.parametrize("name", ["message_ttl", "expires"])
@pytest.mark.parametrize("value", [NAN, INF, -INF, 1e10, 315360000.001], ids=str)
def test_a_queue_ttl_rabbitmq_cannot_take_is_refused(name: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} must be"):
        Queue("q", **{name: value})


@pytest.mark.parametrize("name", ["message_ttl", "expires"])
def test_the_longest_queue_ttl_rabbitmq_takes_is_declared(
    connection: Connection, unique: str, cleanup: Cleanup, name: str
) -> None:
    queue = Queue(f"{unique}-q", **{name: 315360000})
    cleanup(queue)

    queue.declare(channel=connection.default_channel)

    key = "x-message-ttl" if name == "message_ttl" else "x-expires"
    assert queue.declare_arguments == {key: 315360000000}


@pytest.mark.parametrize("kind", [Queue, Exchange])
@pytest.mark.parametrize("name", ["\ud800", "a\udfffb"], ids=ascii)
def test_an_entity_name_with_a_lone_surrogate_is_refused(
    kind: type[Queue | Exchange], name: str
) -> None:
    with pytest.raises(ConfigurationError, match="surrogate"):
        kind(name)


@pytest.mark.parametrize("value", [5, 1.5, True, None, ["x"]], ids=repr)
def test_a_non_string_alternate_exchange_is_refused_at_declare(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    queue: Queue,
    raw_get: RawGet,
    value: object,
) -> None:
    exchange = Exchange(f"{unique}-x", arguments={"alternate-exchange": value})
    cleanup(exchange)

    with pytest.raises(
        PreconditionFailed, match=r"invalid type '\w+' for arg 'alternate-exchange'"
    ):
        exchange.declare(channel=connection.default_channel)

    _still_works(connection, queue, raw_get)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Queue("q", queue_arguments={"x-custom": NAN}),
        lambda: Queue("q", binding_arguments={"x-match": "all", "f": INF}),
        lambda: Queue("q", consumer_arguments={"x-custom": [1, {"f": NAN}]}),
        lambda: Exchange("x", arguments={"x-custom": -INF}),
        lambda: Exchange("x").binding(arguments={"f": NAN}),
    ],
    ids=["queue", "binding", "consumer", "exchange", "Binding"],
)
def test_a_non_finite_float_in_entity_arguments_is_refused(
    build: Callable[[], object],
) -> None:
    # RabbitMQ cannot read one and drops the whole connection.
    with pytest.raises(ConfigurationError, match=r"argument '[\w-]+'.*not finite"):
        build()
