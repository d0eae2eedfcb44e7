"""The receiving side of one memory channel: gets, consumers, acks and prefetch.

Delivery tags count from 1 per channel; unacked messages go back to their
queue, marked redelivered, when the channel closes.  Cancelling a consumer
takes back its undelivered messages (unchanged, in their place), so no
callback runs after ``basic_cancel`` returns.  Every method runs with the
broker lock held (inside the channel's operation).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from kombu_lite.transport.base import Delivery
from kombu_lite.transport.delivery import new_delivery
from kombu_lite.transport.memory.arguments import consumer_priority
from kombu_lite.transport.memory.delivery import (
    ConsumerCancelled,
    Outstanding,
    Unacked,
    delivery_properties,
)
from kombu_lite.transport.memory.queue import Consumer, MemoryQueue, QueuedMessage
from kombu_lite.transport.memory.replies import (
    NOT_ALLOWED,
    NOT_IMPLEMENTED,
    connection_error,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kombu_lite.transport.memory.contract import (
        Action,
        ChannelConnection,
        InboxOwner,
    )
    from kombu_lite.transport.memory.queue import Counters
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["ChannelConsumers"]


class ChannelConsumers:
    """The consumers and unacknowledged deliveries of one channel.

    The owner of its consumers, as queues see them (a
    :class:`~.queue.ConsumerOwner`).  Inbox entries are the channel's.
    """

    def __init__(
        self, channel: InboxOwner, connection: ChannelConnection, counters: Counters
    ) -> None:
        self._channel = channel
        self._conn = connection
        self._counters = counters
        self.outstanding = Outstanding()
        self.consumers: dict[str, Consumer] = {}

    # -- the AMQP methods --------------------------------------------------------------

    def get(self, found: MemoryQueue, no_ack: bool) -> Delivery | None:
        """``basic.get`` from ``found``."""
        message = found.get()
        if message is None:
            return None
        outstanding = self.outstanding
        tag = outstanding.next_tag()
        if not no_ack:
            outstanding.add(tag, found, message, None)
        self._count_delivery(message)
        return Delivery(
            body=message.body,
            properties=delivery_properties(message, found.limits.quorum, always=True),
            delivery_tag=tag,
            exchange=message.exchange,
            routing_key=message.routing_key,
            redelivered=message.redelivered,
            message_count=found.ready_count(),
        )

    def ack(self, delivery_tag: int, multiple: bool) -> None:
        """``basic.ack`` (PreconditionFailed for an unknown tag)."""
        records = self.outstanding.take(
            delivery_tag, multiple=multiple, method="basic.ack"
        )
        self._counters.acknowledged += len(records)
        self._settled(records, requeue=False)

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """``basic.reject`` (PreconditionFailed for an unknown tag)."""
        records = self.outstanding.take(
            delivery_tag, multiple=False, method="basic.reject"
        )
        if not requeue:
            for queue, message, _ in records:
                queue.reject(message)  # dead-lettered, or dropped
        self._settled(records, requeue=requeue)

    def recover(self, requeue: bool) -> None:
        """``basic.recover``; ``requeue=False`` is a connection error (540)."""
        if not requeue:
            raise connection_error(NOT_IMPLEMENTED, "requeue=false")
        self._settled(self.outstanding.take_all(), requeue=True)

    def qos(self, prefetch_size: int, prefetch_count: int, apply_global: bool) -> None:
        """``basic.qos``; a ``prefetch_size`` is a connection error (540)."""
        if prefetch_size:
            raise connection_error(
                NOT_IMPLEMENTED, f"prefetch_size!=0 ({prefetch_size})"
            )
        if not apply_global:
            self.outstanding.prefetch = prefetch_count
            return
        self.outstanding.global_prefetch = prefetch_count
        for consumer in list(self.consumers.values()):
            consumer.queue.dispatch()

    def consume(
        self,
        vhost: VirtualHost,
        queue: str,
        callback: Callable[[Delivery], None],
        *,
        consumer_tag: str,
        no_ack: bool,
        exclusive: bool,
        on_cancel: Callable[[str], None] | None,
        arguments: Mapping[str, object],
    ) -> str:
        """``basic.consume``; a reused tag is a connection error (530).

        Global QoS on a quorum queue is one too (540), as on RabbitMQ 3.10.
        """
        if consumer_tag in self.consumers:
            raise connection_error(
                NOT_ALLOWED, f"attempt to reuse consumer tag '{consumer_tag}'"
            )
        found = vhost.queue_for_consume(queue, self._conn, exclusive=exclusive)
        priority = consumer_priority(queue, vhost.name, arguments)
        if found.limits.quorum and self.outstanding.global_prefetch:
            raise connection_error(
                NOT_IMPLEMENTED,
                f"queue '{queue}' in vhost '{vhost.name}' does not support global qos",
            )
        tag = consumer_tag or "amq.ctag-" + secrets.token_urlsafe(16)
        consumer = Consumer(
            tag,
            found,
            self,
            callback,
            no_ack=no_ack,
            exclusive=exclusive,
            prefetch=self.outstanding.prefetch,
            on_cancel=on_cancel,
            priority=priority,
        )
        found.prioritised = found.prioritised or priority != 0
        self.consumers[tag] = consumer
        found.consumers[consumer] = None
        found.had_consumer = True
        found.dispatch()
        return tag

    def cancel(self, vhost: VirtualHost, consumer_tag: str) -> None:
        """``basic.cancel``; unknown tags are ignored."""
        consumer = self.consumers.pop(consumer_tag, None)
        if consumer is None:
            return
        queue = consumer.queue
        queue.consumers.pop(consumer, None)
        self._take_back(consumer)
        vhost.consumer_gone(queue)
        queue.dispatch()

    def release(self, vhost: VirtualHost) -> None:
        """The channel closed: consumers go, unacked messages are requeued."""
        touched: dict[MemoryQueue, None] = {}
        for consumer in self.consumers.values():
            consumer.queue.consumers.pop(consumer, None)
            touched[consumer.queue] = None
        self.consumers.clear()
        for queue, message, _ in self.outstanding.take_all():
            queue.requeue(message)
            touched[queue] = None
        # Deliveries in flight are lost with the channel (the unacked ones
        # were requeued above), exactly as frames to a closed channel are.
        self._conn.withdraw_channel(self._channel)
        for queue in touched:
            vhost.consumer_gone(queue)
            queue.dispatch()

    # -- ConsumerOwner (called by queues) ----------------------------------------------

    def can_deliver(self, consumer: Consumer) -> bool:
        """Return whether the prefetch limits allow one more delivery."""
        return self.outstanding.can_deliver(consumer)

    def deliver(
        self, consumer: Consumer, queue: MemoryQueue, message: QueuedMessage
    ) -> None:
        """Record the delivery and put it in the connection inbox."""
        # The hot path of every delivery: next_tag and _count_delivery inlined.
        outstanding = self.outstanding
        outstanding.last_tag = tag = outstanding.last_tag + 1
        if not consumer.no_ack:
            outstanding.add(tag, queue, message, consumer)
        counters = self._counters
        counters.delivered += 1
        if message.redelivered:
            counters.redelivered += 1
        self._conn.push_delivery(self._channel, consumer, message, tag)

    def cancelled_by_broker(self, consumer: Consumer) -> None:
        """Forget a consumer whose queue was deleted and notify the client."""
        del self.consumers[consumer.tag]
        self._conn.push(self._channel, ConsumerCancelled(consumer))

    # -- drain_events (broker lock held) -----------------------------------------------

    def delivery_action(
        self, consumer: Consumer, message: QueuedMessage, tag: int
    ) -> Action | None:
        """The consumer's callback and its delivery, or None if it is stale."""
        if not consumer.no_ack and tag not in self.outstanding.unacked:
            return None  # requeued by basic_recover or rejected before arrival
        properties = message.properties
        if properties.headers or message.delivery_count:
            properties = delivery_properties(message, consumer.queue.limits.quorum)
        return consumer.callback, new_delivery(
            message.body,
            properties,
            tag,
            message.exchange,
            message.routing_key,
            message.redelivered,
            consumer.tag,
        )

    def action_for(self, payload: object) -> Action | None:
        """The callback for a broker cancel, or None without ``on_cancel``."""
        assert isinstance(payload, ConsumerCancelled)
        on_cancel = payload.consumer.on_cancel
        return None if on_cancel is None else (on_cancel, payload.consumer.tag)

    # -- internals ---------------------------------------------------------------------

    def _settled(self, records: list[Unacked], *, requeue: bool) -> None:
        touched: dict[MemoryQueue, None] = {}
        for queue, message, _ in records:
            if requeue:
                queue.requeue(message)
            touched[queue] = None
        if self.outstanding.global_prefetch:
            # Freed channel-wide credit may unblock any queue we consume from.
            for consumer in self.consumers.values():
                touched[consumer.queue] = None
        for queue in touched:
            queue.dispatch()

    def _take_back(self, consumer: Consumer) -> None:
        for message, tag in self._conn.withdraw_deliveries(consumer):
            if not consumer.no_ack and not self.outstanding.take_back(tag):
                continue  # settled already (an early ack or a recover)
            # Never seen by the client: it does not count as a delivery.
            self._counters.delivered -= 1
            self._counters.redelivered -= message.redelivered
            consumer.queue.requeue(message, redelivered=False)

    def _count_delivery(self, message: QueuedMessage) -> None:
        self._counters.delivered += 1
        if message.redelivered:
            self._counters.redelivered += 1
