"""Connection, channel and producer pools, the same on memory:// and RabbitMQ.

The stale-connection tests break the pooled connections behind the client's
back: on memory:// with the broker's ``close_all_connections()``, on
RabbitMQ by cutting the TCP connections in a loopback proxy (only the
test's own connections go through it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Queue, pools
from kombu_lite.connection.resource import Resource
from kombu_lite.exceptions import (
    ChannelLimitExceeded,
    ConfigurationError,
    ConnectionLimitExceeded,
    LimitExceeded,
    NotBoundError,
    NotFound,
    OperationalError,
    UnknownArgument,
)
from kombu_lite.pools import (
    ChannelPool,
    ConnectionPool,
    PooledChannel,
    PooledConnection,
    PooledProducer,
    ProducerPool,
    connections,
    producers,
)
from kombu_lite.transport.memory import default_broker

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]

#: How long a blocking acquire is asked to wait for an exhausted pool.
WAIT = 0.2
#: A generous bound on that wait: other processes may share the machine.
SLACK = 10.0


@pytest.fixture(autouse=True)
def _pools_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every pool a test made, so no idle connection outlives the test."""
    made: list[Resource[Any]] = []
    original = Resource.__init__

    def recording_init(self: Resource[Any], *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Resource, "__init__", recording_init)
    yield
    monkeypatch.undo()
    for pool in reversed(made):
        pool.close()


@pytest.fixture(autouse=True)
def _fresh_pool_groups() -> Iterator[None]:
    """Every test starts and ends with empty pool groups and the default limit."""
    pools.reset()
    pools.set_limit(pools.DEFAULT_LIMIT)
    yield
    pools.reset()
    pools.set_limit(pools.DEFAULT_LIMIT)


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue on the default exchange (routing key: its name)."""
    q = Queue(f"{unique}-pooled", routing_key=f"{unique}-pooled")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@dataclass
class Breakable:
    """A URL whose connections a test can break all at once."""

    url: str
    break_connections: Callable[[], None]


@pytest.fixture
def breakable(
    transport_kind: str, request: pytest.FixtureRequest
) -> Iterator[Breakable]:
    if transport_kind == "memory":
        yield Breakable("memory://", default_broker().close_all_connections)
        return
    from tests.faults.proxy import FaultProxy

    request.getfixturevalue("rabbitmq")
    with FaultProxy() as proxy:
        yield Breakable(proxy.url, proxy.cut)


@pytest.fixture
def unreachable(transport_kind: str, request: pytest.FixtureRequest) -> Connection:
    """A connection whose broker refuses to connect."""
    if transport_kind == "memory":
        # Started again by the autouse broker reset after the test.
        default_broker().stop()
        return Connection("memory://")
    request.getfixturevalue("rabbitmq")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    # Nothing listens on the port any more: connecting is refused at once.
    return Connection(f"amqp://guest:guest@127.0.0.1:{port}//", connect_timeout=2)


def break_and_notice(breakable: Breakable, conn: Connection) -> None:
    """Break every connection, then let ``conn`` find out with a call."""
    breakable.break_connections()
    with contextlib.suppress(OperationalError):
        conn.channel()


# -- Connection.Pool ---------------------------------------------------------------


def test_pool_lends_distinct_connections_up_to_its_limit(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=2)

    first = pool.acquire()
    second = pool.acquire()

    assert isinstance(first, PooledConnection)
    assert first is not second
    assert first.as_uri() == second.as_uri() == connection.as_uri()
    assert pool.in_use == 2
    first.release()
    second.release()


def test_an_exhausted_pool_raises_at_once_without_block(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=1)
    held = pool.acquire()

    started = time.monotonic()
    with pytest.raises(ConnectionLimitExceeded, match="exhausted"):
        pool.acquire(block=False, timeout=5)

    assert time.monotonic() - started < 5
    held.release()


def test_an_exhausted_pool_waits_for_the_timeout_then_raises(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=1)
    held = pool.acquire()

    started = time.monotonic()
    with pytest.raises(LimitExceeded, match=f"within {WAIT} s"):
        pool.acquire(block=True, timeout=WAIT)
    waited = time.monotonic() - started

    assert WAIT * 0.9 <= waited < SLACK
    held.release()


def test_a_blocked_acquire_gets_the_connection_given_back_meanwhile(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=1)
    held = pool.acquire()
    got: list[PooledConnection] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(block=True)))

    waiter.start()
    held.release()
    waiter.join(timeout=SLACK)

    assert got == [held]
    got[0].release()


def test_raising_the_limit_wakes_a_blocked_acquire(connection: Connection) -> None:
    pool = connection.Pool(limit=1)
    held = pool.acquire()
    got: list[PooledConnection] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(block=True)))
    waiter.start()

    pool.limit = None
    waiter.join(timeout=SLACK)

    assert len(got) == 1
    assert got[0] is not held
    assert pool.in_use == 2
    held.release()
    got[0].release()


def test_a_released_connection_is_lent_again_still_open(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=1)
    with pool.acquire() as conn:
        conn.connect()
        wire = conn.connection

    with pool.acquire() as again:
        assert again is conn
        assert again.connected
        assert again.connection is wire


def test_the_most_recently_released_connection_is_lent_first(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=2)
    first, second = pool.acquire(), pool.acquire()
    first.release()
    second.release()

    assert pool.acquire() is second
    assert pool.idle == 1


def test_a_connection_released_twice_goes_back_once(connection: Connection) -> None:
    pool = connection.Pool(limit=2)
    conn = pool.acquire()

    conn.release()
    conn.release()

    assert (pool.idle, pool.in_use) == (1, 0)


def test_closing_a_pooled_connection_frees_its_place(connection: Connection) -> None:
    pool = connection.Pool(limit=1)
    conn = pool.acquire()
    conn.connect()

    conn.close()

    assert not conn.connected
    with pool.acquire() as again:
        assert again is not conn


def test_a_pool_without_limit_never_runs_out(connection: Connection) -> None:
    pool = connection.Pool(limit=None)

    lent = [pool.acquire() for _ in range(25)]

    assert len({id(conn) for conn in lent}) == 25
    assert pool.limit is None
    for conn in lent:
        conn.release()


def test_acquire_channel_lends_a_connection_and_its_default_channel(
    connection: Connection, queue: Queue
) -> None:
    pool = connection.Pool(limit=1)

    with pool.acquire_channel(block=True) as (conn, channel):
        declared = queue.queue_declare(passive=True, channel=channel)
        assert channel is conn.default_channel
        assert pool.in_use == 1

    assert declared.queue == queue.name
    assert (pool.in_use, pool.idle) == (0, 1)


def test_shrinking_a_pool_closes_its_idle_connections(connection: Connection) -> None:
    pool = connection.Pool(limit=3)
    lent = [pool.acquire() for _ in range(3)]
    for conn in lent:
        conn.connect()
        conn.release()

    pool.limit = 1

    assert pool.idle == 1
    assert [conn.connected for conn in lent] == [False, False, True]


def test_shrinking_below_the_lent_connections_closes_them_when_given_back(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=2)
    first, second = pool.acquire(), pool.acquire()
    first.connect()

    pool.resize(1, force=True)
    first.release()

    assert not first.connected
    assert pool.idle == 0
    with pytest.raises(ConnectionLimitExceeded):
        pool.acquire()
    second.release()
    assert pool.idle == 1


def test_a_closed_pool_closes_idle_connections_now_and_lent_ones_later(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=2)
    idle, lent = pool.acquire(), pool.acquire()
    idle.connect()
    lent.connect()
    idle.release()

    pool.close()

    assert not idle.connected
    assert lent.connected
    lent.release()
    assert not lent.connected
    assert pool.idle == 0


# -- stale connections -------------------------------------------------------------


def test_a_connection_given_back_after_an_error_is_replaced(
    breakable: Breakable,
) -> None:
    pool = Connection(breakable.url).Pool(limit=1)
    with pool.acquire() as conn:
        conn.connect()

    breakable.break_connections()
    # The broken connection looks fine until used: it is lent once...
    stale = pool.acquire()
    assert stale is conn
    with pytest.raises(OperationalError), stale:
        stale.channel()

    # ...and never again: its place goes to a new, working connection.
    with pool.acquire() as fresh:
        assert fresh is not stale
        assert fresh.channel().is_open
    assert not stale.connected


def test_a_broken_connection_given_back_quietly_is_replaced(
    breakable: Breakable,
) -> None:
    pool = Connection(breakable.url).Pool(limit=1)
    with pool.acquire() as conn:
        conn.connect()
        # The error is handled inside the block: the release is a normal one.
        break_and_notice(breakable, conn)

    with pool.acquire() as fresh:
        assert fresh is not conn
        assert fresh.channel().is_open


def test_an_error_unrelated_to_the_connection_still_retires_it(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=1)
    conn = pool.acquire()
    conn.connect()
    with pytest.raises(KeyError), conn:
        raise KeyError("application bug")

    assert not conn.connected
    with pool.acquire() as fresh:
        assert fresh is not conn


# -- Connection.ChannelPool ---------------------------------------------------------


def test_channel_pool_lends_open_channels_up_to_its_limit(
    connection: Connection,
) -> None:
    pool = connection.ChannelPool(limit=2)

    first, second = pool.acquire(), pool.acquire()

    assert isinstance(first, PooledChannel)
    assert first.is_open
    assert second.is_open
    assert first.channel_id != second.channel_id
    assert first.connection is connection
    with pytest.raises(ChannelLimitExceeded):
        pool.acquire(block=True, timeout=WAIT)
    first.release()
    second.release()


def test_a_released_channel_is_lent_again(connection: Connection) -> None:
    pool = connection.ChannelPool(limit=1)
    with pool.acquire() as channel:
        pass

    with pool.acquire() as again:
        assert again is channel
        assert again.is_open


def test_a_channel_the_broker_closed_is_replaced(
    connection: Connection, unique: str
) -> None:
    pool = connection.ChannelPool(limit=1)
    with pytest.raises(NotFound), pool.acquire() as channel:
        Queue(f"{unique}-missing").queue_declare(passive=True, channel=channel)

    assert not channel.is_open
    with pool.acquire() as again:
        assert again is not channel
        assert again.is_open


def test_a_channel_closed_by_the_broker_and_given_back_quietly_is_replaced(
    connection: Connection, unique: str
) -> None:
    pool = connection.ChannelPool(limit=1)
    with pool.acquire() as channel, contextlib.suppress(NotFound):
        Queue(f"{unique}-missing").queue_declare(passive=True, channel=channel)

    with pool.acquire() as again:
        assert again is not channel
        assert again.is_open


def test_an_idle_channel_closed_with_its_connection_is_replaced(
    connection: Connection,
) -> None:
    pool = connection.ChannelPool(limit=1)
    with pool.acquire() as channel:
        pass

    connection.release()

    with pool.acquire() as again:
        assert not channel.is_open
        assert again is not channel
        assert again.is_open
    assert pool.idle == 1


def test_a_failed_channel_open_frees_its_place(unreachable: Connection) -> None:
    pool = unreachable.ChannelPool(limit=1)

    with pytest.raises(OperationalError):
        pool.acquire()

    assert pool.in_use == 0
    # The place is free again: the next try fails the same way, not with
    # ChannelLimitExceeded.
    with pytest.raises(OperationalError):
        pool.acquire()


def test_closing_a_pooled_channel_frees_its_place(connection: Connection) -> None:
    pool = connection.ChannelPool(limit=1)
    channel = pool.acquire()

    channel.close()

    assert not channel.is_open
    with pool.acquire() as again:
        assert again is not channel


# -- kombu_lite.pools: connections[...] ------------------------------------------------


def test_equal_connections_share_one_pool(url: str) -> None:
    first = connections[Connection(url)]

    assert first is connections[Connection(url)]
    assert isinstance(first, ConnectionPool)
    assert first.limit == pools.DEFAULT_LIMIT == pools.get_limit()


def test_connections_with_other_settings_get_other_pools(url: str) -> None:
    assert (
        connections[Connection(url)] is not connections[Connection(url, heartbeat=30)]
    )


def test_connections_group_lends_pooled_connections(
    connection: Connection, queue: Queue
) -> None:
    with connections[connection].acquire(block=True, timeout=5) as conn:
        declared = queue.queue_declare(passive=True, channel=conn.default_channel)
        assert conn is not connection

    assert declared.queue == queue.name
    assert connections[connection].idle == 1


def test_groups_are_keyed_by_connection_only(url: str) -> None:
    with pytest.raises(ConfigurationError, match="keyed by Connection"):
        connections[url]  # type: ignore[index]


# -- kombu_lite.pools: producers[...] --------------------------------------------------


def test_a_pooled_producer_publishes_on_a_pooled_connection(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    with producers[connection].acquire(block=True, timeout=5) as producer:
        assert isinstance(producer, PooledProducer)
        assert connections[connection].in_use == 1
        producer.publish({"n": 1}, routing_key=queue.name, retry=False)

    assert connections[connection].in_use == 0
    deadline = time.monotonic() + SLACK
    while (got := raw_get(queue.name)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got is not None
    assert got.body == b'{"n": 1}'


def test_a_released_producer_can_no_longer_publish(connection: Connection) -> None:
    producer = producers[connection].acquire(block=True, timeout=5)

    producer.release()

    with pytest.raises(NotBoundError):
        producer.publish({"n": 1}, routing_key="anywhere")


def test_a_released_producer_is_lent_again(connection: Connection) -> None:
    pool = producers[connection]
    with pool.acquire(block=True) as producer:
        pass

    with pool.acquire(block=True) as again:
        assert again is producer
        assert again.connection is not None


def test_a_producer_given_back_after_an_error_replaces_its_connection(
    breakable: Breakable,
) -> None:
    conn = Connection(breakable.url)
    with producers[conn].acquire(block=True) as producer:
        lent = producer.connection
        assert lent is not None
        lent.connect()

    breakable.break_connections()
    again = producers[conn].acquire(block=True)
    assert again.connection is lent
    with pytest.raises(OperationalError), again:
        again.channel.connection.channel()

    with producers[conn].acquire(block=True) as fresh:
        assert fresh.connection is not lent
        assert fresh.channel.is_open


def test_the_producer_pool_waits_for_a_connection_too(connection: Connection) -> None:
    pool = ProducerPool(connection.Pool(limit=1), limit=2)
    held = pool.acquire()

    with pytest.raises(ConnectionLimitExceeded):
        pool.acquire(block=True, timeout=WAIT)

    # The producer taken for the failed acquire went back to the pool.
    assert (pool.in_use, pool.idle) == (1, 1)
    held.release()


def test_an_exhausted_producer_pool_raises_limit_exceeded(
    connection: Connection,
) -> None:
    pools.set_limit(1)
    held = producers[connection].acquire()

    with pytest.raises(LimitExceeded, match="producer pool is exhausted"):
        producers[connection].acquire(block=True, timeout=WAIT)
    held.release()


# -- set_limit() and reset() ----------------------------------------------------------


def test_set_limit_applies_to_new_pools(connection: Connection) -> None:
    assert pools.set_limit(3) == 3

    assert pools.get_limit() == 3
    assert connections[connection].limit == 3
    assert producers[connection].limit == 3


def test_set_limit_resizes_the_pools_already_made(connection: Connection) -> None:
    pool = connections[connection]
    lent = [pool.acquire() for _ in range(3)]
    for conn in lent:
        conn.release()

    pools.set_limit(1)

    assert pool.limit == 1
    assert pool.idle == 1


def test_set_limit_none_means_no_limit(connection: Connection) -> None:
    pools.set_limit(None)

    lent = [connections[connection].acquire() for _ in range(pools.DEFAULT_LIMIT + 1)]

    assert connections[connection].limit is None
    for conn in lent:
        conn.release()


def test_set_limit_with_reset_after_forgets_the_pools(connection: Connection) -> None:
    before = connections[connection]

    pools.set_limit(4, reset_after=True)

    assert connections[connection] is not before
    assert connections[connection].limit == 4


def test_reset_closes_idle_connections_and_forgets_the_pools(
    connection: Connection,
) -> None:
    pool = connections[connection]
    with pool.acquire() as conn:
        conn.connect()

    pools.reset()

    assert not conn.connected
    assert len(connections) == 0
    assert connections[connection] is not pool


def test_reset_closes_a_lent_connection_when_it_is_given_back(
    connection: Connection,
) -> None:
    conn = connections[connection].acquire()
    conn.connect()

    pools.reset()

    assert conn.connected
    conn.release()
    assert not conn.connected


# -- kombu's pool options: preload, close_after_fork ----------------------------


def in_forked_child(check: Callable[[], object]) -> Any:
    """Run ``check`` in a child made by ``os.fork`` and return its JSON result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w") as out:
                json.dump(check(), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as result:
        text = result.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(text)


def test_pool_preload_makes_that_many_connections_up_front_unopened(
    connection: Connection,
) -> None:
    pool = connection.Pool(10, preload=2)
    made_up_front = pool.idle

    first, second = pool.acquire(), pool.acquire()
    unopened = not first.connected and not second.connected
    channel = first.default_channel  # opens on first use, like any other

    assert made_up_front == 2
    assert unopened
    assert channel.is_open
    assert pool.idle == 0
    first.release()
    second.release()


def test_channel_pool_preload_opens_that_many_channels_now(
    connection: Connection,
) -> None:
    pool = connection.ChannelPool(3, preload=2)
    made_up_front = pool.idle

    first, second = pool.acquire(), pool.acquire()

    assert made_up_front == 2
    assert first.is_open
    assert second.is_open
    assert first.channel_id != second.channel_id
    first.release()
    second.release()


def test_pool_preload_without_a_limit_makes_idle_connections(
    connection: Connection,
) -> None:
    pool = connection.Pool(preload=3)

    assert pool.idle == 3
    assert pool.limit is None


def test_a_channel_pool_whose_preload_fails_raises_from_the_constructor(
    unreachable: Connection,
) -> None:
    with pytest.raises(OperationalError):
        unreachable.ChannelPool(2, preload=1)


@pytest.mark.parametrize("factory", ["Pool", "ChannelPool"])
def test_an_unknown_pool_option_is_refused_by_name(
    connection: Connection, factory: str
) -> None:
    with pytest.raises(
        UnknownArgument,
        match=(
            rf"Connection.{factory}\(\) got an unknown keyword argument "
            r"'prelaod'; did you mean 'preload'\?"
        ),
    ):
        getattr(connection, factory)(2, prelaod=1, max_idle=3)

    assert not connection.connected


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"preload": 3}, "preload=3 is more than the pool's limit of 2"),
        ({"preload": -1}, "preload must be None or an int >= 0"),
        ({"preload": True}, "preload must be None or an int >= 0"),
        ({"preload": "1"}, "preload must be None or an int >= 0"),
        ({"close_after_fork": "yes"}, "close_after_fork must be True, False or None"),
    ],
)
@pytest.mark.parametrize("factory", ["Pool", "ChannelPool"])
def test_a_bad_pool_option_is_refused_before_anything_is_sent(
    connection: Connection, factory: str, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        getattr(connection, factory)(2, **options)

    assert not connection.connected


def test_connection_pools_forget_their_connections_after_fork_by_default(
    connection: Connection,
) -> None:
    pool = connection.Pool(2, preload=2)
    lent = pool.acquire()

    def child() -> object:
        before = (pool.idle, pool.in_use)
        lent.release()  # not the child's: nothing comes back
        fresh = pool.acquire()
        return [*before, pool.idle, fresh is not lent]

    child_saw = in_forked_child(child)

    assert pool.close_after_fork
    assert child_saw == [0, 0, 0, True]
    assert (pool.idle, pool.in_use) == (1, 1)
    lent.release()


def test_close_after_fork_false_keeps_the_items_in_a_child(
    connection: Connection,
) -> None:
    pool = connection.Pool(2, preload=2, close_after_fork=False)
    channels = connection.ChannelPool(2, preload=1)

    child_saw = in_forked_child(lambda: [pool.idle, channels.idle])

    assert not channels.close_after_fork
    assert child_saw == [2, 1]


def test_a_channel_pool_may_forget_its_channels_after_fork(
    connection: Connection,
) -> None:
    channels = connection.ChannelPool(2, preload=2, close_after_fork=True)

    child_saw = in_forked_child(lambda: channels.idle)

    assert child_saw == 0
    assert channels.idle == 2


# -- arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [-1, 2.5, "10"])
def test_a_bad_limit_is_refused(limit: object) -> None:
    with pytest.raises(ConfigurationError, match="pool limit"):
        Connection("memory://").Pool(limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="pool limit"):
        pools.set_limit(limit)  # type: ignore[arg-type]


def test_shrinking_below_the_connections_in_use_raises_unless_forced(
    connection: Connection,
) -> None:
    pool = connection.Pool(limit=3)
    lent = [pool.acquire(), pool.acquire()]

    with pytest.raises(RuntimeError, match="while 2 connections are in use"):
        pool.resize(1)
    assert pool.limit == 3
    pool.resize(2)  # not below the number in use
    assert pool.limit == 2
    for conn in lent:
        conn.release()


@pytest.mark.parametrize("timeout", [-1, True, "1"])
def test_a_bad_timeout_is_refused(timeout: object) -> None:
    pool = Connection("memory://").Pool(limit=1)

    with pytest.raises(ConfigurationError, match="timeout"):
        pool.acquire(block=True, timeout=timeout)  # type: ignore[arg-type]

    assert pool.in_use == 0


def test_pools_need_the_right_source() -> None:
    with pytest.raises(ConfigurationError, match="needs a Connection"):
        ConnectionPool("memory://")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="needs a Connection"):
        ChannelPool("memory://")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="needs a ConnectionPool"):
        ProducerPool(Connection("memory://"))  # type: ignore[arg-type]


def test_the_repr_shows_the_limit_and_the_counts() -> None:
    pool = Connection("memory://").Pool(limit=2)
    conn = pool.acquire()

    assert repr(pool) == "<ConnectionPool: limit 2, 1 in use, 0 idle>"
    conn.release()
    assert repr(Connection("memory://").Pool()) == (
        "<ConnectionPool: no limit, 0 in use, 0 idle>"
    )


# -- threads -----------------------------------------------------------------------

THREADS = 8
PUBLISHES = 1000


@pytest.mark.slow
def test_threads_publishing_through_the_producer_pool_deliver_each_message_once(
    connection: Connection, queue: Queue, record_property: Callable[[str, object], None]
) -> None:
    pool = producers[connection]
    held: set[int] = set()  # ids of the producers and connections lent now
    shared: list[str] = []  # one lent to two threads at once
    errors: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(THREADS)

    def publish_all(thread: int) -> None:
        try:
            start.wait()
            for n in range(PUBLISHES):
                with pool.acquire(block=True, timeout=SLACK) as producer:
                    lent = {id(producer), id(producer.connection)}
                    with guard:
                        if held & lent:
                            shared.append(f"{thread}/{n}")
                        held.update(lent)
                    producer.publish([thread, n], routing_key=queue.name)
                    with guard:
                        held.difference_update(lent)
        except BaseException as exc:  # noqa: BLE001 - the main thread reports it
            errors.append(exc)

    workers = [
        threading.Thread(target=publish_all, args=(t,), name=f"publisher-{t}")
        for t in range(THREADS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=40)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert shared == []

    received: Counter[tuple[int, int]] = Counter()

    def count(body: list[int], message: Message) -> None:
        received[(body[0], body[1])] += 1

    expected = THREADS * PUBLISHES
    with Consumer(connection, queue, callbacks=[count], no_ack=True):
        while sum(received.values()) < expected:
            connection.drain_events(timeout=SLACK)
        # Anything more would be a duplicate: give it a moment to show.
        with contextlib.suppress(TimeoutError):
            while True:
                connection.drain_events(timeout=0.3)

    connection_pool = connections[connection]
    record_property("report:threads", THREADS)
    record_property("report:messages", sum(received.values()))
    record_property("report:duplicates", sum(received.values()) - len(received))
    record_property("report:pooled connections", connection_pool.idle)
    assert set(received) == {(t, n) for t in range(THREADS) for n in range(PUBLISHES)}
    assert set(received.values()) == {1}
    # Never more connections than the pool's limit, all given back.
    assert connection_pool.in_use == 0
    assert connection_pool.idle <= pools.DEFAULT_LIMIT
