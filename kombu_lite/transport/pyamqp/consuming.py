"""The consumers of one py-amqp channel: deliveries and cancels, handed out later.

Deliveries and the broker's cancels are queued on the connection's reader
by whichever thread reads them, and handed out by ``drain_events`` (see
reader.py): never nested in a confirm wait or a declare.  A delivery for a
consumer that is gone goes back to the broker.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from kombu_lite._log import get_logger
from kombu_lite.transport.delivery import new_delivery
from kombu_lite.transport.pyamqp._messages import body_of, properties_from
from kombu_lite.transport.pyamqp.inbound import DELIVER_SINK
from kombu_lite.transport.pyamqp.reader import Queued

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.transport.base import BasicProperties, Delivery
    from kombu_lite.transport.pyamqp.reader import FrameReader

__all__ = ["ChannelConsumers", "ConsumingChannel"]

_log = get_logger(__name__)


class ConsumingChannel(Protocol):
    """What the consumers need from the channel they consume on."""

    @property
    def channel_id(self) -> int: ...

    @property
    def is_open(self) -> bool: ...

    def requeue(self, delivery_tag: int) -> None:
        """Give a delivery back to the broker (``basic.reject``); never raises."""


class _Consumer(NamedTuple):
    """A consumer of a channel, as basic_consume registered it."""

    callback: Callable[[Delivery], None]
    no_ack: bool
    on_cancel: Callable[[str], None] | None


class ChannelConsumers:
    """The consumers of one channel, and their deliveries not handed out yet.

    Args:
        channel: kombu_lite's channel (queued items are withdrawn by it).
        raw: py-amqp's channel, whose handlers this replaces.
        reader: the connection's frame reader, which queues the items.
    """

    def __init__(
        self, channel: ConsumingChannel, raw: Any, reader: FrameReader
    ) -> None:
        self._channel = channel
        self._raw = raw
        self._reader = reader
        self._consumers: dict[str, _Consumer] = {}
        # Deliveries for this channel come here straight from the frame
        # handler (inbound.py), py-amqp's dispatch skipped.
        setattr(raw, DELIVER_SINK, self.on_raw_deliver)

    @property
    def channel(self) -> ConsumingChannel:
        """kombu_lite's channel these consumers consume on."""
        return self._channel

    def add(
        self,
        tag: str,
        callback: Callable[[Delivery], None],
        no_ack: bool,
        on_cancel: Callable[[str], None] | None,
    ) -> None:
        """Know ``tag`` before ``basic.consume`` is sent.

        A thread reading for another thread may read the first delivery
        right after the consume-ok, before the consume call has returned.
        """
        self._consumers[tag] = _Consumer(callback, no_ack, on_cancel)

    def remove(self, tag: str) -> None:
        """Forget ``tag``: its deliveries not handed out yet are requeued."""
        self._consumers.pop(tag, None)
        for item in self._reader.withdraw(self._channel, tag):
            item.run()

    def discard(self, tag: str) -> None:
        """Forget ``tag`` (its consume was never answered)."""
        self._consumers.pop(tag, None)

    # -- in the reading thread ------------------------------------------------------

    def on_raw_deliver(
        self,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        """Queue a ``basic.deliver`` for drain_events (the channel's sink).

        Only queued here (the reading thread may hold the read lock for a
        batch of deliveries): the :class:`Delivery` is built when it is
        handed out.
        """
        self._reader.defer(
            _Pending(
                self,
                self._consumers.get(consumer_tag),
                consumer_tag,
                delivery_tag,
                redelivered,
                exchange,
                routing_key,
                properties,
                body,
            )
        )

    def on_deliver(
        self,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        message: Any,
    ) -> None:
        """py-amqp's ``basic.deliver`` handler (replaced): a delivery it parsed.

        Deliveries normally come through :meth:`on_raw_deliver` (see
        inbound.py); this takes one that py-amqp dispatched itself.
        """
        self.on_raw_deliver(
            consumer_tag,
            delivery_tag,
            redelivered,
            exchange,
            routing_key,
            properties_from(message.properties),
            body_of(message),
        )

    def on_cancel(self, consumer_tag: str) -> None:
        """Queue the broker's cancel of a consumer (its queue was deleted...).

        Queued behind the consumer's deliveries, which it still gets.
        """
        self._reader.defer(
            Queued(
                self._channel,
                consumer_tag,
                partial(self._hand_out_cancel, consumer_tag),
            )
        )

    # -- in drain_events ---------------------------------------------------------------

    def hand_out(self, item: _Pending) -> bool:
        """Give a queued delivery to its consumer; runs in drain_events."""
        channel = self._channel
        consumer = item.consumer
        consumer_tag = item.consumer_tag
        delivery_tag = item.delivery_tag
        if not channel.is_open:
            # The broker requeued every unacknowledged delivery of the
            # channel when it closed: this one comes again.
            if consumer is not None and consumer.no_ack:
                _log.warning(
                    "delivery %s for consumer %s (no_ack) arrived on channel %s "
                    "but the channel closed before drain_events handed it out: "
                    "the message is lost",
                    delivery_tag,
                    consumer_tag,
                    channel.channel_id,
                )
            return False
        if consumer is not None and self._consumers.get(consumer_tag) is consumer:
            consumer.callback(
                new_delivery(
                    item.body,
                    item.properties,
                    delivery_tag,
                    item.exchange,
                    item.routing_key,
                    item.redelivered,
                    consumer_tag,
                )
            )
            return True
        if consumer is not None and consumer.no_ack:
            _log.warning(
                "delivery %s for consumer %s (no_ack) arrived after the consumer "
                "was cancelled: the message is lost",
                delivery_tag,
                consumer_tag,
            )
            return False
        # Cancelled meanwhile (or never known): back to the queue, as
        # py-amqp does with a delivery that has no consumer.
        channel.requeue(delivery_tag)
        return False

    def _hand_out_cancel(self, consumer_tag: str) -> bool:
        consumer = self._consumers.pop(consumer_tag, None)
        raw = self._raw
        raw.callbacks.pop(consumer_tag, None)
        raw.cancel_callbacks.pop(consumer_tag, None)
        raw.no_ack_consumers.discard(consumer_tag)
        if consumer is None or consumer.on_cancel is None or not self._channel.is_open:
            return False
        consumer.on_cancel(consumer_tag)
        return True


class _Pending:
    """A delivery read and queued, not handed out yet (a reader item).

    One object per delivery, with :meth:`run` as a method: no closure is
    made per message.
    """

    __slots__ = (
        "body",
        "consumer",
        "consumer_tag",
        "consumers",
        "delivery_tag",
        "exchange",
        "owner",
        "properties",
        "redelivered",
        "routing_key",
    )

    def __init__(
        self,
        consumers: ChannelConsumers,
        consumer: _Consumer | None,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        self.consumers = consumers
        #: The channel it arrived on (what the reader withdraws by).
        self.owner: object = consumers.channel
        self.consumer = consumer
        self.consumer_tag = consumer_tag
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties
        self.body = body

    def run(self) -> bool:
        """Hand it out; returns whether the application was called."""
        return self.consumers.hand_out(self)
