"""kombu's ``kombu.common``: declaring, draining, replying, prefetch.

Everything here works through what its arguments offer
(``conn.Consumer(...)``, ``conn.drain_events()``, ``producer.publish()``,
``pool.acquire()``): nothing imports the connection, the producer or the
pools, which sit above this module.  ``maybe_declare`` reaches the
connection's :class:`~kombu_lite.channel.DeclareCache` as
``channel.connection``.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import AbstractContextManager, contextmanager
from dataclasses import fields
from itertools import count
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kombu_lite._log import get_logger
from kombu_lite.channel import Channel
from kombu_lite.entity.exchange import Exchange
from kombu_lite.entity.queue import Queue
from kombu_lite.retry import RetryPolicy
from kombu_lite.serialization import registry as serializers
from kombu_lite.utils.uuid import uuid

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.channel import ChannelOwner
    from kombu_lite.message import Message

__all__ = [
    "PREFETCH_COUNT_MAX",
    "Broadcast",
    "QoS",
    "collect_replies",
    "declaration_cached",
    "drain_consumer",
    "eventloop",
    "ignore_errors",
    "insured",
    "itermessages",
    "maybe_declare",
    "send_reply",
    "uuid",
]

T = TypeVar("T")

#: The largest prefetch count AMQP can carry (a 16-bit field).
PREFETCH_COUNT_MAX = 0xFFFF

logger = get_logger(__name__)


class Broadcast(Queue):
    """A queue bound to the fanout exchange ``name``: every consumer gets a copy.

    The queue is named ``bcast.<uuid>`` (or ``queue``; with ``unique=True``
    ``<queue>.<uuid>`` even if ``queue`` is given) and deleted with its
    last consumer (``auto_delete=True``).  The queue's :attr:`alias` is
    ``name``.  Other keyword arguments are :class:`~kombu_lite.Queue`'s.
    """

    def __init__(
        self,
        name: str | None = None,
        queue: str | None = None,
        unique: bool = False,
        auto_delete: bool = True,
        exchange: Exchange | None = None,
        alias: str | None = None,
        **kwargs: Any,
    ) -> None:
        queue = f"{queue or 'bcast'}.{uuid()}" if unique else queue or f"bcast.{uuid()}"
        if exchange is None:
            exchange = Exchange(name or "", type="fanout")
        super().__init__(
            queue,
            exchange,
            alias=alias or name,
            auto_delete=auto_delete,
            **kwargs,
        )
        #: The queue name (kombu keeps it in this attribute too).
        self.queue = queue


def declaration_cached(entity: Exchange | Queue, channel: Channel) -> bool:
    """Whether ``entity`` is in the declare cache of ``channel``'s connection.

    kombu tests the entity object against a set of hashes, so its answer
    is always False; this one answers the question.
    """
    return entity.declare_key in channel.connection.declare_cache


def maybe_declare(
    entity: Exchange | Queue,
    channel: Channel | ChannelOwner | None = None,
    retry: bool = False,
    **retry_policy: Any,
) -> bool:
    """Declare ``entity`` unless it was declared on this connection already.

    The cache key is every declared setting (a queue's bindings included),
    so a second ``Queue('q', ex, 'k2')`` is declared and bound even after
    ``Queue('q', ex, 'k1')`` (kombu keys by name only and drops the second
    binding).  The cache is cleared on every reconnect.  Entities the broker
    may delete by itself (auto-delete, exclusive, expiring, server-named)
    are declared every time.

    Returns:
        True if a declare was sent, False if the cache said it was done.
    """
    if channel is None:
        chan = entity.channel
    elif isinstance(channel, Channel):
        chan = channel
    else:
        chan = channel.default_channel
    connection = chan.connection
    if not retry:
        return connection.declare_cache.ensure_declared(entity, chan)

    def declare_with_retries() -> None:
        policy = RetryPolicy.from_mapping(retry_policy)
        holder: dict[str, Channel] = {"channel": chan}

        class _Revive:
            def revive(self, new_channel: Channel) -> None:
                holder["channel"] = new_channel

        def declare() -> None:
            entity.declare(channel=holder["channel"])

        options = {field.name: getattr(policy, field.name) for field in fields(policy)}
        connection.ensure(_Revive(), declare, **options)()

    return connection.declare_cache.ensure_declared(entity, chan, declare_with_retries)


class _Drains(Protocol):
    def drain_events(self, timeout: float | None = None) -> object: ...


def eventloop(
    conn: _Drains,
    limit: int | None = None,
    timeout: float | None = None,
    ignore_timeouts: bool = False,
) -> Iterator[object]:
    """Call ``conn.drain_events(timeout=timeout)`` over and over, as a generator.

    Each event handled yields once (``limit`` calls at most; ``None`` or 0:
    for ever).  A call that timed out raises :exc:`TimeoutError` unless
    ``ignore_timeouts`` (or ``timeout`` is 0 or None), in which case it
    yields nothing and counts against ``limit``::

        for _ in eventloop(connection, timeout=1, ignore_timeouts=True):
            pass  # every second at least, until the loop is left
    """
    for _ in range(limit) if limit else count():
        try:
            yield conn.drain_events(timeout=timeout)
        except TimeoutError:
            if timeout and not ignore_timeouts:
                raise


def drain_consumer(
    consumer: Any,
    limit: int | None = 1,
    timeout: float | None = None,
    callbacks: list[Callable[[Any, Message], object]] | None = None,
) -> Iterator[tuple[Any, Message]]:
    """Consume with ``consumer`` and yield ``(body, message)`` pairs.

    Replaces the consumer's callbacks with one that collects messages
    (then ``callbacks``), consumes for the duration of the generator, and
    drains up to ``limit`` events (timeouts ignored).  Messages are not
    acknowledged here.
    """
    received: deque[tuple[Any, Message]] = deque()

    def on_message(body: Any, message: Message) -> None:
        received.append((body, message))

    consumer.callbacks = [on_message, *(callbacks or [])]
    with consumer:
        for _ in eventloop(
            consumer.connection, limit=limit, timeout=timeout, ignore_timeouts=True
        ):
            if received:
                yield received.popleft()


def itermessages(
    conn: Any,
    channel: Channel | None,
    queue: Queue,
    limit: int | None = 1,
    timeout: float | None = None,
    callbacks: list[Callable[[Any, Message], object]] | None = None,
    **kwargs: Any,
) -> Iterator[tuple[Any, Message]]:
    """:func:`drain_consumer` of ``conn.Consumer(queues=[queue], channel=channel)``."""
    return drain_consumer(
        conn.Consumer(queues=[queue], channel=channel, **kwargs),
        limit=limit,
        timeout=timeout,
        callbacks=callbacks,
    )


def collect_replies(
    conn: Any, channel: Channel, queue: Queue, *args: Any, **kwargs: Any
) -> Iterator[Any]:
    """Yield the bodies of the replies on ``queue`` (see :func:`itermessages`).

    With ``no_ack=False`` each message is acknowledged before its body is
    yielded; ``no_ack`` is True by default.
    """
    no_ack = kwargs.setdefault("no_ack", True)
    received = False
    try:
        for body, message in itermessages(conn, channel, queue, *args, **kwargs):
            if not no_ack:
                message.ack()
            received = True
            yield body
    finally:
        after = getattr(channel, "after_reply_message_received", None)
        if received and after is not None:
            after(queue.name)


def _serializer_for(content_type: str | None) -> str | None:
    """The serializer name of ``content_type``; None (automatic) if none has it."""
    names = getattr(serializers, "type_to_name", None)
    if names is not None:
        name: str | None = names.get(content_type)
        return name
    for name in ("json", "pickle", "yaml", "msgpack"):
        try:
            if serializers.encoder_for(name).content_type == content_type:
                return name
        except Exception:  # noqa: BLE001 - not installed: not this one
            continue
    return None


class _Publishes(Protocol):
    def publish(self, body: Any, **kwargs: Any) -> object: ...


def send_reply(
    exchange: Exchange | str,
    req: Message,
    msg: Any,
    producer: _Publishes | None = None,
    retry: bool = False,
    retry_policy: Mapping[str, Any] | None = None,
    **props: Any,
) -> object:
    """Publish ``msg`` as the reply to the request message ``req``.

    It goes to ``exchange`` with ``req``'s ``reply_to`` as routing key and
    its ``correlation_id``, serialized as ``req`` was.  ``props`` are
    passed to ``producer.publish`` and override those.
    """
    if producer is None:
        raise TypeError("send_reply() needs a producer")
    options: dict[str, Any] = {
        "routing_key": req.properties["reply_to"],
        "correlation_id": req.properties.get("correlation_id"),
        "serializer": _serializer_for(req.content_type),
        "content_encoding": req.content_encoding,
        **props,
    }
    return producer.publish(
        msg, exchange=exchange, retry=retry, retry_policy=retry_policy, **options
    )


class _HasErrors(Protocol):
    @property
    def connection_errors(self) -> tuple[type[BaseException], ...]: ...

    @property
    def channel_errors(self) -> tuple[type[BaseException], ...]: ...


@contextmanager
def _ignoring(conn: _HasErrors) -> Iterator[None]:
    try:
        yield
    except conn.connection_errors + conn.channel_errors:
        pass


def ignore_errors(
    conn: _HasErrors, fun: Callable[..., T] | None = None, *args: Any, **kwargs: Any
) -> T | AbstractContextManager[None] | None:
    """Ignore ``conn``'s connection and channel errors (for clean-up code only).

    ``ignore_errors(conn, fun, *args)`` calls ``fun`` and returns its
    result (None if it raised one of those errors);
    ``with ignore_errors(conn):`` ignores them in the block.  Any other
    error propagates.
    """
    if fun is None:
        return _ignoring(conn)
    try:
        return fun(*args, **kwargs)
    except conn.connection_errors + conn.channel_errors:
        return None


def _log_retry(exc: BaseException, interval: float) -> None:
    logger.error("Connection error: %r. Retry in %ss", exc, interval, exc_info=True)


def insured(
    pool: Any,
    fun: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    errback: Callable[[BaseException, float], object] | None = None,
    on_revive: Callable[[Channel], object] | None = None,
    **opts: Any,
) -> T:
    """Call ``fun(*args, connection=conn, channel=chan, **kwargs)``, retrying.

    Acquires a connection from ``pool`` (waiting for one), connects, and
    calls ``fun`` through ``conn.autoretry``: a lost connection is
    re-established and ``fun`` called again (``on_revive(channel)`` first),
    so ``fun`` may run more than once.  ``opts`` are the retry policy.
    """
    errback = errback or _log_retry
    with pool.acquire(block=True) as conn:
        conn.ensure_connection(errback=errback)
        call = conn.autoretry(
            fun, conn.default_channel, errback=errback, on_revive=on_revive, **opts
        )
        result: T
        result, _ = call(*args, **{**kwargs, "connection": conn})
        return result


class QoS:
    """A prefetch count changed from any thread, applied from one (kombu's).

    ``callback(prefetch_count=n)`` applies the value (``consumer.qos`` or
    ``channel.basic_qos``).  :meth:`increment_eventually` and
    :meth:`decrement_eventually` only change :attr:`value`; :meth:`update`
    applies it if it changed.  A value of 0 (unlimited) stays 0; a
    decrement never goes below 1; an increment never goes past
    ``max_prefetch``.  A value past :data:`PREFETCH_COUNT_MAX` is applied
    as 0 (no limit), since AMQP cannot carry it.
    """

    prev: int | None = None

    def __init__(
        self,
        callback: Callable[..., object],
        initial_value: int | None,
        max_prefetch: int | None = None,
    ) -> None:
        self.callback = callback
        self._mutex = threading.RLock()
        self.value = initial_value or 0
        self.max_prefetch = max_prefetch

    def increment_eventually(self, n: int = 1) -> int:
        """Add ``n`` (at least 0) to the value, unless it is 0; do not apply it."""
        with self._mutex:
            if self.value:
                value = self.value + max(n, 0)
                if self.max_prefetch is not None:
                    value = min(value, self.max_prefetch)
                self.value = value
            return self.value

    def decrement_eventually(self, n: int = 1) -> int:
        """Take ``n`` from the value (not below 1), unless it is 0; do not apply it."""
        with self._mutex:
            if self.value:
                self.value = max(self.value - n, 1)
            return self.value

    def set(self, pcount: int) -> int:
        """Apply ``pcount`` through the callback, if it is not the last applied."""
        if pcount != self.prev:
            value = pcount
            if pcount > PREFETCH_COUNT_MAX:
                logger.warning(
                    "QoS: Disabled: prefetch_count exceeds %r", PREFETCH_COUNT_MAX
                )
                value = 0
            logger.debug("basic.qos: prefetch_count->%s", value)
            self.callback(prefetch_count=value)
            self.prev = pcount
        return pcount

    def update(self) -> int:
        """Apply the current value if it changed since last applied."""
        with self._mutex:
            return self.set(self.value)
