"""Pool groups: what kombu_lite does beyond kombu (tests/compat: the shared part)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kombu_lite import Connection, pools
from kombu_lite.connection.resource import check_limit
from kombu_lite.pools import ConnectionPool, PoolGroup, PoolKey


@pytest.fixture(autouse=True)
def _fresh_groups() -> Iterator[None]:
    pools.reset()
    yield
    pools.reset()
    pools.set_limit(pools.DEFAULT_LIMIT, force=True)


class Limited(PoolGroup[ConnectionPool]):
    def create(self, connection: Connection, limit: int | None) -> ConnectionPool:
        return ConnectionPool(connection, limit)


def test_get_and_in_never_create_a_pool() -> None:
    connection = Connection("memory://")

    assert pools.connections.get(connection) is None
    assert connection not in pools.connections
    assert len(pools.connections) == 0
    pool = pools.connections[connection]
    assert pools.connections.get(connection) is pool
    assert pools.connections.get(PoolKey.of(connection)) is pool


def test_an_unknown_key_raises_key_error() -> None:
    key = PoolKey.of(Connection("memory://"))

    with pytest.raises(KeyError):
        pools.connections[key]


def test_the_key_never_shows_the_password() -> None:
    key = PoolKey.of(Connection("amqp://user:secret@host//"))

    assert "secret" not in repr(key)


def test_a_group_with_its_own_limit_ignores_the_global_one() -> None:
    group = pools.register_group(Limited(limit=2))
    try:
        assert group[Connection("memory://")].limit == 2
        pools.reset("ignored", also="ignored")
        assert len(group) == 0
    finally:
        pools._registry.groups.remove(group)


def test_a_group_of_the_global_limit_follows_it() -> None:
    pools.set_limit(5)

    assert Limited()[Connection("memory://")].limit == 5


def test_groups_compare_by_identity() -> None:
    assert Limited() != Limited()
    assert len({Limited(), Limited()}) == 2


def test_the_base_group_has_no_create() -> None:
    with pytest.raises(NotImplementedError):
        PoolGroup()[Connection("memory://")]


def test_check_limit_reads_zero_as_no_limit() -> None:
    assert check_limit(0) is None


def test_resize_with_reset_closes_the_idle_items() -> None:
    pool = Connection("memory://").Pool(2)
    conn = pool.acquire()
    conn.connect()
    conn.release()

    pool.resize(3, reset=True)

    assert pool.idle == 0
    assert not conn.connected
