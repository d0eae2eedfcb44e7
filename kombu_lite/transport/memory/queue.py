"""Queues of the memory broker: ready messages, limits, consumers, dispatch.

A :class:`MemoryQueue` behaves like a RabbitMQ classic queue:

* FIFO; with ``x-max-priority`` higher priorities first (a priority above the
  maximum counts as the maximum, no priority as 0), FIFO within a priority.
* A requeued message goes back to its original position (RabbitMQ keeps the
  publish order on requeue) with ``redelivered`` set.
* ``x-message-ttl`` and a message's ``expiration`` (the smaller wins) are
  enforced when the message reaches the head of the queue, as RabbitMQ does
  for classic queues; a message that can go straight to a consumer is never
  expired, so a TTL of 0 means "deliver now or drop".
* ``x-max-length`` and ``x-max-length-bytes`` count ready messages only; with
  ``x-overflow`` ``drop-head`` (the default) the oldest ready messages are
  dropped, with ``reject-publish``/``reject-publish-dlx`` the new one is.
* Consumers are served round-robin, each within its prefetch limit; the
  broker pushes deliveries eagerly, so a message handed to a consumer is no
  longer counted as ready, exactly as on RabbitMQ.

Dead-lettering is not emulated: messages that RabbitMQ would dead-letter are
dropped.  All methods run with the broker lock held.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from kombu_lite.transport._rabbitmq import MAX_TTL_MS
from kombu_lite.transport.memory.replies import (
    PRECONDITION_FAILED,
    amqp_type_name,
    channel_error,
    describe_value,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.memory.binding import Binding, BindingKey

__all__ = [
    "EQUIVALENCE_ARGUMENTS",
    "Consumer",
    "ConsumerOwner",
    "Counters",
    "MemoryQueue",
    "QueueLimits",
    "QueuedMessage",
    "queue_limits",
]

#: Queue arguments RabbitMQ compares when a queue is declared again; any other
#: argument may differ between declarations.
EQUIVALENCE_ARGUMENTS: tuple[str, ...] = (
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-single-active-consumer",
    "x-queue-type",
    "x-delivery-limit",
    "x-queue-master-locator",
    "x-queue-leader-locator",
)

_OVERFLOW_MODES = frozenset({"drop-head", "reject-publish", "reject-publish-dlx"})
_QUEUE_TYPES = frozenset({"classic", "quorum"})


class Counters:
    """Running totals of one broker, reported by ``Broker.statistics()``."""

    __slots__ = (
        "acknowledged",
        "delivered",
        "dropped",
        "expired",
        "published",
        "redelivered",
        "returned",
        "unroutable",
    )

    def __init__(self) -> None:
        self.published = 0
        self.unroutable = 0
        self.returned = 0
        self.delivered = 0
        self.redelivered = 0
        self.acknowledged = 0
        self.expired = 0
        self.dropped = 0


class QueuedMessage:
    """One message in one queue (a fanout gives each queue its own)."""

    __slots__ = (
        "body",
        "exchange",
        "expires_at",
        "priority",
        "properties",
        "redelivered",
        "routing_key",
        "seq",
    )

    def __init__(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
    ) -> None:
        self.body = body
        self.properties = properties
        self.exchange = exchange
        self.routing_key = routing_key
        #: Monotonic time of expiry, set when the message enters a queue.
        self.expires_at: float | None = None
        self.redelivered = False
        self.priority = 0
        self.seq = 0


class ConsumerOwner(Protocol):
    """What a queue needs from the channel that owns a consumer."""

    def can_deliver(self, consumer: Consumer) -> bool:
        """Return whether the consumer's prefetch limits allow one more delivery."""
        ...

    def deliver(
        self, consumer: Consumer, queue: MemoryQueue, message: QueuedMessage
    ) -> None:
        """Hand ``message`` to ``consumer`` (queued on its connection)."""
        ...

    def cancelled_by_broker(self, consumer: Consumer) -> None:
        """Forget ``consumer`` and tell the client (its queue was deleted)."""
        ...


class Consumer:
    """A ``basic.consume`` subscription of one channel to one queue."""

    __slots__ = (
        "callback",
        "exclusive",
        "no_ack",
        "on_cancel",
        "owner",
        "prefetch",
        "queue",
        "tag",
        "unacked",
    )

    def __init__(
        self,
        tag: str,
        queue: MemoryQueue,
        owner: ConsumerOwner,
        callback: Callable[..., None],
        *,
        no_ack: bool,
        exclusive: bool,
        prefetch: int,
        on_cancel: Callable[[str], None] | None,
    ) -> None:
        self.tag = tag
        self.queue = queue
        self.owner = owner
        self.callback = callback
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.prefetch = prefetch
        self.on_cancel = on_cancel
        self.unacked = 0


class QueueLimits:
    """The queue arguments the memory broker enforces, validated."""

    __slots__ = (
        "max_length",
        "max_length_bytes",
        "max_priority",
        "message_ttl",
        "reject_new",
    )

    def __init__(self) -> None:
        self.message_ttl: int | None = None
        self.max_length: int | None = None
        self.max_length_bytes: int | None = None
        self.max_priority: int | None = None
        self.reject_new = False


def queue_limits(
    queue: str, vhost: str, arguments: Mapping[str, object]
) -> QueueLimits:
    """Validate queue ``arguments`` the way RabbitMQ does and return the limits.

    Raises:
        PreconditionFailed: an argument has the wrong type or value (406).
    """
    limits = QueueLimits()

    def invalid(name: str, reason: str) -> Exception:
        return channel_error(
            PRECONDITION_FAILED,
            f"invalid arg '{name}' for queue '{queue}' in vhost '{vhost}': {reason}",
            "queue.declare",
        )

    def integer(
        name: str, minimum: int, maximum: int | None = None, *, ttl: bool = False
    ) -> int | None:
        if name not in arguments:
            return None
        value = arguments[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid(name, f'"expected integer, got {amqp_type_name(value)}"')
        if value < minimum:
            raise invalid(
                name, f"{{value_{'zero' if value == 0 else 'negative'},{value}}}"
            )
        if maximum is not None and value > maximum:
            raise invalid(name, f"{{max_value_exceeded,{value}}}")
        if ttl and value > MAX_TTL_MS:
            raise invalid(name, f"{{value_too_large,{value}}}")
        return value

    integer("x-expires", 1, ttl=True)  # validated like RabbitMQ, otherwise ignored
    limits.message_ttl = integer("x-message-ttl", 0, ttl=True)
    limits.max_length = integer("x-max-length", 0)
    limits.max_length_bytes = integer("x-max-length-bytes", 0)
    limits.max_priority = integer("x-max-priority", 0, 255)
    overflow = arguments.get("x-overflow", "drop-head")
    if overflow not in _OVERFLOW_MODES:
        raise invalid("x-overflow", "invalid_overflow")
    limits.reject_new = overflow != "drop-head"
    for name in ("x-dead-letter-exchange", "x-dead-letter-routing-key"):
        if name in arguments and not isinstance(arguments[name], str | bytes):
            raise channel_error(
                PRECONDITION_FAILED,
                f"invalid type '{amqp_type_name(arguments[name])}' for arg '{name}' "
                f"in queue '{queue}' in vhost '{vhost}'",
                "queue.declare",
            )
    queue_type = arguments.get("x-queue-type", "classic")
    if queue_type not in _QUEUE_TYPES:
        raise invalid(
            "x-queue-type",
            f"{describe_value(queue_type)!r} is not supported by the memory broker "
            "(use 'classic'; 'quorum' is accepted and behaves as classic)",
        )
    return limits


class MemoryQueue:
    """A queue: its ready messages, its consumers and its declare settings."""

    def __init__(
        self,
        name: str,
        vhost: str,
        *,
        durable: bool,
        auto_delete: bool,
        owner: object | None,
        arguments: Mapping[str, object],
        limits: QueueLimits,
        clock: Callable[[], float],
        counters: Counters,
    ) -> None:
        self.name = name
        self.vhost = vhost
        self.durable = durable
        self.auto_delete = auto_delete
        #: The connection of an exclusive queue, None for a shared one.
        self.owner = owner
        self.arguments = dict(arguments)
        self.limits = limits
        self.consumers: dict[Consumer, None] = {}  # insertion order = round-robin
        #: Bindings towards this queue, kept so deleting it can remove them.
        # From exchanges; typed loosely so that queues need not know them.
        self.incoming: dict[BindingKey, Binding[Any, Any]] = {}
        self.had_consumer = False
        self.deleted = False
        self.unacked = 0
        self._clock = clock
        self._counters = counters
        self._levels: list[deque[QueuedMessage]] = [
            deque() for _ in range((limits.max_priority or 0) + 1)
        ]
        self._ready = 0
        self._bytes = 0
        self._seq = 0

    # -- reading -------------------------------------------------------------

    def ready_count(self) -> int:
        """Return the number of ready messages (expired ones at the head dropped)."""
        self._expire_head()
        return self._ready

    def messages(self) -> Iterator[QueuedMessage]:
        """Iterate over the ready messages in delivery order."""
        self._expire_head()
        for level in reversed(self._levels):
            yield from level

    def publish(self, message: QueuedMessage, ttl_ms: int | None) -> bool:
        """Accept a newly routed message: straight to a consumer, or enqueue.

        ``ttl_ms`` is the message's own ``expiration``; the queue's
        ``x-message-ttl`` applies instead when it is shorter.  Returns False
        when ``x-overflow: reject-publish`` refused the message (a confirm
        then becomes a nack).
        """
        queue_ttl = self.limits.message_ttl
        if queue_ttl is not None and (ttl_ms is None or queue_ttl < ttl_ms):
            ttl_ms = queue_ttl
        if ttl_ms is not None:
            message.expires_at = self._clock() + ttl_ms / 1000.0
        self._seq += 1
        message.seq = self._seq
        max_priority = self.limits.max_priority
        if max_priority is not None:
            message.priority = min(message.properties.priority or 0, max_priority)
        if not self._ready and self.consumers:
            consumer = self._next_consumer()
            if consumer is not None:
                consumer.owner.deliver(consumer, self, message)
                return True
        limits = self.limits
        if limits.reject_new and self._would_overflow(len(message.body)):
            self._counters.dropped += 1
            return False
        self._levels[message.priority].append(message)
        self._ready += 1
        self._bytes += len(message.body)
        if limits.max_length is not None or limits.max_length_bytes is not None:
            self._drop_overflow()
        return True

    def get(self) -> QueuedMessage | None:
        """Remove and return the head message (``basic.get``), or None."""
        self._expire_head()
        return self._pop() if self._ready else None

    def requeue(self, message: QueuedMessage, *, redelivered: bool = True) -> None:
        """Put a delivered message back at its original position.

        ``redelivered=False`` takes back a delivery the client never saw.
        """
        if self.deleted:
            return
        message.redelivered = message.redelivered or redelivered
        level = self._levels[message.priority]
        if not level or message.seq < level[0].seq:
            level.appendleft(message)
        else:
            level.insert(bisect_left(level, message.seq, key=_seq_of), message)
        self._ready += 1
        self._bytes += len(message.body)

    def purge(self) -> int:
        """Drop every ready message; return how many there were."""
        count = self._ready
        for level in self._levels:
            level.clear()
        self._ready = self._bytes = 0
        return count

    def keep_persistent(self) -> None:
        """Drop every ready message but the persistent ones (a broker restart).

        RabbitMQ writes only ``delivery_mode`` 2 messages of a durable queue
        to disk, so only those come back.
        """
        kept = 0
        size = 0
        for index, level in enumerate(self._levels):
            survivors = deque(m for m in level if m.properties.delivery_mode == 2)
            self._levels[index] = survivors
            kept += len(survivors)
            size += sum(len(message.body) for message in survivors)
        self._ready = kept
        self._bytes = size

    def dispatch(self) -> None:
        """Push ready messages to consumers while their prefetch limits allow."""
        while self._ready and self.consumers:
            consumer = self._next_consumer()
            if consumer is None:
                return
            self._expire_head()
            if not self._ready:
                return
            consumer.owner.deliver(consumer, self, self._pop())

    # -- internals -----------------------------------------------------------

    def _next_consumer(self) -> Consumer | None:
        # Round-robin: the chosen consumer moves to the back of the line.
        for consumer in self.consumers:
            if consumer.owner.can_deliver(consumer):
                del self.consumers[consumer]
                self.consumers[consumer] = None
                return consumer
        return None

    def _head_level(self) -> deque[QueuedMessage]:
        levels = self._levels
        for index in range(len(levels) - 1, 0, -1):
            if levels[index]:
                return levels[index]
        return levels[0]

    def _pop(self) -> QueuedMessage:
        message = self._head_level().popleft()
        self._ready -= 1
        self._bytes -= len(message.body)
        return message

    def _expire_head(self) -> None:
        if not self._ready:
            return
        now: float | None = None
        while self._ready:
            head = self._head_level()[0]
            if head.expires_at is None:
                return
            if now is None:
                now = self._clock()
            if head.expires_at > now:
                return
            self._pop()
            self._counters.expired += 1

    def _would_overflow(self, size: int) -> bool:
        limits = self.limits
        return (
            limits.max_length is not None and self._ready + 1 > limits.max_length
        ) or (
            limits.max_length_bytes is not None
            and self._bytes + size > limits.max_length_bytes
        )

    def _drop_overflow(self) -> None:
        max_length = self.limits.max_length
        max_bytes = self.limits.max_length_bytes
        while self._ready and (
            (max_length is not None and self._ready > max_length)
            or (max_bytes is not None and self._bytes > max_bytes)
        ):
            self._pop()
            self._counters.dropped += 1


def _seq_of(message: QueuedMessage) -> int:
    return message.seq
