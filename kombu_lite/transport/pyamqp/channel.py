"""One AMQP channel over py-amqp, publisher confirms included."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from amqp import exceptions as amqp_errors
from amqp import spec

from kombu_lite._log import get_logger
from kombu_lite.exceptions import (
    ChannelClosed,
    ChannelError,
    ConfirmTimeout,
    ConnectionLost,
    MessageNacked,
    RpcTimeout,
)
from kombu_lite.transport.base import QueueDeclareOk, ReturnedMessage
from kombu_lite.transport.pyamqp._mapping import (
    body_of,
    delivery_from,
    mapped,
    properties_from,
    typed_channel_error,
)
from kombu_lite.transport.pyamqp.framing import (
    ConnectionWriter,
    PublishFramer,
    writer_for,
)
from kombu_lite.transport.pyamqp.reader import Queued

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from kombu_lite.transport.base import BasicProperties, Delivery
    from kombu_lite.transport.pyamqp.connection import PyAmqpConnection

__all__ = ["PyAmqpChannel"]

_log = get_logger(__name__)

#: What a ``basic.return`` is matched on: exchange and routing key as
#: published, and the body (the publisher's own bytes object, not a copy).
_ReturnKey = tuple[str, str, bytes]


class _Return:
    """A ``basic.return`` not yet matched to the publish it returns."""

    __slots__ = ("bound", "key", "matched", "message")

    def __init__(self, bound: int, key: _ReturnKey, message: ReturnedMessage) -> None:
        #: The highest delivery tag given out when it arrived: its own is
        #: not above (the message was written before its return came back).
        self.bound = bound
        self.key = key
        self.message = message
        self.matched = False


class _Consumer(NamedTuple):
    """A consumer of a channel, as basic_consume registered it."""

    callback: Callable[[Any], None]
    no_ack: bool
    on_cancel: Callable[[str], None] | None


class PyAmqpChannel:
    """One channel over py-amqp (a :class:`~.base.WireChannel`)."""

    # Set up by the first publish (see _start_framing).
    _framer: PublishFramer | None = None
    _writer: ConnectionWriter

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
        # Publisher confirms, tracked by our own delivery tags: py-amqp's
        # basic_publish_confirm takes *any* ack as its own, so a late ack
        # would confirm the wrong message and a nack could pass as an ack.
        self._confirming = False
        self._next_tag = 0
        self._pending: deque[int] = deque()
        self._outcomes: dict[int, bool] = {}
        # Returns, matched to their publish when its confirm settles it;
        # see _dispatch_return for why not by arrival order.
        self._returned: dict[int, ReturnedMessage] = {}
        self._return_keys: dict[int, _ReturnKey] = {}
        self._unmatched: dict[_ReturnKey, deque[_Return]] = {}
        self._arrivals: deque[_Return] = deque()
        # Messages sent without confirms since the last call that heard back
        # from the broker: reported if the broker closes the channel.
        self._unconfirmed = 0
        self._broker_error: ChannelError | None = None
        self._local = threading.local()
        #: Held for each call that waits for a reply on this channel.
        self._rpc_lock = threading.RLock()
        channel._callbacks[spec.Channel.Close] = self._on_broker_close
        # Deliveries and the broker's cancels are queued on the connection
        # by whichever thread reads them, and handed out by drain_events
        # (see reader.py): never nested in a confirm wait or a declare.
        self._consumers: dict[str, _Consumer] = {}
        channel._callbacks[spec.Basic.Deliver] = self._on_deliver
        channel._callbacks[spec.Basic.Cancel] = self._on_cancel

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

    def _check(self) -> None:
        error = self._broker_error
        if error is not None:
            # Reported once, to the first call after the close; later calls
            # get ChannelClosed like on any closed channel.
            self._broker_error = None
            raise error
        if self._closed_reason is not None:
            raise ChannelClosed(
                f"channel {self.channel_id} was closed ({self._closed_reason}); "
                f"open a new channel",
                reply_text=self._closed_reason,
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
                stack.enter_context(mapped(self._conn.where, self))
                yield
            if answered:
                # The broker answered on this channel, so it accepted every
                # message sent on it before (frames are handled in order).
                self._unconfirmed = 0
        except RpcTimeout as exc:
            # The reader closed the channel: later calls say why.
            if self._closed_reason is None:
                self._closed_reason = f"no reply to {exc.method} in {exc.timeout}s"
            raise
        except ConnectionLost:
            if self._broker_error is not None or (
                self._closed_reason is not None and self._conn.is_connected
            ):
                # The channel was closed while this call waited (another
                # thread read the broker's channel.close, or closed it):
                # this call gets the broker's error, or ChannelClosed.
                self._check()
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
        error = typed_channel_error(
            amqp_errors.error_for_code(
                reply_code, reply_text, (class_id, method_id), amqp_errors.ChannelError
            )
        )
        self._broker_error = error
        # Before the close-ok, which takes the write lock: a publish in
        # another thread sees this under that lock and writes nothing, as a
        # frame after the close-ok makes the broker close the connection.
        self._closed_reason = f"{reply_code} {reply_text}"
        self._forget_returns()
        with contextlib.suppress(Exception):
            raw.send_method(spec.Channel.CloseOk)
        with contextlib.suppress(Exception):
            raw.collect()
        if self._unconfirmed:
            _log.warning(
                "the broker closed channel %s (%s %s); %d message(s) published "
                "on it without publisher confirms may have been dropped: turn "
                "on confirm_publish to learn which",
                self._channel_id,
                reply_code,
                reply_text,
                self._unconfirmed,
            )
        self._conn.confirm_arrived()
        if getattr(self._local, "depth", 0):
            self._broker_error = None
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
        self._check()
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
        self._check()
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
        self._check()
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
        self._check()
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
        self._check()
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
        self._check()
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
        self._check()
        with self._op():
            self._ch.queue_unbind(queue, exchange, routing_key, arguments=arguments)

    def queue_purge(self, queue: str) -> int:
        """Drop a queue's ready messages."""
        self._check()
        with self._op():
            return int(self._ch.queue_purge(queue) or 0)

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue."""
        self._check()
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
        if (
            self._broker_error is not None
            or self._closed_reason is not None
            or not self._ch.is_open
        ):
            self._check()  # raises the reason
        conn = self._conn
        # Must stay first: waits while the broker blocks publishing (see
        # PyAmqpConnection.before_publish), so nothing is written then.
        # Called only when it has something to do: blocked, or time to
        # look at the socket (the same test it starts with).
        if conn.blocked_reason is not None or time.monotonic() >= conn.next_poll:
            conn.before_publish()
        framer = self._framer or self._start_framing()
        data = framer.encode(body, properties, exchange, routing_key, mandatory)
        if not self._confirming:
            try:
                written = self._writer.write(data, self._refuses_writes)
            except Exception as exc:  # noqa: BLE001 - mapped like _send_publish
                self._write_failed(exc)
            if not written:
                self._check()  # raises why
            self._unconfirmed += 1
            return 0
        # The tag and the write must happen together: the broker numbers
        # messages in the order their frames arrive on the channel.
        with self._conn.publish_lock:
            self._next_tag += 1
            tag = self._next_tag
            self._pending.append(tag)
            if mandatory:
                # Before the write: the return may be read at once.
                self._return_keys[tag] = (exchange, routing_key, _as_bytes(body))
            self._send_publish(data)
        return tag

    def basic_publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> list[int]:
        """Send several messages with a single write; return their tags.

        The tags are the messages' delivery tags, in order, when confirms
        are on (zeros otherwise).  Used by pipelined publishing: one write
        per batch instead of one per message.

        Raises:
            EncodeError: a message does not fit its AMQP types; nothing of
                the batch was sent.
            ConnectionLost: the write failed; each message of the batch
                may or may not have reached the broker.
        """
        self._check()
        self._conn.before_publish()
        framer = self._framer or self._start_framing()
        encode = framer.encode
        data = b"".join(
            [
                encode(body, properties, exchange, routing_key, mandatory)
                for body, properties in messages
            ]
        )
        count = len(messages)
        if not self._confirming:
            self._send_publish(data)
            self._unconfirmed += count
            return [0] * count
        with self._conn.publish_lock:
            first = self._next_tag + 1
            self._next_tag += count
            tags = list(range(first, first + count))
            self._pending.extend(tags)
            if mandatory:
                keys = self._return_keys
                for tag, (body, _properties) in zip(tags, messages, strict=True):
                    keys[tag] = (exchange, routing_key, _as_bytes(body))
            self._send_publish(data)
        return tags

    def _start_framing(self) -> PublishFramer:
        writer = writer_for(self._ch.connection)
        self._writer = writer
        framer = PublishFramer(self._channel_id, writer.frame_max)
        self._framer = framer
        return framer

    def _send_publish(self, data: bytes) -> None:
        # Straight to the socket, in one write under the connection's frame
        # lock: py-amqp's basic_publish first reads from the socket
        # (drain_events(timeout=0), to notice connection.blocked), outside
        # any lock, racing the thread that reads confirms; and its frame
        # writer re-encodes everything that framing.py caches.
        try:
            written = self._writer.write(data, self._refuses_writes)
        except Exception as exc:  # noqa: BLE001 - every error is mapped
            self._write_failed(exc)
        if not written:
            self._check()  # raises why

    def _refuses_writes(self) -> bool:
        # Asked under the write lock.  True once a channel.close was read,
        # by this thread's pre-publish poll or by another thread (see
        # _on_broker_close): a frame after the close-ok would be dropped
        # and make the broker close the whole connection.
        return self._closed_reason is not None

    def _write_failed(self, exc: Exception) -> NoReturn:
        """Raise kombu_lite's error for a failed write of publish frames."""
        if isinstance(exc, TimeoutError | BlockingIOError):
            raise self._conn.write_stalled(exc) from exc
        # Socket errors become ConnectionLost, as in every other call.
        with mapped(self._conn.where, self):
            raise exc

    def confirm_select(self) -> None:
        """Turn on publisher confirms for this channel."""
        self._check()
        if self._confirming:
            return
        with self._op():
            self._ch.confirm_select()
        self._ch.events["basic_ack"].add(self._on_ack)
        self._ch.events["basic_nack"].add(self._on_nack)
        self._confirming = True

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(int(delivery_tag), bool(multiple), acked=True)

    def _on_nack(self, delivery_tag: int, multiple: bool, *_rest: object) -> None:
        self._settle(int(delivery_tag), bool(multiple), acked=False)

    def _settle(self, tag: int, multiple: bool, *, acked: bool) -> None:
        # Runs in the thread reading frames (under the read lock).  A
        # return is matched before the outcome is stored: a waiter in
        # another thread takes both as soon as it sees the outcome.
        pending = self._pending
        outcomes = self._outcomes
        keys = self._return_keys
        if multiple:
            while pending and pending[0] <= tag:
                settled = pending.popleft()
                if keys:
                    self._match_return(settled, acked)
                outcomes[settled] = acked
        elif pending and pending[0] == tag:
            pending.popleft()
            if keys:
                self._match_return(tag, acked)
            outcomes[tag] = acked
        else:
            with contextlib.suppress(ValueError):
                pending.remove(tag)
                if keys:
                    self._match_return(tag, acked)
                outcomes[tag] = acked
        if self._arrivals:
            self._drop_stale_returns()
        self._conn.confirm_arrived()

    def _match_return(self, tag: int, acked: bool) -> None:
        """Give a settled ``mandatory`` message the return that is its own."""
        key = self._return_keys.pop(tag, None)
        # A nacked message was not returned (RabbitMQ acks a returned one).
        if key is None or not acked:
            return
        bucket = self._unmatched.get(key)
        if not bucket:
            return
        entry = bucket.popleft()
        if not bucket:
            self._unmatched.pop(key, None)
        entry.matched = True
        self._returned[tag] = entry.message

    def _drop_stale_returns(self) -> None:
        """Forget returns whose message is settled without claiming them.

        A return's message was still unsettled when the return arrived,
        with a tag no higher than the return's ``bound``; once no tag up to
        ``bound`` is pending, that message settled, so the return belonged
        to a message sent without confirms and nothing will claim it.
        """
        arrivals = self._arrivals
        pending = self._pending
        while arrivals:
            entry = arrivals[0]
            if not entry.matched:
                if pending and pending[0] <= entry.bound:
                    return
                # The oldest unmatched return of its key: its bucket's head
                # (buckets lose entries from the head only, in arrival order).
                bucket = self._unmatched.get(entry.key)
                if bucket:
                    bucket.popleft()
                    if not bucket:
                        self._unmatched.pop(entry.key, None)
            arrivals.popleft()

    def _forget_returns(self) -> None:
        # New objects rather than clear(): the reading thread may be using
        # the old ones.
        self._return_keys = {}
        self._unmatched = {}
        self._arrivals = deque()

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """Wait for the broker's ack or nack of ``delivery_tag``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        outcomes = self._outcomes
        blocked_since: float | None = None
        conn = self._conn
        while True:
            # Read before looking at outcomes: a confirm another thread
            # reads after the look then ends the wait at once.
            seen = conn.generation
            if delivery_tag in outcomes:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ConfirmTimeout(
                    f"no publisher confirm for message {delivery_tag} on channel "
                    f"{self._channel_id} within {timeout}s: the outcome is unknown "
                    f"(the broker may or may not have enqueued it)",
                    delivery_tag=delivery_tag,
                )
            # A blocked broker reads nothing: the wait is bounded by
            # blocked_connection_timeout as well.
            blocked_since, blocked_left = self._conn.blocked_during_confirm(
                blocked_since, delivery_tag
            )
            if blocked_left is not None and (
                remaining is None or blocked_left < remaining
            ):
                remaining = blocked_left
            self._check()
            conn.wait_for_event(remaining, self, seen)
        acked = outcomes.pop(delivery_tag)
        returned = self._returned.pop(delivery_tag, None)
        if not acked:
            raise MessageNacked(
                f"the broker refused message {delivery_tag} on channel "
                f"{self._channel_id} (basic.nack): it was not enqueued",
                delivery_tag=delivery_tag,
            )
        return returned

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message, or None."""
        self._check()
        with self._op():
            message = self._ch.basic_get(queue, no_ack=no_ack)
        if message is None:
            return None
        return delivery_from(
            message, int(message.delivery_info.get("message_count", 0))
        )

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery."""
        self._check()
        with self._op(answered=False):
            self._ch.basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery."""
        self._check()
        with self._op(answered=False):
            self._ch.basic_reject(delivery_tag, requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver the unacknowledged messages."""
        self._check()
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
        self._check()
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
        self._check()

        def deliver(message: Any) -> None:
            callback(delivery_from(message))

        # Named here, not by the broker, and known before consume-ok: a
        # thread reading for another thread may read the first delivery
        # right after the consume-ok, before this call has returned.
        tag = consumer_tag or "amq.ctag-" + secrets.token_urlsafe(16)
        consumers = self._consumers
        consumers[tag] = _Consumer(deliver, no_ack, on_cancel)
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
            consumers.pop(tag, None)
            raise
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer.

        Its deliveries still queued on the connection are not handed to
        its callback once this returned: they are given back to the broker.
        """
        self._check()
        with self._op():
            self._ch.basic_cancel(consumer_tag)
        self._consumers.pop(consumer_tag, None)
        # Its deliveries not handed out yet go back to the queue now.
        for item in self._conn.reader.withdraw(self, consumer_tag):
            item.run()

    def _on_deliver(
        self,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        message: Any,
    ) -> None:
        # py-amqp's handler, replaced: runs in the reading thread.
        message.delivery_info = {
            "consumer_tag": consumer_tag,
            "delivery_tag": delivery_tag,
            "redelivered": redelivered,
            "exchange": exchange,
            "routing_key": routing_key,
        }
        consumer = self._consumers.get(consumer_tag)
        self._conn.reader.defer(
            Queued(
                self,
                consumer_tag,
                partial(self._hand_out, consumer_tag, consumer, delivery_tag, message),
            )
        )

    def _hand_out(
        self,
        consumer_tag: str,
        consumer: _Consumer | None,
        delivery_tag: int,
        message: Any,
    ) -> bool:
        """Give a queued delivery to its consumer; runs in drain_events."""
        if not self.is_open:
            # The broker requeued every unacknowledged delivery of the
            # channel when it closed: this one comes again.
            if consumer is not None and consumer.no_ack:
                _log.warning(
                    "delivery %s for consumer %s (no_ack) arrived on channel %s "
                    "but the channel closed before drain_events handed it out: "
                    "the message is lost",
                    delivery_tag,
                    consumer_tag,
                    self._channel_id,
                )
            return False
        if consumer is not None and self._consumers.get(consumer_tag) is consumer:
            consumer.callback(message)
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
        with contextlib.suppress(Exception), mapped(self._conn.where, self):
            self._ch.basic_reject(delivery_tag, requeue=True)
        return False

    def _on_cancel(self, consumer_tag: str) -> None:
        # The broker cancelled a consumer (its queue was deleted...).  Queued
        # behind the consumer's deliveries, which it still gets.
        self._conn.reader.defer(
            Queued(self, consumer_tag, partial(self._hand_out_cancel, consumer_tag))
        )

    def _hand_out_cancel(self, consumer_tag: str) -> bool:
        consumer = self._consumers.pop(consumer_tag, None)
        raw = self._ch
        raw.callbacks.pop(consumer_tag, None)
        raw.cancel_callbacks.pop(consumer_tag, None)
        raw.no_ack_consumers.discard(consumer_tag)
        if consumer is None or consumer.on_cancel is None or not self.is_open:
            return False
        consumer.on_cancel(consumer_tag)
        return True

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Route ``basic.return`` to ``handler``."""
        self._on_return = handler

    def _dispatch_return(
        self, exc: Any, exchange: str, routing_key: str, message: Any
    ) -> None:
        returned = ReturnedMessage(
            reply_code=int(getattr(exc, "reply_code", 312) or 312),
            reply_text=str(getattr(exc, "reply_text", "NO_ROUTE") or "NO_ROUTE"),
            exchange=exchange,
            routing_key=routing_key,
            body=body_of(message),
            properties=properties_from(message.properties),
        )
        if self._confirming and self._pending:
            # Which message is this?  Not the oldest unconfirmed one:
            # RabbitMQ confirms out of order (a routed persistent message
            # after its disk write, a returned one at once).  What holds,
            # per channel: the return of a message is sent while its publish
            # is handled, so before any ack that settles it.  But acks are
            # coalesced (one multiple ack for the settled prefix, then single
            # acks), so the next ack may not cover it, or cover others too.
            # So returns wait here, and a mandatory message takes, when its
            # ack settles it, the oldest waiting return with its exchange,
            # routing key and body: its own return is always there by then.
            # Messages equal in all three are told apart by order only,
            # which is harmless: whichever takes a return, the outcomes
            # report the right number of each.
            key = (exchange, routing_key, returned.body)
            entry = _Return(self._next_tag, key, returned)
            self._arrivals.append(entry)
            bucket = self._unmatched.get(key)
            if bucket is None:
                bucket = self._unmatched[key] = deque()
            bucket.append(entry)
        handler = self._on_return
        if handler is not None:
            handler(returned)

    def close(self) -> None:
        """Close the channel; never raises."""
        if self._closed_reason is None:
            self._closed_reason = "closed by the application"
        self._forget_returns()
        # A broken connection or an already-closed channel is fine here;
        # the wait for close-ok is bounded by rpc_timeout.
        with contextlib.suppress(Exception):
            self._ch.close()
        # The broker requeued its deliveries not handed out yet.
        self._conn.reader.withdraw(self)


def _as_bytes(body: bytes) -> bytes:
    """``body`` as a hashable key, without a copy when it is bytes already."""
    return body if type(body) is bytes else bytes(body)
