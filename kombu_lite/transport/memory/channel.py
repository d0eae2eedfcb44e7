"""Channels of the memory broker: the AMQP methods, with RabbitMQ's channel rules.

A refused method closes the channel, exactly as RabbitMQ does: the error
(``NotFound``, ``PreconditionFailed``...) is raised once, and every later call
raises ``ChannelClosed`` naming the channel and that first reason.  A
connection-level refusal (unknown exchange type, reused consumer tag,
``prefetch_size``) closes the whole connection.  Publishing to a missing
exchange raises ``NotFound`` from ``basic_publish`` itself; on RabbitMQ the
same error arrives with the next synchronous call on the channel.  Delivery
tags count from 1 per channel; unacked messages go back to their queue,
marked redelivered, when the channel closes.  Cancelling a consumer takes
back its undelivered messages (unchanged, in their place), so no callback
runs after ``basic_cancel`` returns.  A broker alarm holds publishes (see
:mod:`~kombu_lite.transport.memory.alarms`).
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from kombu_lite.exceptions import ChannelClosed, ChannelError, OperationalError
from kombu_lite.transport.base import (
    BasicProperties,
    Delivery,
    QueueDeclareOk,
    ReturnedMessage,
)
from kombu_lite.transport.memory.confirms import ConfirmLedger
from kombu_lite.transport.memory.delivery import (
    ConsumerCancelled,
    Outstanding,
    PendingDelivery,
    Unacked,
    check_publish,
    copy_headers,
    fresh_properties,
)
from kombu_lite.transport.memory.encoding import (
    check_names,
    check_properties,
    wire_names,
)
from kombu_lite.transport.memory.queue import Consumer, MemoryQueue, QueuedMessage
from kombu_lite.transport.memory.replies import (
    NOT_ALLOWED,
    NOT_IMPLEMENTED,
    connection_error,
    message_too_large,
    no_route,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from kombu_lite.transport.memory.connection import MemoryConnection
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["MemoryChannel"]


class MemoryChannel:
    """One channel of a :class:`MemoryConnection`.

    Implements :class:`kombu_lite.transport.base.WireChannel`.
    """

    def __init__(self, connection: MemoryConnection, channel_id: int) -> None:
        self._conn = connection
        self._lock = connection._lock
        self._vhost: VirtualHost = connection._vhost
        self._broker = connection._broker
        self._counters = connection._broker._counters
        self._alarms = connection._broker._alarms
        self._id = channel_id
        self._open = True  # the broker's view
        self._closed_here = False  # closed by close() or by a channel error
        self._closed_by: ChannelError | None = None
        self._outstanding = Outstanding()
        self._consumers: dict[str, Consumer] = {}
        self._return_handler: Callable[[ReturnedMessage], None] | None = None
        self._confirms = ConfirmLedger(channel_id)
        #: The last properties object that passed the encoding checks.
        self._checked: BasicProperties | None = None

    def __repr__(self) -> str:
        return f"<MemoryChannel {self._id} {'open' if self.is_open else 'closed'}>"

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        return self._id

    @property
    def is_open(self) -> bool:
        """False once the channel or its connection was closed."""
        return not self._closed_here and self._conn.is_connected

    # -- exchanges and queues --------------------------------------------------

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
        with self._operation("exchange.declare") as vhost:
            vhost.exchange_declare(
                exchange,
                exchange_type,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                arguments=arguments or {},
            )

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange; deleting a missing one is not an error."""
        with self._operation("exchange.delete") as vhost:
            vhost.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        with self._operation("exchange.bind") as vhost:
            vhost.bind(
                source,
                destination,
                to_queue=False,
                routing_key=routing_key,
                arguments=arguments or {},
                connection=self._conn,
            )

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        with self._operation("exchange.unbind") as vhost:
            vhost.unbind(
                source,
                destination,
                to_queue=False,
                routing_key=routing_key,
                arguments=arguments or {},
            )

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
        """Declare a queue; ``queue=''`` asks the broker to name it."""
        with self._operation("queue.declare") as vhost:
            return vhost.queue_declare(
                queue,
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                arguments=arguments or {},
                connection=self._conn,
            )

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue to an exchange."""
        with self._operation("queue.bind") as vhost:
            vhost.bind(
                exchange,
                queue,
                to_queue=True,
                routing_key=routing_key,
                arguments=arguments or {},
                connection=self._conn,
            )

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        with self._operation("queue.unbind") as vhost:
            vhost.unbind(
                exchange,
                queue,
                to_queue=True,
                routing_key=routing_key,
                arguments=arguments or {},
            )

    def queue_purge(self, queue: str) -> int:
        """Drop the ready messages of a queue; return how many."""
        with self._operation("queue.purge") as vhost:
            return vhost.queue_for(queue, self._conn, "queue.purge").purge()

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue; return how many ready messages it held."""
        with self._operation("queue.delete") as vhost:
            return vhost.queue_delete(
                queue, if_unused=if_unused, if_empty=if_empty, connection=self._conn
            )

    # -- publishing ------------------------------------------------------------

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> int:
        """Route one message to its queues; return its tag when confirming.

        When this returns the message is in every matching queue (or in a
        consumer's inbox).  An unroutable ``mandatory`` message comes back
        through the return handler during the next ``drain_events``.

        Raises:
            EncodeError: a name or property does not fit its AMQP type, as
                the py-amqp transport refuses it; nothing was published and
                the channel stays open.
            PreconditionFailed: the body is over the broker's
                ``max_message_size``, or RabbitMQ refuses a property (406);
                the channel is closed.
            NotFound: the exchange does not exist (404, channel closed).
        """
        # The hot path: kept flat (no context manager, one default lookup).
        if self._alarms.active:  # RabbitMQ's connection.blocked
            self._alarms.hold(self._conn, self._conn._notice)
        if type(body) is not bytes:
            body = bytes(body)
        with self._lock:
            if not self._open or not self._conn.is_connected:
                self._check("basic.publish")
            # What a py-amqp client refuses to encode, before anything is
            # "sent"; the channel stays open.  A producer reuses one
            # properties object for its plain messages: checked once.
            check_names(exchange, routing_key)
            if properties is not self._checked:
                check_properties(properties)
                if properties.headers is None:  # nothing mutable inside
                    self._checked = properties
            sent_headers = properties.headers
            if sent_headers:
                properties = copy_headers(properties)
                # Headers bindings compare what went on the wire (a
                # Decimal's scale included), which the stored copy, shaped
                # as a consumer reads it back, may have lost.
                sent_headers = wire_names(sent_headers)
            vhost = self._vhost
            try:
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
            except ChannelError as exc:
                self._fail(exc)
                raise
            self._counters.published += 1
            if not queues:
                self._counters.unroutable += 1
                returned = None
                if mandatory:
                    self._counters.returned += 1
                    returned = no_route(exchange, routing_key, body, properties)
                    if not self._confirms.enabled:
                        self._conn._push(self, returned)
                if self._confirms.enabled:
                    return self._confirms.record(True, returned)
                return 0
            accepted = True
            for queue in queues:
                if not queue.publish(
                    QueuedMessage(body, properties, exchange, routing_key), ttl
                ):
                    accepted = False
            return self._confirms.record(accepted) if self._confirms.enabled else 0

    def basic_publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> list[int]:
        """Publish several messages; return their tags (zeros without confirms).

        Raises:
            EncodeError: a message does not fit its AMQP types; nothing of
                the batch was published.
        """
        with self._lock:
            check_names(exchange, routing_key)
            for _body, properties in messages:
                check_properties(properties)
        return [
            self.basic_publish(
                body, properties, exchange, routing_key, mandatory=mandatory
            )
            for body, properties in messages
        ]

    def confirm_select(self) -> None:
        """Turn on publisher confirms for this channel."""
        with self._operation("confirm.select"):
            self._confirms.enabled = True

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """Return the outcome of a confirmed publish (known at once here).

        Unroutable ``mandatory`` messages go to the return handler inside
        this call, as RabbitMQ's ``basic.return`` comes before the ack.
        """
        del timeout  # nothing to wait for
        # Without the broker lock: the handler is application code, and a
        # tag is only ever settled by the thread that published it.
        return self._confirms.settle(delivery_tag, self._return_handler)

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Call ``handler`` for each ``basic.return`` on this channel."""
        self._return_handler = handler

    # -- receiving ---------------------------------------------------------------

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message from a queue, or ``None`` when it is empty."""
        with self._operation("basic.get") as vhost:
            found = vhost.queue_for(queue, self._conn, "basic.get")
            message = found.get()
            if message is None:
                return None
            tag = self._outstanding.next_tag()
            if not no_ack:
                self._outstanding.add(tag, found, message, None)
            self._count_delivery(message)
            return Delivery(
                body=message.body,
                properties=fresh_properties(message.properties),
                delivery_tag=tag,
                exchange=message.exchange,
                routing_key=message.routing_key,
                redelivered=message.redelivered,
                message_count=found.ready_count(),
            )

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``).

        Raises:
            PreconditionFailed: the tag is not an unacknowledged delivery of
                this channel (406, the channel is closed).
        """
        with self._operation("basic.ack"):
            records = self._outstanding.take(
                delivery_tag, multiple=multiple, method="basic.ack"
            )
            self._counters.acknowledged += len(records)
            self._settled(records, requeue=False)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery; ``requeue`` puts it back at its original position."""
        with self._operation("basic.reject"):
            records = self._outstanding.take(
                delivery_tag, multiple=False, method="basic.reject"
            )
            if not requeue:
                self._counters.dropped += 1
            self._settled(records, requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Requeue every unacknowledged message of this channel.

        ``requeue=False`` is not implemented by RabbitMQ, which closes the
        connection (540); so does the memory broker.
        """
        with self._operation("basic.recover"):
            if not requeue:
                raise connection_error(NOT_IMPLEMENTED, "requeue=false")
            self._settled(self._outstanding.take_all(), requeue=True)

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Limit unacknowledged deliveries, as RabbitMQ does.

        With ``apply_global=False`` the limit applies to each consumer
        created on this channel afterwards; with ``True`` it is shared by all
        consumers of the channel, existing ones included.  ``prefetch_size``
        must be 0 (RabbitMQ closes the connection with 540 otherwise).
        """
        with self._operation("basic.qos"):
            if prefetch_size:
                raise connection_error(
                    NOT_IMPLEMENTED, f"prefetch_size!=0 ({prefetch_size})"
                )
            if not apply_global:
                self._outstanding.prefetch = prefetch_count
                return
            self._outstanding.global_prefetch = prefetch_count
            for consumer in list(self._consumers.values()):
                consumer.queue.dispatch()

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
        """Start a consumer and return its tag (``amq.ctag-...`` if not given).

        ``callback`` runs inside ``drain_events`` of this connection;
        ``on_cancel`` runs there too when the queue is deleted.  Consumer
        ``arguments`` (such as ``x-priority``) are accepted and ignored.
        """
        with self._operation("basic.consume") as vhost:
            if consumer_tag in self._consumers:
                raise connection_error(
                    NOT_ALLOWED, f"attempt to reuse consumer tag '{consumer_tag}'"
                )
            found = vhost.queue_for_consume(queue, self._conn, exclusive=exclusive)
            tag = consumer_tag or "amq.ctag-" + secrets.token_urlsafe(16)
            consumer = Consumer(
                tag,
                found,
                self,
                callback,
                no_ack=no_ack,
                exclusive=exclusive,
                prefetch=self._outstanding.prefetch,
                on_cancel=on_cancel,
            )
            self._consumers[tag] = consumer
            found.consumers[consumer] = None
            found.had_consumer = True
            found.dispatch()
            return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; unknown tags are ignored.

        Deliveries the consumer had not received yet go back to the queue,
        so its callback never runs after this returns.
        """
        with self._operation("basic.cancel") as vhost:
            consumer = self._consumers.pop(consumer_tag, None)
            if consumer is None:
                return
            queue = consumer.queue
            queue.consumers.pop(consumer, None)
            self._take_back(consumer)
            vhost.consumer_gone(queue)
            queue.dispatch()

    # -- closing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the channel; closing twice is harmless and never raises."""
        with self._lock:
            self._closed_here = True
            self._close_locked()

    # -- ConsumerOwner (called by queues, broker lock held) ------------------------

    def can_deliver(self, consumer: Consumer) -> bool:
        """Return whether the prefetch limits allow one more delivery."""
        return self._outstanding.can_deliver(consumer)

    def deliver(
        self, consumer: Consumer, queue: MemoryQueue, message: QueuedMessage
    ) -> None:
        """Record the delivery and put it in the connection inbox."""
        tag = self._outstanding.next_tag()
        if not consumer.no_ack:
            self._outstanding.add(tag, queue, message, consumer)
        self._count_delivery(message)
        self._conn._push(self, PendingDelivery(consumer, queue, message, tag))

    def cancelled_by_broker(self, consumer: Consumer) -> None:
        """Forget a consumer whose queue was deleted and notify the client."""
        del self._consumers[consumer.tag]
        self._conn._push(self, ConsumerCancelled(consumer))

    # -- internals -----------------------------------------------------------------

    @contextmanager
    def _operation(self, method: str) -> Iterator[VirtualHost]:
        # Runs one synchronous method under the broker lock and applies
        # RabbitMQ's error rules: a channel error closes this channel, a
        # connection error closes the connection.
        with self._lock:
            self._check(method)
            try:
                yield self._vhost
            except ChannelError as exc:
                self._fail(exc)
                raise
            except OperationalError as exc:
                self._conn._break_locked(exc, noticed=True)
                raise

    def _check(self, method: str) -> None:
        self._conn._check()
        if self._open:
            return
        cause = self._closed_by
        if cause is None:
            raise ChannelClosed(
                f"channel {self._id} is closed; open a new channel", method=method
            )
        raise ChannelClosed(
            f"channel {self._id} was closed by the broker after {cause.method} "
            f"failed: {cause.reply_text}; open a new channel",
            reply_code=cause.reply_code,
            reply_text=cause.reply_text,
            method=method,
        )

    def _fail(self, exc: ChannelError) -> None:
        self._closed_by = exc
        self._closed_here = True
        self._close_locked()

    def _close_locked(self) -> None:
        if not self._open:
            return
        self._open = False
        self._conn._channels.pop(self._id, None)
        touched: dict[MemoryQueue, None] = {}
        for consumer in self._consumers.values():
            consumer.queue.consumers.pop(consumer, None)
            touched[consumer.queue] = None
        self._consumers.clear()
        for queue, message, _ in self._outstanding.take_all():
            queue.requeue(message)
            touched[queue] = None
        # Deliveries in flight are lost with the channel (the unacked ones
        # were requeued above), exactly as frames to a closed channel are.
        self._conn._withdraw(lambda channel, _: channel is self)
        for queue in touched:
            self._vhost.consumer_gone(queue)
            queue.dispatch()

    def _settled(self, records: list[Unacked], *, requeue: bool) -> None:
        touched: dict[MemoryQueue, None] = {}
        for queue, message, _ in records:
            if requeue:
                queue.requeue(message)
            touched[queue] = None
        if self._outstanding.global_prefetch:
            # Freed channel-wide credit may unblock any queue we consume from.
            for consumer in self._consumers.values():
                touched[consumer.queue] = None
        for queue in touched:
            queue.dispatch()

    def _take_back(self, consumer: Consumer) -> None:
        taken = self._conn._withdraw(
            lambda _, payload: (
                isinstance(payload, PendingDelivery) and payload.consumer is consumer
            )
        )
        for pending in taken:
            assert isinstance(pending, PendingDelivery)
            if not consumer.no_ack and not self._outstanding.take_back(pending.tag):
                continue  # settled already (an early ack or a recover)
            # Never seen by the client: it does not count as a delivery.
            self._counters.delivered -= 1
            self._counters.redelivered -= pending.redelivered
            pending.queue.requeue(pending.message, redelivered=False)

    def _count_delivery(self, message: QueuedMessage) -> None:
        self._counters.delivered += 1
        if message.redelivered:
            self._counters.redelivered += 1

    def _action_for(self, payload: object) -> Callable[[], None] | None:
        """Turn an inbox entry into the callback to run, or None if it is stale.

        Entries of a closed channel never get here: closing removes them.
        """
        if isinstance(payload, PendingDelivery):
            consumer = payload.consumer
            if not consumer.no_ack and payload.tag not in self._outstanding.unacked:
                return None  # requeued by basic_recover or rejected before arrival
            message = payload.message
            delivery = Delivery(
                body=message.body,
                properties=fresh_properties(message.properties),
                delivery_tag=payload.tag,
                exchange=message.exchange,
                routing_key=message.routing_key,
                redelivered=payload.redelivered,
                consumer_tag=consumer.tag,
            )
            return partial(consumer.callback, delivery)
        if isinstance(payload, ReturnedMessage):
            handler = self._return_handler
            return None if handler is None else partial(handler, payload)
        assert isinstance(payload, ConsumerCancelled)
        on_cancel = payload.consumer.on_cancel
        return None if on_cancel is None else partial(on_cancel, payload.consumer.tag)
