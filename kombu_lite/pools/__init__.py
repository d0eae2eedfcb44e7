"""Connection, channel and producer pools, and the process-wide pool groups.

Most applications publish from many threads through a few connections::

    from kombu_lite import Connection
    from kombu_lite.pools import producers

    connection = Connection("amqp://guest:guest@localhost//")
    with producers[connection].acquire(block=True, timeout=5) as producer:
        producer.publish({"hello": "world"}, routing_key="tasks")

``producers[connection]`` is the producer pool for the connection's
settings (an equal ``Connection`` made elsewhere gets the same pool), and
``connections[connection]`` the connection pool behind it.  Each acquire
lends a producer or connection that no other thread holds; leaving the
``with`` block gives it back.  A connection given back after an error is
closed and replaced, never lent again.  Both groups create their pools
with the global limit (:func:`get_limit`, 10 by default) and are emptied by
:func:`reset`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from kombu_lite.connection import Connection
from kombu_lite.connection.pool import (
    ChannelPool,
    ConnectionPool,
    PooledChannel,
    PooledConnection,
)
from kombu_lite.connection.resource import Resource, check_limit
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.messaging import Producer

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "ChannelPool",
    "ConnectionPool",
    "Connections",
    "PoolGroup",
    "PooledChannel",
    "PooledConnection",
    "PooledProducer",
    "ProducerPool",
    "Producers",
    "Resource",
    "connections",
    "get_limit",
    "producers",
    "reset",
    "set_limit",
]

#: The limit new pools in :data:`connections` and :data:`producers` get.
DEFAULT_LIMIT = 10


# -- producers -------------------------------------------------------------------------


class PooledProducer(Producer):
    """A :class:`~kombu_lite.Producer` lent by a :class:`ProducerPool`.

    While lent it holds a connection from the pool's connection pool; giving
    it back (``release()``, ``close()`` or the end of a ``with`` block) gives
    the connection back too, and the producer can no longer publish.
    """

    def __init__(self, pool: ProducerPool) -> None:
        super().__init__(None)
        self._pool = pool
        self._lent: PooledConnection | None = None

    def _attach(self, connection: PooledConnection) -> None:
        self._lent = connection
        self.revive(connection)

    def _detach(self, failed: bool) -> None:
        connection, self._lent = self._lent, None
        self._connection = None
        self._channel = None
        if connection is not None:
            connection._pool.release(connection, failed=failed)

    def release(self) -> None:
        """Give the producer and its connection back to the pool."""
        self._pool.release(self)

    close = release

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.release(self, failed=exc is not None)


class ProducerPool(Resource[PooledProducer]):
    """Up to ``limit`` producers, each publishing on a pooled connection.

    Each acquire also takes a connection from ``connections`` (waiting, with
    ``block=True``, within the same ``timeout``); each release gives it
    back.  A producer given back after an error gives its connection back
    as failed, so the connection is closed and replaced.
    """

    noun: ClassVar[str] = "producer"

    def __init__(self, connections: ConnectionPool, limit: int | None = None) -> None:
        if not isinstance(connections, ConnectionPool):
            raise ConfigurationError(
                f"ProducerPool needs a ConnectionPool, not {type(connections).__name__}"
            )
        super().__init__(limit)
        #: Where the producers' connections come from.
        self.connections = connections

    def new(self) -> PooledProducer:
        """Make a producer (it gets a connection when lent)."""
        return PooledProducer(self)

    def prepare(
        self, item: PooledProducer, block: bool, deadline: float | None
    ) -> None:
        """Lend the producer a connection from the connection pool."""
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
        item._attach(self.connections.acquire(block=block, timeout=remaining))

    def release(self, item: PooledProducer, failed: bool = False) -> None:
        """Take the producer back, and give its connection back."""
        item._detach(failed)
        super().release(item)


# -- the process-wide groups -----------------------------------------------------------

P = TypeVar("P", bound="Resource[Any]")


class _Registry:
    """The global limit and every group: the only module-level state here."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.limit: int | None = DEFAULT_LIMIT
        self.groups: list[PoolGroup[Any]] = []


_registry = _Registry()


class PoolGroup(Generic[P]):
    """Pools by connection settings: ``group[connection]`` is its pool.

    Connections with the same transport, URL (password included), failover
    list and options share one pool, created on first use with the global
    limit.
    """

    def __init__(self) -> None:
        self._pools: dict[tuple[object, ...], P] = {}

    def create(self, connection: Connection, limit: int | None) -> P:
        """Make the pool for ``connection``."""
        raise NotImplementedError

    def __getitem__(self, connection: Connection) -> P:
        if not isinstance(connection, Connection):
            raise ConfigurationError(
                f"pools are keyed by Connection, not {type(connection).__name__}"
            )
        key = _pool_key(connection)
        with _registry.lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self.create(connection, _registry.limit)
            return pool

    def pools(self) -> list[P]:
        """The pools created so far."""
        with _registry.lock:
            return list(self._pools.values())

    def __len__(self) -> int:
        return len(self._pools)

    def _forget(self) -> list[P]:
        with _registry.lock:
            pools = list(self._pools.values())
            self._pools.clear()
        return pools


class Connections(PoolGroup[ConnectionPool]):
    """The type of :data:`connections`."""

    def create(self, connection: Connection, limit: int | None) -> ConnectionPool:
        """A :class:`ConnectionPool` for ``connection``."""
        return ConnectionPool(connection, limit)


class Producers(PoolGroup[ProducerPool]):
    """The type of :data:`producers`: each pool draws on :data:`connections`."""

    def create(self, connection: Connection, limit: int | None) -> ProducerPool:
        """A :class:`ProducerPool` on ``connections[connection]``."""
        return ProducerPool(connections[connection], limit)


#: ``connections[connection].acquire(block=True)`` lends a connection.
connections = Connections()
#: ``producers[connection].acquire(block=True)`` lends a producer.
producers = Producers()
_registry.groups.extend([connections, producers])


def _pool_key(connection: Connection) -> tuple[object, ...]:
    transport = connection.transport
    return (
        type(transport),
        # Two memory transports with different brokers are different servers.
        getattr(transport, "broker", None),
        connection.as_uri(include_password=True),
        tuple(connection.alt),
        repr(connection.ssl),
        repr(sorted(connection.transport_options.items())),
        connection.heartbeat,
        connection.connect_timeout,
        connection.login_method,
        connection.confirm_publish,
    )


def get_limit() -> int | None:
    """The limit new pools in :data:`connections` and :data:`producers` get."""
    return _registry.limit


def set_limit(
    limit: int | None,
    force: bool = False,
    reset_after: bool = False,
    ignore_errors: bool = False,
) -> int | None:
    """Set the global limit, and resize every pool already created.

    Shrinking never takes away a connection or producer in use (the extra
    ones are closed when given back), so ``force`` and ``ignore_errors``,
    kept for kombu compatibility, change nothing.  With ``reset_after``
    every pool is then closed and forgotten (:func:`reset`).

    Raises:
        ConfigurationError: ``limit`` is not None or an int >= 1.
    """
    del force, ignore_errors
    new_limit = check_limit(limit)
    with _registry.lock:
        _registry.limit = new_limit
        pools = [pool for group in _registry.groups for pool in group.pools()]
    for pool in pools:
        pool.resize(new_limit)
    if reset_after:
        reset()
    return new_limit


def reset() -> None:
    """Close every pool of :data:`connections` and :data:`producers`, and forget them.

    Idle connections are closed now; those in use are closed when given
    back.  The global limit is kept.
    """
    for group in list(_registry.groups):
        for pool in group._forget():
            pool.close()


def _forget_after_fork() -> None:  # pragma: no cover - runs in a forked child
    # The child shares the parent's sockets: closing them would close the
    # parent's connections, so the child only forgets them.
    for group in _registry.groups:
        group._forget()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_forget_after_fork)
