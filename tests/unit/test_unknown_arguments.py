"""A misspelt keyword gets one treatment everywhere: UnknownArgument, before any I/O.

The error names the keyword and the closest one the callable takes, is a
``TypeError`` (Python's error for an unexpected keyword) and a
``ConfigurationError`` (what ``Connection``, the pool factories and
``publish`` raised before), and nothing reaches the broker.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import (
    Connection,
    Consumer,
    Exchange,
    Producer,
    Queue,
    SimpleBuffer,
    SimpleQueue,
)
from kombu_lite.exceptions import ConfigurationError, KombuError, UnknownArgument
from kombu_lite.exceptions._arguments import checks_keywords
from kombu_lite.pools import ChannelPool, ConnectionPool
from kombu_lite.transport.memory import Broker, MemoryTransport


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    broker.close_all_connections()


@pytest.fixture
def conn(broker: Broker) -> Iterator[Connection]:
    with Connection("memory://", transport=MemoryTransport(broker)) as conn:
        yield conn


# (what is called, the call, the misspelt keyword, the suggestion)
CASES: list[tuple[str, Callable[[Connection], object], str, str]] = [
    ("Queue", lambda c: Queue("q", durabel=True), "durabel", "durable"),
    ("Exchange", lambda c: Exchange("x", auto_delet=True), "auto_delet", "auto_delete"),
    ("Producer", lambda c: Producer(c, serialiser="json"), "serialiser", "serializer"),
    ("Consumer", lambda c: Consumer(c, [], callbaks=[]), "callbaks", "callbacks"),
    ("SimpleQueue", lambda c: SimpleQueue(c, "q", no_akc=True), "no_akc", "no_ack"),
    ("SimpleBuffer", lambda c: SimpleBuffer(c, "q", acept=["json"]), "acept", "accept"),
    ("ConnectionPool", lambda c: ConnectionPool(c, limt=1), "limt", "limit"),
    ("ChannelPool", lambda c: ChannelPool(c, prelod=1), "prelod", "preload"),
    (
        "Connection.Producer",
        lambda c: c.Producer(serialiser="json"),
        "serialiser",
        "serializer",
    ),
    (
        "Connection.Consumer",
        lambda c: c.Consumer([], callbaks=[]),
        "callbaks",
        "callbacks",
    ),
    (
        "Connection.SimpleQueue",
        lambda c: c.SimpleQueue("q", serialiser="json"),
        "serialiser",
        "serializer",
    ),
    (
        "Connection.SimpleBuffer",
        lambda c: c.SimpleBuffer("q", serialiser="json"),
        "serialiser",
        "serializer",
    ),
    ("Connection.Pool", lambda c: c.Pool(limt=1), "limt", "limit"),
    ("Connection.ChannelPool", lambda c: c.ChannelPool(limt=1), "limt", "limit"),
    (
        "Connection",
        lambda c: Connection("memory://", hearbeat=1),
        "hearbeat",
        "heartbeat",
    ),
    (
        "Producer.publish",
        lambda c: c.Producer().publish({}, routing_kye="q"),
        "routing_kye",
        "routing_key",
    ),
    (
        "Producer.publish",
        lambda c: c.Producer().publish({}, corelation_id="1"),
        "corelation_id",
        "correlation_id",
    ),
    (
        "Producer.publish",
        lambda c: c.Producer().publish_many([{}], routing_kye="q"),
        "routing_kye",
        "routing_key",
    ),
]


@pytest.mark.parametrize(
    ("owner", "call", "argument", "suggestion"),
    CASES,
    ids=[f"{case[0]}-{case[2]}" for case in CASES],
)
def test_a_misspelt_keyword_raises_unknown_argument_naming_the_closest_one(
    broker: Broker,
    conn: Connection,
    owner: str,
    call: Callable[[Connection], object],
    argument: str,
    suggestion: str,
) -> None:
    Queue("q").declare(channel=conn)

    with pytest.raises(UnknownArgument) as caught:
        call(conn)

    error = caught.value
    assert str(error) == (
        f"{owner}() got an unknown keyword argument {argument!r}; "
        f"did you mean {suggestion!r}?"
    )
    assert (error.owner, error.argument, error.suggestion) == (
        owner,
        argument,
        suggestion,
    )
    assert isinstance(error, TypeError)
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ValueError)
    assert isinstance(error, KombuError)
    assert broker.queue_messages("q") == []


def test_without_a_close_match_the_known_keywords_are_listed() -> None:
    with pytest.raises(UnknownArgument, match=r"known keyword arguments: .*durable"):
        Queue("q", xyzzy=1)


def test_the_error_pickles_with_its_attributes() -> None:
    with pytest.raises(UnknownArgument) as caught:
        Queue("q", durabel=True)

    copy = pickle.loads(pickle.dumps(caught.value))

    assert str(copy) == str(caught.value)
    assert (copy.owner, copy.argument, copy.suggestion) == (
        "Queue",
        "durabel",
        "durable",
    )


def test_a_type_error_raised_inside_a_checked_function_is_left_alone() -> None:
    @checks_keywords("f")
    def f(x: int = 0) -> None:
        raise TypeError("from the body")

    with pytest.raises(TypeError, match="from the body") as caught:
        f(x=1)

    assert not isinstance(caught.value, UnknownArgument)


def test_a_wrong_positional_count_is_python_s_own_error() -> None:
    with pytest.raises(TypeError) as caught:
        Exchange("x", "direct", None, True, False, False, None, False, 2, True, 9)  # type: ignore[call-arg]

    assert not isinstance(caught.value, UnknownArgument)
