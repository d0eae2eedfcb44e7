"""The AMQP methods of :class:`~kombu_lite.channel.Channel`, in py-amqp's shape.

kombu code calls these on ``connection.channel()`` and
``connection.default_channel`` with py-amqp's signatures (``kombu`` hands
out a ``amqp.Channel`` subclass on ``pyamqp://``), so they take py-amqp's
arguments in py-amqp's order, with its defaults, and return what it returns:
``queue_declare`` the ``(queue, message_count, consumer_count)`` named tuple,
``queue_purge`` and ``queue_delete`` a message count, ``basic_get`` a
message or None, ``basic_consume`` the consumer tag.  They behave alike on
every transport (kombu's memory transport has signatures of its own).

Two things are firmer than in py-amqp, on purpose:

* ``nowait=True`` is accepted and ignored: every method waits for the
  broker's answer, so a refusal raises here, not later on an unrelated call.
* ``basic_publish(immediate=True)`` raises
  :class:`~kombu_lite.exceptions.ConfigurationError` before anything is
  sent, and ``flow(False)`` raises :class:`NotImplementedError`: RabbitMQ
  answers both by closing the whole connection.

The messages handed out (by ``basic_get``, to ``basic_consume`` callbacks,
by ``message_to_python``) are :class:`kombu_lite.Message` objects, which
carry what a py-amqp message carries (``body``, ``delivery_tag``,
``delivery_info``, ``properties``, ``headers``, ``channel``) and also
``ack()``, ``reject()`` and ``decode()``.  What they decode is json only
unless their ``accept`` is widened.

The core's own publish and consume paths use the methods named with an
underscore (:meth:`AmqpChannel._publish_encoded`,
:meth:`AmqpChannel._consume`), which take kombu_lite's types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.exceptions import immediate_error
from kombu_lite.message import Message, PreparedMessage
from kombu_lite.transport.base import Delivery

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from kombu_lite.transport.base import (
        BasicProperties,
        QueueDeclareOk,
        ReturnedMessage,
        WireChannel,
    )

__all__ = ["AmqpChannel"]


class AmqpChannel:
    """The AMQP operations; :class:`~kombu_lite.channel.Channel` is the one subclass.

    Each operation blocks until the broker answered (except acks, rejects
    and publishes, which the broker does not answer) and raises what the
    transport contract says (:mod:`kombu_lite.transport.base`).
    """

    __slots__ = ("_wire", "confirming")

    _wire: WireChannel
    confirming: bool

    def _confirm_timeout(self) -> float | None:
        raise NotImplementedError  # pragma: no cover - Channel defines it

    # -- exchanges ---------------------------------------------------------------

    def exchange_declare(
        self,
        exchange: str,
        type: str,  # noqa: A002 - py-amqp's parameter name
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = True,
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
        *,
        internal: bool = False,
    ) -> None:
        """Declare an exchange (``passive`` only checks that it exists).

        py-amqp's defaults: not durable, auto-delete.  ``internal`` is
        kombu_lite's extra (only other exchanges may publish to it).

        Raises:
            PreconditionFailed: it exists with other settings.
            NotFound: ``passive`` and it does not exist.
        """
        del nowait
        self._wire.exchange_declare(
            exchange,
            type,
            passive=passive,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=arguments,
        )

    def exchange_delete(
        self, exchange: str, if_unused: bool = False, nowait: bool = False
    ) -> None:
        """Delete an exchange; deleting a missing one is not an error."""
        del nowait
        self._wire.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        del nowait
        self._wire.exchange_bind(destination, source, routing_key, arguments)

    def exchange_unbind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        del nowait
        self._wire.exchange_unbind(destination, source, routing_key, arguments)

    # -- queues --------------------------------------------------------------------

    def queue_declare(
        self,
        queue: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = True,
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> QueueDeclareOk:
        """Declare a queue; return ``(queue, message_count, consumer_count)``.

        ``queue=''`` lets the broker name it (the name is in the result).
        py-amqp's defaults: not durable, auto-delete.  The result is a
        named tuple, returned with ``nowait`` too (py-amqp returns None).

        Raises:
            PreconditionFailed: it exists with other settings.
            NotFound: ``passive`` and it does not exist.
        """
        del nowait
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
        exchange: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue to an exchange."""
        del nowait
        self._wire.queue_bind(queue, exchange, routing_key, arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        del nowait
        self._wire.queue_unbind(queue, exchange, routing_key, arguments)

    def queue_purge(self, queue: str = "", nowait: bool = False) -> int:
        """Drop the ready messages of a queue; return how many."""
        del nowait
        return self._wire.queue_purge(queue)

    def queue_delete(
        self,
        queue: str = "",
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
    ) -> int:
        """Delete a queue; return how many messages it held.

        Deleting a missing queue is not an error (it held 0 messages).
        """
        del nowait
        return self._wire.queue_delete(queue, if_unused=if_unused, if_empty=if_empty)

    # -- publishing ----------------------------------------------------------------

    def prepare_message(
        self,
        body: bytes | str,
        priority: int | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        headers: Mapping[str, object] | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> PreparedMessage:
        """Build the raw message :meth:`basic_publish` sends, as kombu's transports.

        ``properties`` holds the other AMQP properties (``delivery_mode``,
        ``correlation_id``...); ``application_headers`` there is taken as
        ``headers``, and kombu's ``delivery_info`` entry is ignored.  A
        ``str`` body is encoded with ``content_encoding`` (utf-8 if unset).

        Raises:
            ConfigurationError: an unknown property name.
            EncodeError: a ``str`` body its encoding cannot encode.
        """
        props = dict(properties or {})
        props.pop("delivery_info", None)
        options = {
            key: value
            for key, value in (
                ("priority", priority),
                ("content_type", content_type),
                ("content_encoding", content_encoding),
                ("headers", headers),
            )
            if value is not None
        }
        return PreparedMessage.build(body, None, props, options)

    def basic_publish(
        self,
        msg: PreparedMessage,
        exchange: str = "",
        routing_key: str = "",
        mandatory: bool = False,
        immediate: bool = False,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
    ) -> None:
        """Publish a message built by :meth:`prepare_message`.

        On a channel with confirms on (:meth:`confirm_select`), it returns
        once the broker confirmed the message, waiting up to
        ``confirm_timeout`` (default: the connection's), as py-amqp's
        confirming publish does.  ``timeout`` is accepted for py-amqp's
        sake; the connection's own timeouts bound the write.

        Raises:
            ConfigurationError: ``immediate=True`` (RabbitMQ would close
                the connection); nothing was sent.
            TypeError: ``msg`` is not a prepared message.
            MessageNacked: (confirms on) the broker refused the message.
            ConfirmTimeout: (confirms on) no confirm in time; the outcome
                is unknown.
        """
        del timeout
        if immediate:
            raise immediate_error()
        if not isinstance(msg, PreparedMessage):
            raise TypeError(
                f"basic_publish needs a message from channel.prepare_message(), "
                f"not {type(msg).__name__}"
            )
        tag = self._wire.basic_publish(
            msg.body, msg.properties, exchange, routing_key, mandatory=mandatory
        )
        if self.confirming:
            wait = (
                self._confirm_timeout() if confirm_timeout is None else confirm_timeout
            )
            self._wire.wait_for_confirm(tag, wait)

    def _publish_encoded(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> int:
        """The core's publish: send one message; return its delivery tag.

        The tag is 0 without confirms.  When this returns the frames were
        handed to the connection; without confirms that says nothing about
        the broker.
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

    def confirm_select(self, nowait: bool = False) -> None:
        """Turn on publisher confirms (once; later calls do nothing)."""
        del nowait
        self.enable_confirms()

    def enable_confirms(self) -> None:
        """Turn on publisher confirms (once; later calls do nothing)."""
        if not self.confirming:
            self._wire.confirm_select()
            self.confirming = True

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

    # -- consuming -----------------------------------------------------------------

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        a_global: bool = False,
        *,
        apply_global: bool | None = None,
    ) -> None:
        """Limit how many unacknowledged deliveries the broker sends.

        The third argument is py-amqp's ``a_global``; kombu's memory
        transport calls it ``apply_global``, accepted too.
        """
        self._wire.basic_qos(
            prefetch_size=prefetch_size,
            prefetch_count=prefetch_count,
            apply_global=a_global if apply_global is None else apply_global,
        )

    def basic_get(self, queue: str = "", no_ack: bool = False) -> Message | None:
        """Fetch one message from a queue, or None when it is empty.

        The message's ``accept`` is json only, as every kombu_lite message's.
        """
        delivery = self._wire.basic_get(queue, no_ack=no_ack)
        if delivery is None:
            return None
        return Message(delivery, self, no_ack=no_ack)

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``)."""
        self._wire.basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery; ``requeue`` puts it back in its queue."""
        self._wire.basic_reject(delivery_tag, requeue=requeue)

    def basic_recover(self, requeue: bool = False) -> None:
        """Redeliver every unacknowledged message of this channel.

        RabbitMQ always requeues (its ``requeue=False`` is not
        implemented), as py-amqp's and kombu's ``basic_recover`` do there.
        """
        self._wire.basic_recover(requeue=requeue)

    def basic_consume(
        self,
        queue: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        nowait: bool = False,
        callback: Callable[[Message], object] | None = None,
        arguments: Mapping[str, object] | None = None,
        on_cancel: Callable[[str], object] | None = None,
    ) -> str:
        """Start a consumer; return its tag (the broker's, if ``''``).

        ``callback(message)`` runs inside ``drain_events`` for each
        delivery, with a :class:`~kombu_lite.Message`; a consumer without a
        callback drops what it receives (ack it by tag).
        ``on_cancel(consumer_tag)`` runs when the broker cancels the
        consumer (its queue was deleted, for example).  ``no_local`` is
        accepted for py-amqp's sake: RabbitMQ does not implement it.
        """
        del no_local, nowait

        def deliver(delivery: Delivery) -> None:
            message = Message(delivery, self, no_ack=no_ack)
            if callback is not None:
                callback(message)

        def cancelled(tag: str) -> None:
            if on_cancel is not None:
                on_cancel(tag)

        return self._wire.basic_consume(
            queue,
            deliver,
            consumer_tag=consumer_tag,
            no_ack=no_ack,
            exclusive=exclusive,
            arguments=arguments,
            on_cancel=None if on_cancel is None else cancelled,
        )

    def _consume(
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
        """The core's consume: ``callback`` gets each raw :class:`Delivery`."""
        return self._wire.basic_consume(
            queue,
            callback,
            consumer_tag=consumer_tag,
            no_ack=no_ack,
            exclusive=exclusive,
            arguments=arguments,
            on_cancel=on_cancel,
        )

    def basic_cancel(self, consumer_tag: str, nowait: bool = False) -> None:
        """Stop a consumer; unknown tags are ignored."""
        del nowait
        self._wire.basic_cancel(consumer_tag)

    def message_to_python(self, raw_message: Message | Delivery) -> Message:
        """The :class:`~kombu_lite.Message` for a received message.

        A message this channel handed out is returned as it is; a raw
        :class:`~kombu_lite.transport.base.Delivery` is wrapped.

        Raises:
            TypeError: anything else.
        """
        if isinstance(raw_message, Message):
            return raw_message
        if isinstance(raw_message, Delivery):
            return Message(raw_message, self)
        raise TypeError(
            f"message_to_python needs a received message, "
            f"not {type(raw_message).__name__}"
        )

    def flow(self, active: bool) -> None:
        """Enable or disable the flow of deliveries (``channel.flow``).

        Flow is always on: ``flow(True)`` does nothing.

        Raises:
            NotImplementedError: ``flow(False)``; RabbitMQ does not
                implement it and would close the connection.  Stop a
                consumer with :meth:`basic_cancel`, or limit it with
                :meth:`basic_qos`, instead.
        """
        if not active:
            raise NotImplementedError(
                "channel.flow(active=False) is not supported: RabbitMQ closes "
                "the connection on it; use basic_cancel or basic_qos instead"
            )
