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

from typing import TYPE_CHECKING, Protocol, TypeGuard, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
    from types import TracebackType
    from typing import Self

    from kombu_lite.transport.base import (
        BasicProperties,
        Delivery,
        QueueDeclareOk,
        ReturnedMessage,
        WireChannel,
    )

__all__ = [
    "Channel",
    "ChannelOwner",
    "Declarable",
    "DeclareCache",
    "is_channel_owner",
]

T = TypeVar("T")


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


class DeclareCache:
    """The entities declared on one connection, by :attr:`Declarable.declare_key`.

    Cleared by the connection on every (re)connect, since a broker restart
    loses transient entities.  Entities the broker may delete by itself
    (``can_cache_declaration`` False) are never remembered.
    """

    __slots__ = ("keys",)

    def __init__(self) -> None:
        #: The remembered keys (``Connection.declared_entities`` is this set).
        self.keys: set[Hashable] = set()

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

    def as_uri(self, include_password: bool = False, mask: str = "**") -> str:
        """The URL, password masked."""


def is_channel_owner(obj: object) -> TypeGuard[ChannelOwner]:
    """True for a connection that hands out channels (a :class:`ChannelOwner`).

    Told by the object's type, not the object: reading ``default_channel``
    on a connection would connect it.
    """
    return hasattr(type(obj), "default_channel")


class Channel:
    """An open AMQP channel; use it as a context manager to close it.

    Attributes:
        connection: The :class:`~kombu_lite.Connection` it belongs to
            (typed as :class:`ChannelOwner`).
        confirming: True once publisher confirms are on for this channel.
    """

    __slots__ = ("__weakref__", "_wire", "confirming", "connection")

    def __init__(self, connection: ChannelOwner, wire: WireChannel) -> None:
        self.connection = connection
        self._wire = wire
        self.confirming = False

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        return self._wire.channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel."""
        return self._wire.is_open

    # -- exchanges and queues ----------------------------------------------------

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: str,
        *,
        passive: bool = False,
        durable: bool = True,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Declare an exchange (``passive`` only checks that it exists)."""
        self._wire.exchange_declare(
            exchange,
            exchange_type,
            passive=passive,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=arguments,
        )

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange; deleting a missing one is not an error."""
        self._wire.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        self._wire.exchange_bind(destination, source, routing_key, arguments)

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        self._wire.exchange_unbind(destination, source, routing_key, arguments)

    def queue_declare(
        self,
        queue: str,
        *,
        passive: bool = False,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> QueueDeclareOk:
        """Declare a queue; return ``(queue, message_count, consumer_count)``."""
        return self._wire.queue_declare(
            queue,
            passive=passive,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
        )

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue to an exchange."""
        self._wire.queue_bind(queue, exchange, routing_key, arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        self._wire.queue_unbind(queue, exchange, routing_key, arguments)

    def queue_purge(self, queue: str) -> int:
        """Drop the ready messages of a queue; return how many."""
        return self._wire.queue_purge(queue)

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue; return how many messages it held."""
        return self._wire.queue_delete(queue, if_unused=if_unused, if_empty=if_empty)

    # -- publishing --------------------------------------------------------------

    def enable_confirms(self) -> None:
        """Turn on publisher confirms (once; later calls do nothing)."""
        if not self.confirming:
            self._wire.confirm_select()
            self.confirming = True

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> int:
        """Send one message; return its delivery tag (0 without confirms).

        When this returns the frames were handed to the connection; without
        confirms that says nothing about the broker.
        """
        return self._wire.basic_publish(
            body, properties, exchange, routing_key, mandatory=mandatory
        )

    def basic_publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> list[int]:
        """Send several messages at once; return their tags, in order."""
        return self._wire.basic_publish_batch(
            messages, exchange, routing_key, mandatory=mandatory
        )

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """Wait for the broker's confirm of ``delivery_tag``.

        Returns the ``basic.return`` of a ``mandatory`` message no queue
        took, else None.  Raises ``MessageNacked``, ``ConfirmTimeout`` or
        ``ConnectionLost`` as :meth:`.base.WireChannel.wait_for_confirm`.
        """
        return self._wire.wait_for_confirm(delivery_tag, timeout)

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Call ``handler`` for each ``basic.return`` on this channel."""
        self._wire.set_return_handler(handler)

    # -- consuming ---------------------------------------------------------------

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message from a queue, or None when it is empty."""
        return self._wire.basic_get(queue, no_ack=no_ack)

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``)."""
        self._wire.basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery; ``requeue`` puts it back in its queue."""
        self._wire.basic_reject(delivery_tag, requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver every unacknowledged message of this channel."""
        self._wire.basic_recover(requeue=requeue)

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Limit how many unacknowledged deliveries the broker sends."""
        self._wire.basic_qos(
            prefetch_size=prefetch_size,
            prefetch_count=prefetch_count,
            apply_global=apply_global,
        )

    def basic_consume(
        self,
        queue: str,
        callback: Callable[[Delivery], None],
        *,
        consumer_tag: str = "",
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, object] | None = None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> str:
        """Start a consumer; ``callback`` runs inside ``drain_events``."""
        return self._wire.basic_consume(
            queue,
            callback,
            consumer_tag=consumer_tag,
            no_ack=no_ack,
            exclusive=exclusive,
            arguments=arguments,
            on_cancel=on_cancel,
        )

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; unknown tags are ignored."""
        self._wire.basic_cancel(consumer_tag)

    # -- closing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the channel; closing twice is harmless."""
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
