"""One AMQP channel over py-amqp: its state, its calls, and the broker's close.

What the channel needs from its connection is
:class:`~.contract.ChannelConnection`;
publishing and confirms are :mod:`.publishing`'s, consumers
:mod:`.consuming`'s.  The channel's life (open, confirming, closed) is a
:class:`~kombu_lite.transport.channel_state.ChannelLifecycle`.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from typing import TYPE_CHECKING, Any

from amqp import exceptions as amqp_errors
from amqp import spec

from kombu_lite._log import get_logger
from kombu_lite.exceptions import (
    ChannelClosed,
    ChannelError,
    ConnectionLost,
    RpcTimeout,
)
from kombu_lite.transport.base import QueueDeclareOk
from kombu_lite.transport.channel_state import ChannelEvent, ChannelLifecycle
from kombu_lite.transport.channel_state import ChannelState as _State
from kombu_lite.transport.pyamqp._mapping import map_amqp_errors, translate
from kombu_lite.transport.pyamqp._messages import delivery_from
from kombu_lite.transport.pyamqp.acks import Settler
from kombu_lite.transport.pyamqp.consuming import ChannelConsumers
from kombu_lite.transport.pyamqp.publishing import Publisher

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from kombu_lite.transport.base import BasicProperties, Delivery, ReturnedMessage
    from kombu_lite.transport.pyamqp.contract import ChannelConnection

__all__ = ["PyAmqpChannel"]

_log = get_logger(__name__)
_USABLE = (_State.OPEN, _State.CONFIRMING)


class PyAmqpChannel:
    """One channel over py-amqp (a :class:`~.base.WireChannel`)."""

    def __init__(self, connection: ChannelConnection, channel: Any) -> None:
        self._conn = connection
        self._ch = channel
        # Bodies stay bytes: decoding is the serializer's job, after the
        # accept-list check (py-amqp would decode by content_encoding).
        channel.auto_decode = False
        # py-amqp forgets the number once the channel closes; errors name it.
        self._channel_id = int(channel.channel_id)
        #: Open, confirming or closed; why; the broker's error not yet
        #: reported (it goes to the first call after the close).
        self.lifecycle = ChannelLifecycle()
        self._publisher = Publisher(self, connection, channel)
        #: basic_publish with the frames around the body prepared once.
        self.prepare_publish = self._publisher.prepare
        self._local = threading.local()
        #: Held for each call that waits for a reply on this channel.
        self._rpc_lock = threading.RLock()
        channel._callbacks[spec.Channel.Close] = self._on_broker_close
        self._consumers = ChannelConsumers(self, channel, connection.reader)
        self._settler = Settler(self, connection, channel)
        channel._callbacks[spec.Basic.Deliver] = self._consumers.on_deliver
        channel._callbacks[spec.Basic.Cancel] = self._consumers.on_cancel

    @property
    def channel_id(self) -> int:
        """The channel number."""
        return self._channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel or the connection broke."""
        # Asked before each publish: ChannelLifecycle.usable inlined.
        usable = self.lifecycle.state in _USABLE
        return usable and bool(self._ch.is_open) and self._conn.is_connected

    def mark_closed(self, reason: str) -> None:
        """Remember why the broker closed the channel; drop py-amqp's revival."""
        if self.lifecycle.usable:
            self.lifecycle.close(reason)
            # py-amqp re-opened the channel under the same number; close it
            # so the broker does not keep an unused channel around.
            with contextlib.suppress(Exception):
                self._ch.close()

    def check(self) -> None:
        """Raise why the channel cannot be used, if it cannot.

        The broker's error is raised once, to the first call after the
        close; later calls get ChannelClosed like on any closed channel.
        """
        life = self.lifecycle
        error = life.error
        if error is not None:
            life.error = None
            raise error
        if life.reason is not None:
            raise ChannelClosed(
                f"channel {self.channel_id} was closed ({life.reason}); "
                f"open a new channel",
                reply_text=life.reason,
            )
        if not self._ch.is_open:
            raise ChannelClosed(f"channel {self.channel_id} is closed")

    @contextlib.contextmanager
    def _op(self, *, answered: bool = True) -> Iterator[None]:
        """Run one operation of this channel: errors mapped, ownership known.

        While the calling thread is inside, a ``channel.close`` from the
        broker for this channel is raised to it; otherwise it is kept for
        this channel's next call (see :meth:`_on_broker_close`).
        ``answered`` is False for methods the broker does not reply to.
        """
        local = self._local
        local.depth = getattr(local, "depth", 0) + 1
        try:
            # No connection-wide lock: the reply is read by whichever thread
            # reads next (see reader.py).  One call at a time per channel,
            # though: py-amqp expects one reply per method and channel, so
            # two threads' confirm.select on one channel would take each
            # other's answer (and one would wait for ever).
            with contextlib.ExitStack() as stack:
                if answered:
                    stack.enter_context(self._rpc_lock)
                stack.enter_context(map_amqp_errors(self._conn.errors, self))
                yield
            if answered:
                # The broker answered on this channel, so it accepted every
                # message sent on it before (frames are handled in order).
                self._publisher.unconfirmed = 0
        except RpcTimeout as exc:
            # The reader closed the channel: later calls say why.
            self.lifecycle.close(f"no reply to {exc.method} in {exc.timeout}s")
            raise
        except ConnectionLost:
            life = self.lifecycle
            if life.error is not None or (
                life.reason is not None and self._conn.is_connected
            ):
                # The channel was closed while this call waited (another
                # thread read the broker's channel.close, or closed it):
                # this call gets the broker's error, or ChannelClosed.
                self.check()
            raise
        finally:
            local.depth -= 1

    def _on_broker_close(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int
    ) -> None:
        """The broker closed this channel (py-amqp's handler, replaced).

        py-amqp would re-open the channel under the same number (a blocking
        call inside the frame reader) and raise the error to whichever call
        happened to read the frame, possibly one on another channel.  Here
        the error belongs to this channel: it is raised to this channel's
        own call in progress, or kept for its next call.
        """
        raw = self._ch
        error = translate(
            amqp_errors.error_for_code(
                reply_code, reply_text, (class_id, method_id), amqp_errors.ChannelError
            ),
            self._conn.errors,
        )
        assert isinstance(error, ChannelError)  # the table's channel-error row
        # Before the close-ok, which takes the write lock: a publish in
        # another thread sees this under that lock and writes nothing, as a
        # frame after the close-ok makes the broker close the connection.
        self.lifecycle.close(f"{reply_code} {reply_text}", error=error, replace=True)
        publisher = self._publisher
        publisher.book.forget_returns()
        with contextlib.suppress(Exception):
            raw.send_method(spec.Channel.CloseOk)
        with contextlib.suppress(Exception):
            raw.collect()
        if publisher.unconfirmed:
            _log.warning(
                "the broker closed channel %s (%s %s); %d message(s) published "
                "on it without publisher confirms may have been dropped: turn "
                "on confirm_publish to learn which",
                self._channel_id,
                reply_code,
                reply_text,
                publisher.unconfirmed,
            )
        self._conn.confirm_arrived()
        if getattr(self._local, "depth", 0):
            self.lifecycle.error = None
            raise error

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
        self.check()
        with self._op():
            # Sent by hand: py-amqp's exchange_declare always clears the
            # method's ``internal`` bit, and RabbitMQ reads ``internal``
            # only from that bit (an ``internal`` argument is ignored).
            # Fields: reserved, name, type, passive, durable, auto_delete,
            # internal, nowait (we always wait), arguments.
            self._ch.send_method(
                spec.Exchange.Declare,
                "BssbbbbbF",
                (
                    0,
                    exchange,
                    exchange_type,
                    passive,
                    durable,
                    auto_delete,
                    internal,
                    False,
                    dict(arguments) if arguments else None,
                ),
                wait=spec.Exchange.DeclareOk,
            )

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange."""
        self.check()
        with self._op():
            self._ch.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange to exchange."""
        self.check()
        with self._op():
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
        self.check()
        with self._op():
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
        self.check()
        with self._op():
            # Sent by hand: py-amqp's queue_declare starts waiting only after
            # the send, and another thread may read the reply before that.
            # Fields: reserved, name, passive, durable, exclusive,
            # auto_delete, nowait (we always wait), arguments.
            name, messages, consumers = self._ch.send_method(
                spec.Queue.Declare,
                "BsbbbbbF",
                (0, queue, passive, durable, exclusive, auto_delete, False, arguments),
                wait=spec.Queue.DeclareOk,
                returns_tuple=True,
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
        self.check()
        with self._op():
            self._ch.queue_bind(queue, exchange, routing_key, arguments=arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        self.check()
        with self._op():
            self._ch.queue_unbind(queue, exchange, routing_key, arguments=arguments)

    def queue_purge(self, queue: str) -> int:
        """Drop a queue's ready messages."""
        self.check()
        with self._op():
            return int(self._ch.queue_purge(queue) or 0)

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue."""
        self.check()
        with self._op():
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
    ) -> int:
        """Send one message; return its delivery tag when confirms are on.

        Raises:
            EncodeError: a name or property does not fit its AMQP type;
                nothing was sent.
        """
        return self._publisher.publish(
            body, properties, exchange, routing_key, mandatory
        )

    def basic_publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> list[int]:
        """Send several messages with a single write; return their delivery
        tags in order when confirms are on (zeros otherwise).

        Raises:
            EncodeError: a message does not fit its AMQP types; nothing of
                the batch was sent.
            ConnectionLost: the write failed; each message of the batch
                may or may not have reached the broker.
        """
        return self._publisher.publish_batch(messages, exchange, routing_key, mandatory)

    def confirm_select(self) -> None:
        """Turn on publisher confirms for this channel."""
        self.check()
        if self.lifecycle.confirming:
            return
        with self._op():
            self._ch.confirm_select()
        self._publisher.select()
        self.lifecycle.move(ChannelEvent.SELECT_CONFIRMS)

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """Wait for the broker's ack or nack of ``delivery_tag``."""
        return self._publisher.wait_for_confirm(delivery_tag, timeout)

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Route ``basic.return`` to ``handler``."""
        self._publisher.on_return = handler

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message, or None."""
        self.check()
        with self._op():
            message = self._ch.basic_get(queue, no_ack=no_ack)
        if message is None:
            return None
        return delivery_from(
            message, int(message.delivery_info.get("message_count", 0))
        )

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery (one frame, one write: see acks.py)."""
        self._settler.ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery."""
        self._settler.reject(delivery_tag, requeue)

    def requeue(self, delivery_tag: int) -> None:
        """Give a delivery no consumer takes back to the broker; never raises."""
        with contextlib.suppress(Exception):
            self._settler.reject(delivery_tag, True)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver the unacknowledged messages."""
        self.check()
        with self._op():
            self._ch.basic_recover(requeue=requeue)

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Set the prefetch limits."""
        self.check()
        with self._op():
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
        self.check()
        # Named here, not by the broker, and known before consume-ok (see
        # ChannelConsumers.add).
        tag = consumer_tag or "amq.ctag-" + secrets.token_urlsafe(16)
        consumers = self._consumers
        consumers.add(tag, callback, no_ack, on_cancel)
        try:
            with self._op():
                self._ch.basic_consume(
                    queue,
                    consumer_tag=tag,
                    no_ack=no_ack,
                    exclusive=exclusive,
                    arguments=arguments,
                )
        except BaseException:
            consumers.discard(tag)
            raise
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer.

        Its deliveries still queued on the connection are not handed to
        its callback once this returned: they are given back to the broker.
        """
        self.check()
        with self._op():
            self._ch.basic_cancel(consumer_tag)
        self._consumers.remove(consumer_tag)

    def close(self) -> None:
        """Close the channel; never raises."""
        self.lifecycle.close("closed by the application")
        self._publisher.book.forget_returns()
        # A broken connection or an already-closed channel is fine here;
        # the wait for close-ok is bounded by rpc_timeout.
        with contextlib.suppress(Exception):
            self._ch.close()
        # The broker requeued its deliveries not handed out yet.
        self._conn.reader.withdraw(self)
