"""Channels of the memory broker: the AMQP methods, with RabbitMQ's channel rules.

A refused method closes the channel, exactly as RabbitMQ does: the error
(``NotFound``, ``PreconditionFailed``...) is raised once, and every later call
raises ``ChannelClosed`` naming the channel and that first reason.  A
connection-level refusal (unknown exchange type, reused consumer tag,
``prefetch_size``) closes the whole connection.  Publishing to a missing
exchange raises ``NotFound`` from ``basic_publish`` itself; on RabbitMQ the
same error arrives with the next synchronous call on the channel.  A broker
alarm holds publishes (see :mod:`~kombu_lite.transport.memory.alarms`).
Receiving (gets, consumers, acks) is :mod:`.consuming`'s; the connection is
known only as :class:`~.contract.ChannelConnection`, and the channel's life
as a :class:`~kombu_lite.transport.channel_state.ChannelLifecycle`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from kombu_lite.exceptions import ChannelError, OperationalError
from kombu_lite.transport.base import (
    BasicProperties,
    Delivery,
    QueueDeclareOk,
    ReturnedMessage,
)
from kombu_lite.transport.channel_state import (
    ChannelEvent,
    ChannelLifecycle,
    ChannelState,
)
from kombu_lite.transport.memory import prepared
from kombu_lite.transport.memory.consuming import ChannelConsumers
from kombu_lite.transport.memory.delivery import copy_headers
from kombu_lite.transport.memory.encoding import (
    check_names,
    check_properties,
    wire_names,
)
from kombu_lite.transport.memory.publishing import Router
from kombu_lite.transport.memory.replies import channel_closed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.transport.memory.contract import Action, ChannelConnection
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["MemoryChannel"]

_OPEN, _CONFIRMING, _CLOSED = (
    ChannelState.OPEN,
    ChannelState.CONFIRMING,
    ChannelState.CLOSED,
)


class MemoryChannel:
    """One channel of a :class:`MemoryConnection`.

    Implements :class:`kombu_lite.transport.base.WireChannel`.
    """

    def __init__(self, connection: ChannelConnection, channel_id: int) -> None:
        self._conn = connection
        self._lock = connection.lock
        self._vhost: VirtualHost = connection.vhost
        self._broker = connection.broker
        self._counters = connection.broker._counters
        self._alarms = connection.broker._alarms
        self._id = channel_id
        #: Open, confirming, closed (by close() or a channel error, which it
        #: keeps), or dropped with the connection.
        self.lifecycle = ChannelLifecycle()
        self._receiving = ChannelConsumers(self, connection, self._counters)
        #: The callback for one delivery of an inbox run (InboxOwner).
        self.delivery_action = self._receiving.delivery_action
        self._return_handler: Callable[[ReturnedMessage], None] | None = None
        self._router = Router(self, connection, self.lifecycle, channel_id)
        #: The last properties object that passed the encoding checks.
        self._checked: BasicProperties | None = None
        #: The last exchange and routing key that passed check_names.
        self._checked_exchange: object
        self._checked_key: object
        self._checked_exchange = self._checked_key = None

    def __repr__(self) -> str:
        return f"<MemoryChannel {self._id} {'open' if self.is_open else 'closed'}>"

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        return self._id

    @property
    def is_open(self) -> bool:
        """False once the channel or its connection was closed."""
        return self.lifecycle.state is not _CLOSED and self._conn.is_connected

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
            self._alarms.hold(self._conn, self._conn.notice)
        if type(body) is not bytes:
            body = bytes(body)
        with self._lock:
            state = self.lifecycle.state  # no property call: the hot path
            if (
                state is not _OPEN and state is not _CONFIRMING
            ) or not self._conn.is_connected:
                self._check("basic.publish")
            # What a py-amqp client refuses to encode, before anything is
            # "sent"; the channel stays open.  A producer reuses one
            # properties object for its plain messages: checked once.
            if (
                exchange is not self._checked_exchange
                or routing_key is not self._checked_key
            ):
                check_names(exchange, routing_key)
                self._checked_exchange = exchange
                self._checked_key = routing_key
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
            try:
                return self._router.route(
                    body, properties, sent_headers, exchange, routing_key, mandatory
                )
            except ChannelError as exc:
                self._fail(exc)
                raise

    basic_publish_batch = prepared.basic_publish_batch
    prepare_publish = prepared.prepare_publish

    def confirm_select(self) -> None:
        """Turn on publisher confirms for this channel."""
        with self._operation("confirm.select"):
            self.lifecycle.move(ChannelEvent.SELECT_CONFIRMS)

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
        return self._router.confirms.settle(delivery_tag, self._return_handler)

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
            vhost.used(found)
            return self._receiving.get(found, no_ack)

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``).

        Raises:
            PreconditionFailed: the tag is not an unacknowledged delivery of
                this channel (406, the channel is closed).
        """
        with self._operation("basic.ack"):
            self._receiving.ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery; ``requeue`` puts it back at its original position."""
        with self._operation("basic.reject"):
            self._receiving.reject(delivery_tag, requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Requeue every unacknowledged message of this channel.

        ``requeue=False`` is not implemented by RabbitMQ, which closes the
        connection (540); so does the memory broker.
        """
        with self._operation("basic.recover"):
            self._receiving.recover(requeue)

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
            self._receiving.qos(prefetch_size, prefetch_count, apply_global)

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
        ``on_cancel`` runs there too when the queue is deleted.  The
        ``x-priority`` argument is a consumer priority, as on RabbitMQ.
        """
        with self._operation("basic.consume") as vhost:
            return self._receiving.consume(
                vhost,
                queue,
                callback,
                consumer_tag=consumer_tag,
                no_ack=no_ack,
                exclusive=exclusive,
                on_cancel=on_cancel,
                arguments=arguments or {},
            )

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; unknown tags are ignored.

        Deliveries the consumer had not received yet go back to the queue,
        so its callback never runs after this returns.
        """
        with self._operation("basic.cancel") as vhost:
            self._receiving.cancel(vhost, consumer_tag)

    # -- closing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the channel; closing twice is harmless and never raises."""
        with self._lock:
            was_open = self.lifecycle.usable
            self.lifecycle.close()
            if was_open:
                self._release()

    def drop_locked(self) -> None:
        """The connection went: the channel goes with it (broker lock held)."""
        if self.lifecycle.usable:
            self.lifecycle.move(ChannelEvent.DROP)
            self._release()

    # -- internals -----------------------------------------------------------------

    @contextmanager
    def _operation(self, method: str) -> Iterator[VirtualHost]:
        # Runs one synchronous method under the broker lock and applies
        # RabbitMQ's error rules: a channel error closes this channel, a
        # connection error closes the connection.
        with self._lock:
            self._check(method)
            self._broker._due()  # TTLs and x-expires, with an injected clock
            try:
                yield self._vhost
            except ChannelError as exc:
                self._fail(exc)
                raise
            except OperationalError as exc:
                self._conn.break_locked(exc, noticed=True)
                raise

    def _check(self, method: str) -> None:
        self._conn.check()
        life = self.lifecycle
        if life.usable:
            return
        raise channel_closed(self._id, life.error, method)

    def _fail(self, exc: ChannelError) -> None:
        was_open = self.lifecycle.usable
        self.lifecycle.close(error=exc)
        if was_open:
            self._release()

    def _release(self) -> None:
        self._conn.forget_channel(self._id)
        self._receiving.release(self._vhost)

    def action_for(self, payload: object) -> Action | None:
        """Turn an inbox entry into the callback to run, or None if it is stale.

        Entries of a closed channel never get here: closing removes them.
        """
        if isinstance(payload, ReturnedMessage):
            handler = self._return_handler
            return None if handler is None else (handler, payload)
        return self._receiving.action_for(payload)
