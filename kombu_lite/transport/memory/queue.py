"""Queues of the memory broker: ready messages, limits, consumers, dispatch.

A :class:`MemoryQueue` behaves like a RabbitMQ 3.10 classic queue, or a
quorum queue (``x-queue-type: quorum``):

* FIFO; with ``x-max-priority`` higher priorities first (a priority above the
  maximum counts as the maximum, no priority as 0), FIFO within a priority.
* A requeued message goes back to its original position (RabbitMQ keeps the
  publish order on requeue) with ``redelivered`` set.  In a quorum queue each
  requeue counts as a delivery attempt (``x-delivery-count`` on the next
  delivery); beyond ``x-delivery-limit`` the message is dead-lettered with
  reason ``delivery_limit`` instead.
* ``x-message-ttl`` and a message's ``expiration`` (the smaller wins) are
  enforced when the message reaches the head of the queue, as RabbitMQ does:
  a timer expires the head on time, consumer or not.  A message that can go
  straight to a consumer is never expired, so a TTL of 0 means "deliver now
  or drop".
* ``x-max-length`` and ``x-max-length-bytes`` count ready messages only; with
  ``x-overflow`` ``drop-head`` (the default) the oldest ready messages are
  dropped, with ``reject-publish``/``reject-publish-dlx`` the new one is.
* Messages given up on (rejected without requeue, expired, dropped by
  ``drop-head`` or ``reject-publish-dlx``, over the delivery limit) go to
  the queue's dead-letter sink (:mod:`.deadletter`).
* Consumers are served round-robin, each within its prefetch limit, the
  highest ``x-priority`` first (a lower one gets messages only while all
  higher ones are at their limit); with ``x-single-active-consumer`` only
  the earliest consumer still subscribed receives.  The broker pushes
  deliveries eagerly, so a message handed to a consumer is no longer counted
  as ready, exactly as on RabbitMQ.

All methods run with the broker lock held.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.memory.arguments import QueueLimits
    from kombu_lite.transport.memory.binding import Binding, BindingKey

__all__ = [
    "Consumer",
    "ConsumerOwner",
    "Counters",
    "DeadLetterSink",
    "MemoryQueue",
    "QueuedMessage",
    "Schedule",
]

#: Gives up on a message: ``sink(queue, message, reason)`` dead-letters it.
DeadLetterSink: TypeAlias = "Callable[[MemoryQueue, QueuedMessage, str], None]"
#: ``schedule(when, action)``: run ``action`` at monotonic time ``when``.
Schedule: TypeAlias = "Callable[[float, Callable[[], None]], None]"


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
    """One message in one queue (a fanout gives each queue its own).

    Eight slots, 96 bytes on 64-bit CPython: a burst of a million ready
    messages costs this, its sequence number and the body.  Its priority
    level is worked out from its properties when needed
    (:meth:`MemoryQueue.level_of`), not stored.
    """

    __slots__ = (
        "body",
        "delivery_count",
        "exchange",
        "expires_at",
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
        self.seq = 0
        #: Requeues so far (a quorum queue's ``x-delivery-count``).
        self.delivery_count = 0


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
        "priority",
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
        priority: int = 0,
    ) -> None:
        self.tag = tag
        self.queue = queue
        self.owner = owner
        self.callback = callback
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.prefetch = prefetch
        self.on_cancel = on_cancel
        #: The ``x-priority`` consumer argument.
        self.priority = priority
        self.unacked = 0


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
        dead_letter: DeadLetterSink | None = None,
        schedule: Schedule | None = None,
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
        #: Monotonic time ``x-expires`` deletes the queue if still unused.
        self.expires_at: float | None = None
        #: Whether a consumer has an ``x-priority`` (the slower selection).
        self.prioritised = False
        self._clock = clock
        self._counters = counters
        self._dead_letter = dead_letter
        self._schedule = schedule
        self._armed_at: float | None = None
        self._levels: list[deque[QueuedMessage]] = [
            deque() for _ in range((limits.max_priority or 0) + 1)
        ]
        #: The one level of a queue without ``x-max-priority``.
        self._fifo = self._levels[0]
        #: No TTL, priority, length limit or overflow rule: publish() may
        #: take its short path for messages without an ``expiration``.
        self._plain = (
            limits.message_ttl is None
            and limits.max_priority is None
            and limits.max_length is None
            and limits.max_length_bytes is None
            and not limits.reject_new
        )
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

    def level_of(self, message: QueuedMessage) -> int:
        """The priority level ``message`` waits at (0 without ``x-max-priority``).

        A priority above the maximum counts as the maximum, none as 0.
        """
        max_priority = self.limits.max_priority
        if max_priority is None:
            return 0
        return min(message.properties.priority or 0, max_priority)

    def publish(self, message: QueuedMessage, ttl_ms: int | None) -> bool:
        """Accept a newly routed message: straight to a consumer, or enqueue.

        ``ttl_ms`` is the message's own ``expiration``; the queue's
        ``x-message-ttl`` applies instead when it is shorter.  Returns False
        when ``x-overflow: reject-publish`` refused the message (a confirm
        then becomes a nack; ``reject-publish-dlx`` dead-letters it too).
        """
        if ttl_ms is None and self._plain:
            # The short path: nothing can expire, overflow or jump the line.
            self._seq = message.seq = self._seq + 1
            consumers = self.consumers
            if consumers and not self._ready:
                if len(consumers) == 1:
                    only = next(iter(consumers))
                    if only.no_ack or only.owner.can_deliver(only):
                        only.owner.deliver(only, self, message)
                        return True
                else:
                    chosen = self._next_consumer()
                    if chosen is not None:
                        chosen.owner.deliver(chosen, self, message)
                        return True
            self._fifo.append(message)
            self._ready += 1
            self._bytes += len(message.body)
            self._arm()  # an older head may carry an expiration
            return True
        queue_ttl = self.limits.message_ttl
        if queue_ttl is not None and (ttl_ms is None or queue_ttl < ttl_ms):
            ttl_ms = queue_ttl
        if ttl_ms is not None:
            message.expires_at = self._clock() + ttl_ms / 1000.0
        self._seq = message.seq = self._seq + 1
        if not self._ready and self.consumers:
            consumer = self._next_consumer()
            if consumer is not None:
                consumer.owner.deliver(consumer, self, message)
                return True
        limits = self.limits
        if limits.reject_new and self._would_overflow(len(message.body)):
            self._counters.dropped += 1
            if limits.overflow == "reject-publish-dlx":
                self._give_up(message, "maxlen")
            return False
        self._levels[self.level_of(message)].append(message)
        self._ready += 1
        self._bytes += len(message.body)
        if limits.max_length is not None or limits.max_length_bytes is not None:
            self._drop_overflow()
        self._arm()
        return True

    def get(self) -> QueuedMessage | None:
        """Remove and return the head message (``basic.get``), or None."""
        self._expire_head()
        if not self._ready:
            return None
        message = self._pop()
        self._arm()
        return message

    def requeue(self, message: QueuedMessage, *, redelivered: bool = True) -> None:
        """Put a delivered message back at its original position.

        ``redelivered=False`` takes back a delivery the client never saw.  A
        quorum queue counts the attempt and dead-letters the message once
        it is over ``x-delivery-limit``.
        """
        if self.deleted:
            return
        if redelivered and self.limits.quorum:
            message.delivery_count += 1
            limit = self.limits.delivery_limit
            if limit is not None and message.delivery_count > limit:
                self._counters.dropped += 1
                self._give_up(message, "delivery_limit")
                return
        message.redelivered = message.redelivered or redelivered
        level = self._levels[self.level_of(message)]
        if not level or message.seq < level[0].seq:
            level.appendleft(message)
        else:
            level.insert(bisect_left(level, message.seq, key=_seq_of), message)
        self._ready += 1
        self._bytes += len(message.body)
        self._arm()

    def reject(self, message: QueuedMessage) -> None:
        """A delivery was rejected without requeue: dead-letter it (or drop it)."""
        self._counters.dropped += 1
        self._give_up(message, "rejected")

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
        self._fifo = self._levels[0]
        self._ready = kept
        self._bytes = size
        self._armed_at = None
        self._arm()

    def dispatch(self) -> None:
        """Push ready messages to consumers while their prefetch limits allow."""
        while self._ready and self.consumers:
            consumer = self._next_consumer()
            if consumer is None:
                break
            self._expire_head()
            if not self._ready:
                break
            consumer.owner.deliver(consumer, self, self._pop())
        self._arm()

    # -- internals -----------------------------------------------------------

    def _next_consumer(self) -> Consumer | None:
        if self.limits.single_active_consumer:
            # The earliest consumer still subscribed is the active one.
            active = next(iter(self.consumers))
            return active if active.owner.can_deliver(active) else None
        chosen: Consumer | None = None
        if self.prioritised:
            for consumer in self.consumers:
                if (
                    chosen is None or consumer.priority > chosen.priority
                ) and consumer.owner.can_deliver(consumer):
                    chosen = consumer
        else:
            for consumer in self.consumers:
                if consumer.owner.can_deliver(consumer):
                    chosen = consumer
                    break
        if chosen is not None:
            # Round-robin: the chosen consumer moves to the back of the line.
            del self.consumers[chosen]
            self.consumers[chosen] = None
        return chosen

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

    def _give_up(self, message: QueuedMessage, reason: str) -> None:
        if self._dead_letter is not None:
            self._dead_letter(self, message, reason)

    def _expire_head(self) -> None:
        if not self._ready:
            return
        now: float | None = None
        while self._ready:
            head = self._head_level()[0]
            if head.expires_at is None:
                break
            if now is None:
                now = self._clock()
            if head.expires_at > now:
                break
            self._pop()
            self._counters.expired += 1
            self._give_up(head, "expired")
        if now is not None:
            self._arm()

    def _arm(self) -> None:
        # Keep a timer for the head message's expiry, so it goes on time.
        if not self._ready or self._schedule is None:
            return
        when = self._head_level()[0].expires_at
        if when is None or (self._armed_at is not None and self._armed_at <= when):
            return
        self._armed_at = when
        self._schedule(when, self._on_timer)

    def _on_timer(self) -> None:
        self._armed_at = None
        if self.deleted:
            return
        self._expire_head()
        self._arm()

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
            self._counters.dropped += 1
            self._give_up(self._pop(), "maxlen")


def _seq_of(message: QueuedMessage) -> int:
    return message.seq
