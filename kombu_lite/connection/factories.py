"""The factories ``Connection`` hands out: producers, consumers, queues, pools.

Each is a method of :class:`~kombu_lite.Connection` (kombu's names:
``Producer``, ``Consumer``, ``SimpleQueue``, ``SimpleBuffer``, ``Pool``,
``ChannelPool``), written here so the connection module keeps to the
connection itself.  The classes they build are imported on first use, so
importing the connection stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu_lite.exceptions._arguments import checks_keywords

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kombu_lite.channel import Channel
    from kombu_lite.connection import Connection
    from kombu_lite.connection.pool import ChannelPool, ConnectionPool
    from kombu_lite.entity import Exchange, Queue
    from kombu_lite.messaging import OnReturn, Producer
    from kombu_lite.messaging.consumer import (
        Callback,
        Consumer,
        OnCancel,
        OnDecodeError,
        OnMessage,
    )
    from kombu_lite.simple import SimpleBuffer, SimpleQueue

__all__ = [
    "channel_pool",
    "consumer",
    "pool",
    "producer",
    "simple_buffer",
    "simple_queue",
]


@checks_keywords("Connection.Producer")
def producer(
    self: Connection,
    channel: Channel | None = None,
    exchange: Exchange | str | None = None,
    routing_key: str | None = None,
    serializer: str | None = None,
    auto_declare: bool | None = None,
    compression: str | None = None,
    on_return: OnReturn | None = None,
) -> Producer:
    """Return a :class:`~kombu_lite.Producer` on ``channel``, or on this connection."""
    from kombu_lite.messaging import Producer

    return Producer(
        channel if channel is not None else self,
        exchange,
        routing_key,
        serializer,
        auto_declare,
        compression,
        on_return,
    )


@checks_keywords("Connection.Consumer")
def consumer(
    self: Connection,
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
    ack_batch: int | None = None,
) -> Consumer:
    """Return a :class:`~kombu_lite.Consumer` of ``queues``.

    It consumes on ``channel``, or on this connection's default channel.
    """
    from kombu_lite.messaging.consumer import Consumer

    return Consumer(
        channel if channel is not None else self,
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
        ack_batch=ack_batch,
    )


@checks_keywords("Connection.SimpleQueue")
def simple_queue(
    self: Connection,
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
    ack_batch: int | None = None,
) -> SimpleQueue:
    """Return a :class:`~kombu_lite.SimpleQueue` named ``name``.

    It uses ``channel``, or this connection's default channel.
    """
    from kombu_lite.simple import SimpleQueue

    return SimpleQueue(
        channel if channel is not None else self,
        name,
        no_ack,
        queue_opts,
        queue_args,
        exchange_opts,
        serializer=serializer,
        compression=compression,
        accept=accept,
        ack_batch=ack_batch,
    )


@checks_keywords("Connection.SimpleBuffer")
def simple_buffer(
    self: Connection,
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
    ack_batch: int | None = None,
) -> SimpleBuffer:
    """Return a :class:`~kombu_lite.SimpleBuffer` named ``name``.

    It uses ``channel``, or this connection's default channel.
    """
    from kombu_lite.simple import SimpleBuffer

    return SimpleBuffer(
        channel if channel is not None else self,
        name,
        no_ack,
        queue_opts,
        queue_args,
        exchange_opts,
        serializer=serializer,
        compression=compression,
        accept=accept,
        ack_batch=ack_batch,
    )


@checks_keywords("Connection.Pool")
def pool(
    self: Connection,
    limit: int | None = None,
    preload: int | None = None,
    close_after_fork: bool | None = None,
) -> ConnectionPool:
    """Return a :class:`~kombu_lite.pools.ConnectionPool` of clones of this.

    ``limit=None`` means no limit (kombu's name for the factory).  The
    options are kombu's: ``preload`` (make that many connections now,
    each opened on first use) and ``close_after_fork``; see
    :class:`~kombu_lite.pools.ConnectionPool`.

    Raises:
        ConfigurationError: a bad limit or option.
        UnknownArgument: an unknown keyword (kombu ignores those).
    """
    from kombu_lite.connection.pool import ConnectionPool

    return ConnectionPool(self, limit, preload, close_after_fork)


@checks_keywords("Connection.ChannelPool")
def channel_pool(
    self: Connection,
    limit: int | None = None,
    preload: int | None = None,
    close_after_fork: bool | None = None,
) -> ChannelPool:
    """Return a :class:`~kombu_lite.pools.ChannelPool` of this connection.

    ``limit=None`` means no limit (kombu's name for the factory).  The
    options are kombu's: ``preload`` (open that many channels now) and
    ``close_after_fork``; see :class:`~kombu_lite.pools.ChannelPool`.

    Raises:
        ConfigurationError: a bad limit or option.
        UnknownArgument: an unknown keyword (kombu ignores those).
    """
    from kombu_lite.connection.pool import ChannelPool

    return ChannelPool(self, limit, preload, close_after_fork)
