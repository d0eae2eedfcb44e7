"""Connection and channel pools: what ``Connection.Pool`` and ``ChannelPool`` lend.

A pool lends clones of one connection (:class:`ConnectionPool`), or
channels of one connection (:class:`ChannelPool`), up to a limit; what it
lends goes back with ``release()`` or at the end of a ``with`` block, and
is replaced when it comes back broken.  :mod:`kombu_lite.pools` adds the
producer pools and the process-wide groups on top, and re-exports these.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from kombu_lite.channel import Channel
from kombu_lite.connection import Connection
from kombu_lite.connection.resource import Resource
from kombu_lite.connection.settings import clone_arguments
from kombu_lite.exceptions import (
    ChannelLimitExceeded,
    ConfigurationError,
    ConnectionLimitExceeded,
    LimitExceeded,
)
from kombu_lite.exceptions._arguments import checks_keywords

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    from kombu_lite.transport.base import WireChannel

__all__ = ["ChannelPool", "ConnectionPool", "PooledChannel", "PooledConnection"]


# -- connections -----------------------------------------------------------------------


class PooledConnection(Connection):
    """A :class:`~kombu_lite.Connection` lent by a :class:`ConnectionPool`.

    ``release()`` and the end of a ``with`` block give it back (still
    open); ``close()`` closes it and frees its place.  Leaving the ``with``
    block with an exception closes it too: the error may have left it
    half-used, so it is never lent again.
    """

    def __init__(self, pool: ConnectionPool, **arguments: Any) -> None:
        super().__init__(**arguments)
        self._pool = pool

    def release(self) -> None:
        """Give the connection back to its pool; it stays open for reuse."""
        self._pool.release(self)

    def close(self) -> None:
        """Close the connection and free its place in the pool."""
        Connection.release(self)
        self._pool.release(self, failed=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.release(self, failed=exc is not None)

    @property
    def _broken(self) -> bool:
        # Opened once, and found broken since (closed by the broker, or the
        # socket dropped).  A break nobody has noticed yet cannot be seen.
        wire = self._wire
        return wire is not None and not wire.is_connected


class ConnectionPool(Resource[PooledConnection]):
    """Up to ``limit`` connections with the settings of ``connection``.

    Connections are clones of ``connection``, made when first needed and
    opened on first use.  One given back after an error, or found broken
    (closed by the broker, or its socket dropped), is closed and replaced
    by a new one.  A break is found by the first call that needs the
    broker, so a connection broken while idle is lent once more, fails on
    first use, and is then replaced.

    Args:
        connection: The connection whose settings the pool copies.
        limit: The most connections lent at once (``None``: no limit).
        preload: Make this many connections now (at most ``limit``); like
            the others, each opens on first use, so nothing is sent yet.
            kombu 5 accepts this option and ignores it.
        close_after_fork: In a child made by :func:`os.fork`, forget every
            connection (the parent keeps using their sockets), so the child
            opens its own.  True by default, as in kombu (whose pool is
            closed for good in the child instead).

    Raises:
        ConfigurationError: a bad argument.
    """

    LimitExceeded: ClassVar[type[LimitExceeded]] = ConnectionLimitExceeded
    noun: ClassVar[str] = "connection"
    close_after_fork = True

    @checks_keywords()
    def __init__(
        self,
        connection: Connection,
        limit: int | None = None,
        preload: int | None = None,
        close_after_fork: bool | None = None,
    ) -> None:
        if not isinstance(connection, Connection):
            raise ConfigurationError(
                f"ConnectionPool needs a Connection, not {type(connection).__name__}"
            )
        super().__init__(limit, preload, close_after_fork)
        #: The connection whose settings the pooled connections copy.
        self.connection = connection
        self._preload()

    def new(self) -> PooledConnection:
        """Clone the pool's connection (no I/O yet)."""
        source = self.connection
        return PooledConnection(
            self,
            **clone_arguments(source, source._explicit, source._hosts.urls, {}),
        )

    def is_usable(self, item: PooledConnection) -> bool:
        """A broken connection is replaced; an open or unopened one is kept.

        A connection never opened (or closed by the pool) opens on first
        use, so it is as good as a new one.
        """
        return not item._broken

    def close_resource(self, item: PooledConnection) -> None:
        """Close the connection for good."""
        Connection.release(item)

    @contextlib.contextmanager
    def acquire_channel(
        self, block: bool = False, timeout: float | None = None
    ) -> Iterator[tuple[PooledConnection, Channel]]:
        """Lend a connection and its default channel, as ``(connection, channel)``."""
        connection = self.acquire(block=block, timeout=timeout)
        with connection:
            yield connection, connection.default_channel


# -- channels --------------------------------------------------------------------------


class PooledChannel(Channel):
    """A :class:`~kombu_lite.channel.Channel` lent by a :class:`ChannelPool`.

    ``release()`` and the end of a ``with`` block give it back (still
    open); ``close()`` closes it and frees its place.
    """

    __slots__ = ("_pool",)

    def __init__(
        self, connection: Connection, wire: WireChannel, pool: ChannelPool
    ) -> None:
        super().__init__(connection, wire)
        self._pool = pool

    def release(self) -> None:
        """Give the channel back to its pool; it stays open for reuse."""
        self._pool.release(self)

    def close(self) -> None:
        """Close the channel and free its place in the pool."""
        Channel.close(self)
        self._pool.release(self, failed=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.release(self, failed=exc is not None)


class ChannelPool(Resource[PooledChannel]):
    """Up to ``limit`` channels of one connection.

    A channel given back closed (for example after the broker refused
    something on it) is replaced by a new one.

    Args:
        connection: The connection the channels belong to.
        limit: The most channels lent at once (``None``: no limit).
        preload: Open this many channels now (at most ``limit``),
            connecting first if needed; the others open when first lent.
        close_after_fork: In a child made by :func:`os.fork`, forget every
            channel (False by default, as in kombu: channels go with their
            connection).

    Raises:
        ConfigurationError: a bad argument; nothing was sent.
        OperationalError: ``preload`` could not open a channel (those
            already opened are closed).
    """

    LimitExceeded: ClassVar[type[LimitExceeded]] = ChannelLimitExceeded
    noun: ClassVar[str] = "channel"

    @checks_keywords()
    def __init__(
        self,
        connection: Connection,
        limit: int | None = None,
        preload: int | None = None,
        close_after_fork: bool | None = None,
    ) -> None:
        if not isinstance(connection, Connection):
            raise ConfigurationError(
                f"ChannelPool needs a Connection, not {type(connection).__name__}"
            )
        super().__init__(limit, preload, close_after_fork)
        #: The connection the channels belong to.
        self.connection = connection
        self._preload()

    def new(self) -> PooledChannel:
        """Open a new channel (connecting first if needed)."""
        connection = self.connection
        channel = PooledChannel(connection, connection.connection.channel(), self)
        return connection._handed_out.add(channel)

    def is_usable(self, item: PooledChannel) -> bool:
        """Only an open channel goes back to the pool."""
        return item.is_open

    def close_resource(self, item: PooledChannel) -> None:
        """Close the channel for good."""
        Channel.close(item)
