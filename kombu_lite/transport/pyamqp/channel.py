"""One AMQP channel over py-amqp, publisher confirms included."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import amqp

from kombu_lite.exceptions import ChannelClosed
from kombu_lite.transport.base import QueueDeclareOk, ReturnedMessage
from kombu_lite.transport.pyamqp._mapping import delivery_from, mapped, properties_from

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kombu_lite.transport.base import BasicProperties, Delivery
    from kombu_lite.transport.pyamqp.connection import PyAmqpConnection

__all__ = ["PyAmqpChannel"]


class PyAmqpChannel:
    """One channel over py-amqp (a :class:`~.base.WireChannel`)."""

    def __init__(self, connection: PyAmqpConnection, channel: Any) -> None:
        self._conn = connection
        self._ch = channel
        # Bodies stay bytes: decoding is the serializer's job, after the
        # accept-list check (py-amqp would decode by content_encoding).
        channel.auto_decode = False
        # py-amqp forgets the number once the channel closes; errors name it.
        self._channel_id = int(channel.channel_id)
        self._closed_reason: str | None = None
        self._on_return: Callable[[ReturnedMessage], None] | None = None
        self._ch.events["basic_return"].add(self._dispatch_return)

    @property
    def channel_id(self) -> int:
        """The channel number."""
        return self._channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel or the connection broke."""
        return (
            self._closed_reason is None
            and bool(self._ch.is_open)
            and self._conn.is_connected
        )

    def mark_closed(self, reason: str) -> None:
        """Remember why the broker closed the channel; drop py-amqp's revival."""
        if self._closed_reason is None:
            self._closed_reason = reason
            # py-amqp re-opened the channel under the same number; close it
            # so the broker does not keep an unused channel around.
            with contextlib.suppress(Exception):
                self._ch.close()

    def _check(self) -> str:
        if self._closed_reason is not None:
            raise ChannelClosed(
                f"channel {self.channel_id} was closed by the broker "
                f"({self._closed_reason}); open a new channel",
                reply_text=self._closed_reason,
            )
        if not self._ch.is_open:
            raise ChannelClosed(f"channel {self.channel_id} is closed")
        return self._conn.where

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
        """Declare an exchange."""
        where = self._check()
        args: dict[str, object] = dict(arguments or {})
        if internal:
            # py-amqp has no ``internal`` flag; RabbitMQ also honours the
            # ``internal`` declare argument.
            args["internal"] = True
        with mapped(where, self):
            self._ch.exchange_declare(
                exchange,
                exchange_type,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                arguments=args or None,
            )

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange."""
        where = self._check()
        with mapped(where, self):
            self._ch.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange to exchange."""
        where = self._check()
        with mapped(where, self):
            self._ch.exchange_bind(
                destination, source, routing_key, arguments=arguments
            )

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        where = self._check()
        with mapped(where, self):
            self._ch.exchange_unbind(
                destination, source, routing_key, arguments=arguments
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
        """Declare a queue."""
        where = self._check()
        with mapped(where, self):
            name, messages, consumers = self._ch.queue_declare(
                queue,
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                arguments=arguments,
            )
        return QueueDeclareOk(str(name), int(messages), int(consumers))

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue."""
        where = self._check()
        with mapped(where, self):
            self._ch.queue_bind(queue, exchange, routing_key, arguments=arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        where = self._check()
        with mapped(where, self):
            self._ch.queue_unbind(queue, exchange, routing_key, arguments=arguments)

    def queue_purge(self, queue: str) -> int:
        """Drop a queue's ready messages."""
        where = self._check()
        with mapped(where, self):
            return int(self._ch.queue_purge(queue) or 0)

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue."""
        where = self._check()
        with mapped(where, self):
            return int(
                self._ch.queue_delete(queue, if_unused=if_unused, if_empty=if_empty)
                or 0
            )

    # -- messages ---------------------------------------------------------------------

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> None:
        """Send one message (see the contract for what returning means)."""
        where = self._check()
        fields = properties.as_dict()
        headers = fields.pop("headers", None)
        if headers is not None:
            fields["application_headers"] = headers
        with mapped(where, self):
            self._ch.basic_publish(
                amqp.Message(body, **fields), exchange, routing_key, mandatory=mandatory
            )

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message, or None."""
        where = self._check()
        with mapped(where, self):
            message = self._ch.basic_get(queue, no_ack=no_ack)
        if message is None:
            return None
        return delivery_from(
            message, int(message.delivery_info.get("message_count", 0))
        )

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery."""
        where = self._check()
        with mapped(where, self):
            self._ch.basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery."""
        where = self._check()
        with mapped(where, self):
            self._ch.basic_reject(delivery_tag, requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver the unacknowledged messages."""
        where = self._check()
        with mapped(where, self):
            self._ch.basic_recover(requeue=requeue)

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Set the prefetch limits."""
        where = self._check()
        with mapped(where, self):
            self._ch.basic_qos(prefetch_size, prefetch_count, apply_global)

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
        """Start a consumer."""
        where = self._check()

        def deliver(message: Any) -> None:
            callback(delivery_from(message))

        with mapped(where, self):
            tag = self._ch.basic_consume(
                queue,
                consumer_tag=consumer_tag,
                no_ack=no_ack,
                exclusive=exclusive,
                arguments=arguments,
                callback=deliver,
                on_cancel=on_cancel,
            )
        return str(tag)

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer."""
        where = self._check()
        with mapped(where, self):
            self._ch.basic_cancel(consumer_tag)

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Route ``basic.return`` to ``handler``."""
        self._on_return = handler

    def _dispatch_return(
        self, exc: Any, exchange: str, routing_key: str, message: Any
    ) -> None:
        handler = self._on_return
        if handler is None:
            return
        handler(
            ReturnedMessage(
                reply_code=int(getattr(exc, "reply_code", 312) or 312),
                reply_text=str(getattr(exc, "reply_text", "NO_ROUTE") or "NO_ROUTE"),
                exchange=exchange,
                routing_key=routing_key,
                body=bytes(message.body),
                properties=properties_from(message.properties),
            )
        )

    def close(self) -> None:
        """Close the channel; never raises."""
        if self._closed_reason is None:
            self._closed_reason = "closed by the application"
        # A broken connection or an already-closed channel is fine here.
        with contextlib.suppress(Exception):
            self._ch.close()
