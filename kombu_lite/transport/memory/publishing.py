"""Routing one published message into its queues, with RabbitMQ's checks first.

The channel checks its state and what a client could not encode; this
checks what RabbitMQ refuses (size, exchange, ``user_id``, expiration,
``delivery_mode``, in RabbitMQ's order), routes, enqueues and records the
outcome for publisher confirms.  Runs with the broker lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.transport.channel_state import ChannelState
from kombu_lite.transport.memory.confirms import ConfirmLedger
from kombu_lite.transport.memory.delivery import check_publish
from kombu_lite.transport.memory.queue import QueuedMessage
from kombu_lite.transport.memory.replies import message_too_large, no_route

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.channel_state import ChannelLifecycle
    from kombu_lite.transport.memory.contract import ChannelConnection, InboxOwner

__all__ = ["Router"]

_CONFIRMING = ChannelState.CONFIRMING


class Router:
    """The publishing side of one memory channel.

    Args:
        channel: the channel (an unconfirmed return goes to its inbox).
        connection: the channel's connection.
        lifecycle: the channel's state (confirming or not).
        channel_id: the channel number, for confirm errors.
    """

    def __init__(
        self,
        channel: InboxOwner,
        connection: ChannelConnection,
        lifecycle: ChannelLifecycle,
        channel_id: int,
    ) -> None:
        self._channel = channel
        self._conn = connection
        self._vhost = connection.vhost
        self._broker = connection.broker
        self._counters = connection.broker._counters
        self._life = lifecycle
        self.confirms = ConfirmLedger(channel_id)
        self._queues = connection.vhost.queues
        #: The last properties object check_publish let through, TTL-less.
        self._passed: BasicProperties | None = None

    def route(
        self,
        body: bytes,
        properties: BasicProperties,
        sent_headers: Mapping[str, object] | None,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> int:
        """Enqueue one message; its delivery tag when confirming, else 0.

        Raises:
            ChannelError: RabbitMQ would refuse it (the caller closes the
                channel); nothing was enqueued.
        """
        # RabbitMQ's order: size, exchange, user_id, expiration,
        # delivery_mode (the last three in check_publish, which a
        # properties object passes once for all: it is immutable, and the
        # connection's user does not change).
        max_size = self._broker._max_message_size
        if len(body) > max_size:
            raise message_too_large(len(body), max_size)
        counters = self._counters
        if exchange == "":
            queue = self._queues.get(routing_key)
            if properties is self._passed:
                ttl = None
            else:
                ttl = check_publish(properties, self._conn.userid)
                if ttl is None:
                    self._passed = properties
            if queue is not None:  # the short path: one queue, no routing
                counters.published += 1
                accepted = queue.publish(
                    QueuedMessage(body, properties, exchange, routing_key), ttl
                )
                if self._life.state is _CONFIRMING:
                    return self.confirms.record(accepted)
                return 0
            queues = []
        else:
            vhost = self._vhost
            target = vhost.exchange_for_publish(exchange)
            ttl = check_publish(properties, self._conn.userid)
            queues = vhost.route(target, routing_key, sent_headers)
        counters.published += 1
        confirming = self._life.state is _CONFIRMING
        if not queues:
            counters.unroutable += 1
            returned = None
            if mandatory:
                counters.returned += 1
                returned = no_route(exchange, routing_key, body, properties)
                if not confirming:
                    self._conn.push(self._channel, returned)
            if confirming:
                return self.confirms.record(True, returned)
            return 0
        accepted = True
        for queue in queues:
            if not queue.publish(
                QueuedMessage(body, properties, exchange, routing_key), ttl
            ):
                accepted = False
        return self.confirms.record(accepted) if confirming else 0
