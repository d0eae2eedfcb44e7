"""``Connection`` factories for the consuming side and the pools.

Kept apart from :mod:`kombu_lite.connection` so the consumer and pool
modules can grow without touching the connection logic: ``Connection``
inherits these methods.  The modules they build from are imported on
first use, so ``import kombu_lite.connection`` stays cheap and free of
import cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kombu_lite.channel import Channel
    from kombu_lite.connection import Connection
    from kombu_lite.entity import Queue
    from kombu_lite.messaging.consumer import (
        Callback,
        Consumer,
        OnCancel,
        OnDecodeError,
        OnMessage,
    )
    from kombu_lite.pools import ChannelPool, ConnectionPool
    from kombu_lite.simple import SimpleBuffer, SimpleQueue

__all__ = ["ConsumerFactories"]


class ConsumerFactories:
    """The consumer, simple-queue and pool factories of ``Connection``."""

    def _self(self) -> Connection:
        # Only Connection inherits from this class.
        return cast("Connection", self)

    def Consumer(  # noqa: N802 - kombu's factory name
        self,
        queues: Queue | str | Iterable[Queue | str] | None = None,
        channel: Channel | None = None,
        no_ack: bool | None = None,
        auto_declare: bool = True,
        callbacks: Iterable[Callback] | None = None,
        on_decode_error: OnDecodeError | None = None,
        on_message: OnMessage | None = None,
        accept: Iterable[str] | str | None = None,
        prefetch_count: int | None = None,
        tag_prefix: str | None = None,
        *,
        on_cancel: OnCancel | None = None,
    ) -> Consumer:
        """Return a :class:`~kombu_lite.Consumer` of ``queues``.

        It consumes on ``channel``, or on this connection's default channel.
        """
        from kombu_lite.messaging.consumer import Consumer

        return Consumer(
            channel if channel is not None else self._self(),
            queues,
            no_ack,
            auto_declare,
            callbacks,
            on_decode_error,
            on_message,
            accept,
            prefetch_count,
            tag_prefix,
            on_cancel=on_cancel,
        )

    def SimpleQueue(  # noqa: N802 - kombu's factory name
        self,
        name: str | Queue,
        no_ack: bool | None = None,
        queue_opts: Mapping[str, Any] | None = None,
        queue_args: Mapping[str, object] | None = None,
        exchange_opts: Mapping[str, Any] | None = None,
        channel: Channel | None = None,
        *,
        serializer: str | None = None,
        compression: str | None = None,
        accept: Iterable[str] | str | None = None,
    ) -> SimpleQueue:
        """Return a :class:`~kombu_lite.SimpleQueue` named ``name``.

        It uses ``channel``, or this connection's default channel.
        """
        from kombu_lite.simple import SimpleQueue

        return SimpleQueue(
            channel if channel is not None else self._self(),
            name,
            no_ack,
            queue_opts,
            queue_args,
            exchange_opts,
            serializer=serializer,
            compression=compression,
            accept=accept,
        )

    def SimpleBuffer(  # noqa: N802 - kombu's factory name
        self,
        name: str | Queue,
        no_ack: bool | None = None,
        queue_opts: Mapping[str, Any] | None = None,
        queue_args: Mapping[str, object] | None = None,
        exchange_opts: Mapping[str, Any] | None = None,
        channel: Channel | None = None,
        *,
        serializer: str | None = None,
        compression: str | None = None,
        accept: Iterable[str] | str | None = None,
    ) -> SimpleBuffer:
        """Return a :class:`~kombu_lite.SimpleBuffer` named ``name``.

        It uses ``channel``, or this connection's default channel.
        """
        from kombu_lite.simple import SimpleBuffer

        return SimpleBuffer(
            channel if channel is not None else self._self(),
            name,
            no_ack,
            queue_opts,
            queue_args,
            exchange_opts,
            serializer=serializer,
            compression=compression,
            accept=accept,
        )

    def Pool(  # noqa: N802 - kombu's factory name
        self, limit: int | None = None, **options: Any
    ) -> ConnectionPool:
        """Return a :class:`~kombu_lite.pools.ConnectionPool` of clones of this.

        ``limit=None`` means no limit (kombu's name for the factory).  The
        options are kombu's: ``preload`` (make that many connections now,
        each opened on first use) and ``close_after_fork``; see
        :class:`~kombu_lite.pools.ConnectionPool`.

        Raises:
            ConfigurationError: a bad limit or option, or an unknown option
                (kombu ignores those).
        """
        from kombu_lite.pools import ConnectionPool
        from kombu_lite.pools.resource import check_pool_options

        check_pool_options("Connection.Pool", options)
        return ConnectionPool(self._self(), limit, **options)

    def ChannelPool(  # noqa: N802 - kombu's factory name
        self, limit: int | None = None, **options: Any
    ) -> ChannelPool:
        """Return a :class:`~kombu_lite.pools.ChannelPool` of this connection.

        ``limit=None`` means no limit (kombu's name for the factory).  The
        options are kombu's: ``preload`` (open that many channels now) and
        ``close_after_fork``; see :class:`~kombu_lite.pools.ChannelPool`.

        Raises:
            ConfigurationError: a bad limit or option, or an unknown option
                (kombu ignores those).
        """
        from kombu_lite.pools import ChannelPool
        from kombu_lite.pools.resource import check_pool_options

        check_pool_options("Connection.ChannelPool", options)
        return ChannelPool(self._self(), limit, **options)
