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

import enum
import os
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

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
    from collections.abc import Iterator
    from threading import RLock
    from types import TracebackType

__all__ = [
    "ChannelPool",
    "ConnectionPool",
    "Connections",
    "PoolGroup",
    "PoolKey",
    "PooledChannel",
    "PooledConnection",
    "PooledProducer",
    "ProducerPool",
    "Producers",
    "Resource",
    "connections",
    "get_limit",
    "producers",
    "register_group",
    "reset",
    "set_limit",
    "use_global_limit",
]

#: The limit new pools in :data:`connections` and :data:`producers` get.
DEFAULT_LIMIT = 10

#: The groups made with ``close_after_fork``: emptied in a forked child.
_FORGET_IN_CHILD: Final[weakref.WeakSet[PoolGroup[Any]]] = weakref.WeakSet()


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


class _UseGlobalLimit(enum.Enum):
    USE_GLOBAL_LIMIT = "use_global_limit"

    def __repr__(self) -> str:
        return "use_global_limit"


#: A :class:`PoolGroup`'s default ``limit``: the global one (:func:`get_limit`).
use_global_limit: Final = _UseGlobalLimit.USE_GLOBAL_LIMIT


class _Registry:
    """The global limit and every group: the only module-level state here."""

    def __init__(self) -> None:
        self.limit: int | None = DEFAULT_LIMIT
        self.groups: list[PoolGroup[Any]] = []

    @property
    def lock(self) -> RLock:
        """Guards the limit and every group's pools.

        Made on first use, not at import (a real OS lock in a program that
        monkey patches ``threading`` afterwards); ``dict.setdefault`` gives
        threads asking at once the same one.
        """
        lock = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_lock", threading.RLock())
        return lock  # type: ignore[no-any-return]


_registry = _Registry()


@dataclass(frozen=True, slots=True)
class PoolKey:
    """What makes two connections share a pool in a :class:`PoolGroup`.

    kombu keys pools by transport, host, user, password, virtual host,
    port and transport options; this key adds what also makes a different
    server or session (the failover list, TLS, heartbeat, timeouts, login
    method, confirms, and the memory broker).  The password is part of the
    key but never of its ``repr``.
    """

    transport: str
    uri: str
    password: object = field(repr=False)
    settings: tuple[object, ...] = field(repr=False)

    @classmethod
    def of(cls, connection: Connection) -> PoolKey:
        """The key of ``connection``'s settings."""
        transport = connection.transport
        return cls(
            transport.name,
            connection.as_uri(),
            connection.password,
            (
                type(transport),
                # Two memory transports with different brokers are different
                # servers.
                id(getattr(transport, "broker", None)),
                tuple(connection.alt),
                repr(connection.ssl),
                repr(sorted(connection.transport_options.items())),
                connection.heartbeat,
                connection.connect_timeout,
                connection.login_method,
                connection.confirm_publish,
            ),
        )


class PoolGroup(Mapping[PoolKey, P]):
    """Pools by connection settings, as kombu's ``PoolGroup``: a dict of pools.

    ``group[connection]`` is the pool for the connection's settings,
    created on first use (:meth:`create`) with the group's limit; an equal
    ``Connection`` made elsewhere gets the same pool (see :class:`PoolKey`).
    The keys are :class:`PoolKey`; ``group[key]`` works too, for a key the
    group holds.  ``items()``, ``keys()``, ``values()``, ``len()``, ``in``
    and iteration see the pools created so far; :meth:`clear` forgets them.

    Args:
        limit: The limit of the pools it creates: :data:`use_global_limit`
            (the default: :func:`get_limit` at creation time), ``None`` or
            ``0`` (no limit), or an int >= 1.
        close_after_fork: Forget every pool in a child made by
            :func:`os.fork` (the parent keeps using their sockets).
    """

    # A group is a registry entry, not a value: equal only to itself.
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __init__(
        self,
        limit: int | _UseGlobalLimit | None = use_global_limit,
        close_after_fork: bool = True,
    ) -> None:
        self.limit = limit if limit is use_global_limit else check_limit(limit)
        self.close_after_fork = close_after_fork
        self._pools: dict[PoolKey, P] = {}
        if close_after_fork:
            _FORGET_IN_CHILD.add(self)

    def create(self, connection: Connection, limit: int | None) -> P:
        """Make the pool for ``connection``."""
        raise NotImplementedError("PoolGroups must define create()")

    def __getitem__(self, connection: Connection | PoolKey) -> P:
        if isinstance(connection, PoolKey):
            with _registry.lock:
                return self._pools[connection]
        if not isinstance(connection, Connection):
            raise ConfigurationError(
                f"pools are keyed by Connection, not {type(connection).__name__}"
            )
        key = PoolKey.of(connection)
        with _registry.lock:
            pool = self._pools.get(key)
            if pool is None:
                limit = self.limit
                if isinstance(limit, _UseGlobalLimit):
                    limit = _registry.limit
                pool = self._pools[key] = self.create(connection, limit)
            return pool

    def __contains__(self, key: object) -> bool:
        if isinstance(key, Connection):
            key = PoolKey.of(key)
        with _registry.lock:
            return key in self._pools

    def get(self, key: Any, default: Any = None) -> Any:
        """The pool for ``key`` (a Connection or a PoolKey) if it exists.

        Unlike ``group[connection]``, this never creates a pool.
        """
        if isinstance(key, Connection):
            key = PoolKey.of(key)
        with _registry.lock:
            return self._pools.get(key, default)

    def __iter__(self) -> Iterator[PoolKey]:
        with _registry.lock:
            return iter(list(self._pools))

    def __len__(self) -> int:
        return len(self._pools)

    def pools(self) -> list[P]:
        """The pools created so far."""
        with _registry.lock:
            return list(self._pools.values())

    def clear(self) -> None:
        """Forget every pool, closing their idle connections.

        Those in use are closed when given back; ``group[connection]``
        then creates a new pool.  (kombu's ``clear()`` only forgets them,
        leaving their sockets open until garbage collection.)
        """
        for pool in self._forget():
            pool.close()

    def _forget(self) -> list[P]:
        with _registry.lock:
            pools = list(self._pools.values())
            self._pools.clear()
        return pools


G = TypeVar("G", bound="PoolGroup[Any]")


def register_group(group: G) -> G:
    """Make :func:`set_limit` and :func:`reset` apply to ``group`` too.

    Returns the group, so it can decorate an instance's creation.
    """
    with _registry.lock:
        _registry.groups.append(group)
    return group


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
# Registered without the lock: the import runs in one thread, and the lock
# is made on first use (see _Registry.lock).
_registry.groups += [connections, producers]


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

    ``None`` or ``0`` means no limit.  Shrinking closes idle items beyond
    the limit now; items in use are never taken away.

    Returns:
        The new limit (``None`` for no limit).

    Raises:
        RuntimeError: a pool has more items in use than ``limit``, and
            neither ``force`` nor ``ignore_errors`` is set; nothing changed.
            With either, the extra items are closed when given back.
        TypeError: ``limit`` is a bool.
        ConfigurationError: ``limit`` is not None or an int >= 0.
    """
    new_limit = check_limit(limit)
    with _registry.lock:
        pools = [pool for group in _registry.groups for pool in group.pools()]
        if not (force or ignore_errors):
            for pool in pools:
                if pool._would_refuse(new_limit):
                    pool.resize(new_limit)  # raises the RuntimeError
        _registry.limit = new_limit
    for pool in pools:
        pool.resize(new_limit, force=True)
    if reset_after:
        reset()
    return new_limit


def reset(*args: object, **kwargs: object) -> None:
    """Close every pool of every group, and forget them.

    Idle connections are closed now; those in use are closed when given
    back.  The global limit is kept.  Arguments are accepted and ignored,
    as in kombu (which registers it as an after-fork hook).
    """
    del args, kwargs
    with _registry.lock:
        groups = list(_registry.groups)
    for group in groups:
        group.clear()


def _forget_after_fork() -> None:  # pragma: no cover - runs in a forked child
    # The child shares the parent's sockets: closing them would close the
    # parent's connections, so the child only forgets them.
    for group in list(_FORGET_IN_CHILD):
        group._forget()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_forget_after_fork)
