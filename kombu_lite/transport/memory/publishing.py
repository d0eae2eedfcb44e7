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
        vhost = self._vhost
        # RabbitMQ's order: size, exchange, user_id, expiration,
        # delivery_mode (the last three in check_publish).
        if len(body) > self._broker._max_message_size:
            raise message_too_large(len(body), self._broker._max_message_size)
        if exchange == "":
            queue = vhost.queues.get(routing_key)
            queues = [queue] if queue is not None else []
            ttl = check_publish(properties, self._conn.userid)
        else:
            target = vhost.exchange_for_publish(exchange)
            ttl = check_publish(properties, self._conn.userid)
            queues = vhost.route(target, routing_key, sent_headers)
        counters = self._counters
        counters.published += 1
        confirming = self._life.state is ChannelState.CONFIRMING
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
