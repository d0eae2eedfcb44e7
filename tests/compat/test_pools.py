"""``kombu.pools`` and the pools of ``kombu.connection``.

Each test body runs against kombu_lite and kombu on ``memory://``; the
global groups are reset and the limit restored after every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Lib


@pytest.fixture
def pools(lib: Lib) -> Iterator[Any]:
    """The library's pools module, reset before and after the test."""
    module = lib.module("pools")
    module.reset()
    limit = module.get_limit()
    yield module
    module.reset()
    module.set_limit(limit, force=True)


@pytest.fixture
def connection(lib: Lib) -> Any:
    return lib.top.Connection("memory://")


def test_the_pool_classes_come_from_the_connection_module(lib: Lib) -> None:
    module = lib.module("connection")

    assert isinstance(module.Connection("memory://").Pool(2), module.ConnectionPool)
    assert isinstance(module.Connection("memory://").ChannelPool(2), module.ChannelPool)


def test_a_pool_lends_up_to_its_limit(lib: Lib, connection: Any) -> None:
    exceeded = lib.attr("exceptions", "ConnectionLimitExceeded")
    pool = connection.Pool(2)
    lent = [pool.acquire(), pool.acquire()]

    with pytest.raises(exceeded):
        pool.acquire()
    for conn in lent:
        conn.release()


@pytest.mark.parametrize("limit", [None, 0])
def test_no_limit(connection: Any, limit: int | None) -> None:
    pool = connection.Pool(limit)

    lent = [pool.acquire() for _ in range(15)]

    assert len({id(conn) for conn in lent}) == 15
    for conn in lent:
        conn.release()


def test_a_bool_limit_raises_type_error(lib: Lib, connection: Any) -> None:
    with pytest.raises(TypeError):
        connection.Pool(limit=True)
    with pytest.raises(TypeError):
        connection.ChannelPool(limit=True)
    with pytest.raises(TypeError):
        lib.module("pools").set_limit(True)


def test_shrinking_below_the_number_in_use_raises_unless_forced(
    connection: Any,
) -> None:
    pool = connection.Pool(3)
    lent = [pool.acquire(), pool.acquire()]

    with pytest.raises(RuntimeError):
        pool.resize(1)
    assert pool.limit == 3
    pool.resize(1, force=True)
    assert pool.limit == 1
    for conn in lent:
        conn.release()


def test_shrinking_while_in_use_but_not_below(lib: Lib, connection: Any) -> None:
    # kombu refuses any shrink while something is in use; kombu_lite only
    # one below the number in use (docs/migrating.rst).
    pool = connection.Pool(3)
    held = pool.acquire()

    if lib.is_kombu:
        with pytest.raises(RuntimeError):
            pool.resize(2)
    else:
        pool.resize(2)
        assert pool.limit == 2
    held.release()


def test_set_limit_below_the_number_in_use_raises_unless_forced(
    pools: Any, connection: Any
) -> None:
    pools.set_limit(3)
    pool = pools.connections[connection]
    held = [pool.acquire(), pool.acquire()]

    with pytest.raises(RuntimeError):
        pools.set_limit(1)
    for conn in held:
        conn.release()


def test_set_limit_returns_and_sets_the_limit(pools: Any, connection: Any) -> None:
    assert pools.set_limit(4) == 4
    assert pools.get_limit() == 4
    assert pools.connections[connection].limit == 4
    assert pools.producers[connection].limit == 4


def test_set_limit_zero_means_no_limit(pools: Any, connection: Any) -> None:
    pools.set_limit(0)

    assert not pools.get_limit()
    assert not pools.connections[connection].limit


def test_equal_connections_share_a_pool(lib: Lib, pools: Any) -> None:
    url = "amqp://user:secret@broker.invalid:5672/vhost"
    first = pools.connections[lib.top.Connection(url)]

    assert pools.connections[lib.top.Connection(url)] is first
    assert pools.connections[lib.top.Connection(url + "2")] is not first


def test_the_groups_are_dict_like(lib: Lib, pools: Any, connection: Any) -> None:
    pool = pools.connections[connection]
    producer_pool = pools.producers[connection]

    assert len(pools.connections) == 1
    assert list(pools.connections.values()) == [pool]
    assert [value for _key, value in pools.connections.items()] == [pool]
    (key,) = pools.connections.keys()
    if not lib.is_kombu:  # kombu's keys do not look up (docs/migrating.rst)
        assert pools.connections[key] is pool
        assert connection in pools.connections
    assert list(pools.producers.values()) == [producer_pool]


def test_clear_forgets_the_pools(pools: Any, connection: Any) -> None:
    pool = pools.connections[connection]

    pools.connections.clear()

    assert len(pools.connections) == 0
    assert pools.connections[connection] is not pool


def test_reset_empties_every_group(pools: Any, connection: Any) -> None:
    pools.connections[connection]
    pools.producers[connection]

    pools.reset()

    assert len(pools.connections) == 0
    assert len(pools.producers) == 0


def test_cleanup_code_walking_the_groups(pools: Any, connection: Any) -> None:
    # The pattern of the test suites that issue 19 ran: close what is pooled.
    with pools.connections[connection].acquire(block=True) as conn:
        assert conn.default_channel is not None

    for _key, pool in list(pools.connections.items()):
        pool.force_close_all()
    pools.connections.clear()

    assert len(pools.connections) == 0
    assert not conn.connected


def test_a_pool_closed_by_force_close_all_refuses_to_lend(connection: Any) -> None:
    pool = connection.Pool(2)
    pool.force_close_all()

    with pytest.raises(RuntimeError):
        pool.acquire()


def test_a_pooled_producer_publishes(lib: Lib, pools: Any, connection: Any) -> None:
    queue = lib.top.Queue("compat-pools", routing_key="compat-pools")
    with pools.producers[connection].acquire(block=True) as producer:
        producer.publish({"n": 1}, routing_key="compat-pools", declare=[queue])

    with connection.SimpleQueue(queue) as simple:
        message = simple.get(timeout=1)
        assert message.payload == {"n": 1}
        message.ack()


def test_a_channel_pool_lends_channels_of_its_connection(connection: Any) -> None:
    pool = connection.ChannelPool(2)

    channels = [pool.acquire(), pool.acquire()]

    assert pool.connection is connection
    assert channels[0] is not channels[1]
    for channel in channels:
        channel.release()
