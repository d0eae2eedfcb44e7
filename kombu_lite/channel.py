"""Channel: one AMQP channel of a :class:`~kombu_lite.Connection`.

What ``Connection.channel()`` and ``Connection.default_channel`` hand out,
and the core's only door to a transport: entities, producers, consumers and
messages call the AMQP operations below, never the transport's channel
itself.  What they reach through ``channel.connection`` is typed by
:class:`ChannelOwner`, and the connection's :class:`DeclareCache` (which
entities were declared on it) lives here too, so nothing below the
connection imports it.  Each operation blocks until the broker answered (except acks,
rejects and publishes, which the broker does not answer) and raises what the
transport contract says (:mod:`kombu_lite.transport.base`): the
:class:`~kombu_lite.exceptions.ChannelError` subclass for the broker's reply
code (the channel is then closed), or
:class:`~kombu_lite.exceptions.OperationalError` when the connection failed.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeGuard, TypeVar

from kombu_lite.ack_batch import FLUSH_AFTER, AckBatch
from kombu_lite.channel_amqp import AmqpChannel
from kombu_lite.exceptions import ChannelClosed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from collections.abc import Set as AbstractSet
    from types import TracebackType
    from typing import Self

    from kombu_lite.transport.base import (
        BasicProperties,
        WireChannel,
        WireConnection,
    )

__all__ = [
    "Channel",
    "ChannelOwner",
    "Declarable",
    "DeclareCache",
    "HandedOut",
    "check_not_retired",
    "is_channel_owner",
]

T = TypeVar("T")
C = TypeVar("C", bound="Channel")


class Declarable(Protocol):
    """An entity the declare cache can track (an Exchange or a Queue)."""

    @property
    def name(self) -> str:
        """The entity's name."""

    @property
    def declare_key(self) -> Hashable:
        """Every declared setting: equal keys declare the same thing."""

    @property
    def can_cache_declaration(self) -> bool:
        """False for entities the broker may delete by itself."""

    def declare(self, *, channel: Channel) -> object:
        """Declare it on ``channel``."""


class DeclaredKeys(set[Hashable]):
    """A set that counts the removals from it (the declare cache's keys).

    A memo of "this key is in the set" stays true while :attr:`removals`
    is the count it read before it looked: the count goes up before each
    removal, whichever method makes it.  Additions are not counted.
    """

    __slots__ = ("removals",)

    def __init__(self) -> None:
        super().__init__()
        #: Calls that removed (or may have removed) keys, so far.
        self.removals = 0

    def discard(self, element: Hashable) -> None:
        self.removals += 1
        super().discard(element)

    def remove(self, element: Hashable) -> None:
        self.removals += 1
        super().remove(element)

    def pop(self) -> Hashable:
        self.removals += 1
        return super().pop()

    def clear(self) -> None:
        self.removals += 1
        super().clear()

    def difference_update(self, *s: Iterable[Any]) -> None:
        self.removals += 1
        super().difference_update(*s)

    def intersection_update(self, *s: Iterable[Any]) -> None:
        self.removals += 1
        super().intersection_update(*s)

    def symmetric_difference_update(self, s: Iterable[Hashable], /) -> None:
        self.removals += 1
        super().symmetric_difference_update(s)

    def __isub__(self, value: AbstractSet[object], /) -> Self:
        self.removals += 1
        return super().__isub__(value)

    def __iand__(self, value: AbstractSet[object], /) -> Self:
        self.removals += 1
        return super().__iand__(value)

    def __ixor__(self, value: AbstractSet[Hashable], /) -> Self:
        self.removals += 1
        return super().__ixor__(value)


class DeclareCache:
    """The entities declared on one connection, by :attr:`Declarable.declare_key`.

    Cleared by the connection on every (re)connect, since a broker restart
    loses transient entities.  Entities the broker may delete by itself
    (``can_cache_declaration`` False) are never remembered.
    """

    __slots__ = ("keys",)

    def __init__(self) -> None:
        #: The remembered keys (``Connection.declared_entities`` is this set).
        self.keys = DeclaredKeys()

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def ensure_declared(
        self,
        entity: Declarable,
        channel: Channel,
        declare: Callable[[], object] | None = None,
    ) -> bool:
        """Declare ``entity`` on ``channel`` unless it is remembered.

        ``declare`` replaces ``entity.declare(channel=channel)`` (a retrying
        declare, for example).  Returns True if a declare was sent; if it
        raised, the entity is not remembered.
        """
        key = entity.declare_key
        cacheable = entity.can_cache_declaration
        if cacheable and key in self.keys:
            return False
        if declare is None:
            entity.declare(channel=channel)
        else:
            declare()
        if cacheable:
            self.keys.add(key)
        return True

    def forget(self, entities: Iterable[Declarable]) -> None:
        """Declare ``entities`` again next time (the broker lost them)."""
        for entity in entities:
            self.keys.discard(entity.declare_key)

    def clear(self) -> None:
        """Forget every entity (the connection is new)."""
        self.keys.clear()


class _Revivable(Protocol):
    def revive(self, channel: Channel) -> None: ...


class ChannelOwner(Protocol):
    """What entities, producers and consumers reach through ``channel.connection``.

    :class:`~kombu_lite.Connection` is the one implementation; typing
    against this keeps the core below the connection.
    """

    @property
    def confirm_publish(self) -> bool:
        """Whether every publish waits for the broker's confirm."""

    @property
    def confirm_timeout(self) -> float | None:
        """How long a publish waits for its confirm by default."""

    @property
    def declare_cache(self) -> DeclareCache:
        """The entities declared on this connection."""

    @property
    def default_channel(self) -> Channel:
        """The connection's own channel, re-opened if it was closed."""

    def channel(self) -> Channel:
        """Open a new channel."""

    def drain_events(self, timeout: float | None = None) -> None:
        """Wait for one event and dispatch it."""

    def ensure(
        self,
        obj: _Revivable | None,
        fun: Callable[..., T],
        errback: Callable[[BaseException, float], object] | None = None,
        max_retries: int | None = None,
        interval_start: float = ...,
        interval_step: float = ...,
        interval_max: float = ...,
        on_revive: Callable[[Channel], object] | None = None,
        retry_errors: tuple[type[BaseException], ...] | None = None,
        timeout: float | None = None,
    ) -> Callable[..., T]:
        """Wrap ``fun`` to reconnect and call it again on a connection failure."""

    @property
    def connection(self) -> WireConnection:
        """The transport's connection (connecting first if needed)."""

    def as_uri(self, include_password: bool = False, mask: str = "**") -> str:
        """The URL, password masked."""


def is_channel_owner(obj: object) -> TypeGuard[ChannelOwner]:
    """True for a connection that hands out channels (a :class:`ChannelOwner`).

    Told by the object's type, not the object: reading ``default_channel``
    on a connection would connect it.
    """
    return hasattr(type(obj), "default_channel")


class Channel(AmqpChannel):
    """An open AMQP channel; use it as a context manager to close it.

    Its AMQP methods (``queue_declare``, ``basic_publish``...) take
    py-amqp's arguments and return what py-amqp returns: see
    :class:`~kombu_lite.channel_amqp.AmqpChannel`.

    Attributes:
        connection: The :class:`~kombu_lite.Connection` it belongs to
            (typed as :class:`ChannelOwner`).
        confirming: True once publisher confirms are on for this channel.
    """

    __slots__ = ("__weakref__", "_acks", "connection")

    def __init__(self, connection: ChannelOwner, wire: WireChannel) -> None:
        self.connection = connection
        self._wire = wire
        self.confirming = False
        #: The batched acks (``Consumer(ack_batch=N)``), or None.
        self._acks: AckBatch | None = None

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        return self._wire.channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel."""
        return self._wire.is_open

    @property
    def retired(self) -> bool:
        """True once its connection was closed by ``close()`` or ``release()``.

        Every AMQP method then raises
        :class:`~kombu_lite.exceptions.ChannelClosed` saying so, even after
        the connection reconnected: a channel never moves to a new
        connection.
        """
        return isinstance(self._wire, _RetiredWire)

    def _confirm_timeout(self) -> float | None:
        return self.connection.confirm_timeout

    def _prepare_publish(
        self,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> Callable[[bytes], int] | None:
        """``body -> delivery tag``: :meth:`_publish_encoded` of these
        properties and names, with their frames encoded once; None when
        the transport cannot prepare a publish.

        Valid for this channel only.  The guarantees and errors are
        :meth:`_publish_encoded`'s.

        Raises:
            EncodeError: a name or property does not fit its AMQP type.
        """
        prepare = getattr(self._wire, "prepare_publish", None)
        if prepare is None:
            return None
        prepared: Callable[[bytes], int] = prepare(
            properties, exchange, routing_key, mandatory
        )
        return prepared

    # -- batched acks (see kombu_lite.ack_batch) -----------------------------------

    def ack_batch(self, limit: int, *, delay: float = FLUSH_AFTER) -> AckBatch:
        """Batch the acks of deliveries tracked by the returned batch.

        The first call makes the batch (``delay``: the longest an ack is
        held, in seconds); a later one lowers its limit to the smallest
        asked for.  ``Consumer(ack_batch=N)`` calls this.

        Raises:
            ChannelClosed: the channel is closed.
        """
        acks = self._acks
        if acks is None:
            if not self.is_open:
                raise ChannelClosed(
                    f"channel {self.channel_id} is closed: acks cannot be "
                    f"batched on it; open a new channel"
                )
            hooks = self.connection.connection.idle_hooks
            acks = self._acks = AckBatch(self._wire, limit, hooks.add, delay)
        acks.limit = min(acks.limit, limit)
        return acks

    def flush_acks(self) -> None:
        """Send the batched acks now (nothing to do without batching).

        Raises:
            ChannelClosed, ConnectionLost: as :meth:`basic_ack`.
        """
        if self._acks is not None:
            self._acks.flush()

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``).

        With batching on (``Consumer(ack_batch=N)``) the ack of a batched
        delivery is recorded and sent later; see :mod:`kombu_lite.ack_batch`.
        """
        acks = self._acks
        if acks is None or not self._wire.is_open:
            self._wire.basic_ack(delivery_tag, multiple=multiple)
        else:
            acks.ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery (the batched acks are sent first)."""
        acks = self._acks
        if acks is None or not self._wire.is_open:
            self._wire.basic_reject(delivery_tag, requeue=requeue)
        else:
            acks.reject(delivery_tag, requeue)

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        a_global: bool = False,
        *,
        apply_global: bool | None = None,
    ) -> None:
        """Set the prefetch limits (the batched acks are sent first)."""
        self.flush_acks()
        super().basic_qos(
            prefetch_size, prefetch_count, a_global, apply_global=apply_global
        )

    def basic_recover(self, requeue: bool = False) -> None:
        """Redeliver the unacknowledged messages (the batched acks sent first)."""
        self.flush_acks()
        super().basic_recover(requeue)
        if self._acks is not None:
            self._acks.recovered()

    # -- closing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the channel; closing twice is harmless.

        Batched acks still pending are sent first.
        """
        acks, self._acks = self._acks, None
        if acks is not None:
            acks.close()
        self._wire.close()

    release = close

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Channel {self.channel_id} ({state}) of {self.connection.as_uri()}>"


class _RetiredWire:
    """A retired channel's transport side: every operation raises ChannelClosed."""

    __slots__ = ("channel_id",)

    is_open = False

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def close(self) -> None:
        """Nothing to close: the connection closed the channel."""

    def __getattr__(self, name: str) -> NoReturn:
        raise ChannelClosed(
            f"channel {self.channel_id} was closed with its connection "
            f"(Connection.close() or release()); open a new channel"
        )


class HandedOut:
    """The channels a connection handed out, to retire when it is closed.

    Held weakly: a channel nobody holds leaves by itself.
    """

    __slots__ = ("_channels",)

    def __init__(self) -> None:
        self._channels: weakref.WeakSet[Channel] = weakref.WeakSet()

    def add(self, channel: C) -> C:
        """Remember ``channel``; return it."""
        self._channels.add(channel)
        return channel

    def close_ack_batches(self) -> None:
        """Send every channel's batched acks and stop batching (the
        connection is about to close); errors are dropped (the broker
        requeues what was not acked)."""
        for channel in list(self._channels):
            acks, channel._acks = channel._acks, None
            if acks is not None:
                acks.close()

    def retire(self) -> None:
        """Retire every channel handed out (the connection was just closed)."""
        for channel in list(self._channels):
            channel._wire = _RetiredWire(channel.channel_id)
        self._channels.clear()


def check_not_retired(channel: Channel | None, user: str) -> None:
    """Raise if ``user``'s ``channel`` was retired with its connection.

    Raises:
        ChannelClosed: naming ``user`` (such as ``'Producer'``), which must
            not reopen a connection the application closed.
    """
    if channel is not None and channel.retired:
        raise ChannelClosed(
            f"this {user}'s connection was closed (Connection.close() or "
            f"release()) after it was made; make a new {user} (or call "
            f"revive(connection)) to use the connection again"
        )
