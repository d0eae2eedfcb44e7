"""Consumer: subscribe to queues and hand each delivery to the application.

A :class:`Consumer` subscribes (``basic.consume``) to its queues on one
channel.  The broker then pushes messages, and
:meth:`Connection.drain_events <kombu_lite.Connection.drain_events>` hands
each one, in the thread that drains, to ``on_message(message)`` or to every
``callback(body, message)``.

A message that cannot be decoded (a corrupt body, a content type outside
``accept``, a codec whose library is not installed here) goes, as in kombu,
to ``on_decode_error(message, exc)``, or, without one, its error is raised
out of ``drain_events``.  Either way nothing settles the message for you:
it stays unacknowledged, and goes back to the queue (for another consumer)
when the channel closes, unless you ack, reject or requeue it.  A missing
codec library is also logged once, as a warning naming the extra to install.

One thing differs from kombu on purpose: the broker cancelling a consumer
(its queue was deleted) goes to ``on_cancel(queue)`` (or a warning in the
log); py-amqp would raise it as a connection failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from kombu_lite._log import get_logger
from kombu_lite.ack_batch import check_ack_batch
from kombu_lite.channel import Channel, is_channel_owner
from kombu_lite.decode_memo import DecodeMemo
from kombu_lite.entity import Queue
from kombu_lite.exceptions import (
    CompressionNotInstalled,
    ConfigurationError,
    ContentDisallowed,
    OperationalError,
    SerializationError,
    SerializerNotInstalled,
)
from kombu_lite.exceptions._arguments import checks_keywords
from kombu_lite.message import Message, prepare_accept, received
from kombu_lite.messaging.consumer_checks import (
    as_queue,
    check_callable,
    check_optional_callable,
    check_prefetch_count,
    optional_bool,
    queue_items,
    resolve_channel,
)

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from kombu_lite.channel import ChannelOwner
    from kombu_lite.transport.base import Delivery

__all__ = [
    "DECODE_ERRORS",
    "Callback",
    "Consumer",
    "OnCancel",
    "OnDecodeError",
    "OnMessage",
]

logger = get_logger(__name__)

#: ``callback(body, message)``: ``body`` is the decoded payload.
Callback = Callable[[Any, Message], object]
#: ``on_message(message)``: replaces the callbacks; nothing is decoded first.
OnMessage = Callable[[Message], object]
#: ``on_decode_error(message, exc)``: the message is not settled for you.
OnDecodeError = Callable[[Message, Exception], object]
#: ``on_cancel(queue)``: the broker cancelled the consumer of ``queue``.
OnCancel = Callable[[Queue], object]
_Track = Callable[[int], None]

#: What :meth:`Message.decode` raises for a message that cannot be decoded.
DECODE_ERRORS: Final = (
    SerializationError,
    SerializerNotInstalled,
    CompressionNotInstalled,
)


class Consumer:
    """Receives messages from one or more queues.

    Args:
        channel: A :class:`~kombu_lite.channel.Channel`, or a
            :class:`~kombu_lite.Connection` (its default channel is used).
        queues: A :class:`~kombu_lite.Queue` or a list of them.  A bare name
            stands for a queue that exists already (it is never declared).
        no_ack: Let the broker forget each message as soon as it is sent
            (no :meth:`Message.ack <kombu_lite.Message.ack>` needed; a crash
            loses what was not processed).  ``None`` uses each queue's own
            ``no_ack``, else False.
        auto_declare: Declare the queues (with their exchanges and
            bindings) now and after each :meth:`revive`.
        callbacks: Functions called as ``callback(body, message)``.
        on_decode_error: Called as ``on_decode_error(message, exc)`` for a
            message that cannot be decoded; settling it is then up to you.
            Without it, the error (one of :data:`DECODE_ERRORS`) is raised
            out of ``drain_events``, as in kombu.  Either way the message is
            neither acked nor rejected for you: it stays unacknowledged and
            returns to the queue when the channel closes.
        on_message: Called as ``on_message(message)`` instead of the
            callbacks; the body is not decoded first.
        accept: The serializers (names or content types) a message may use;
            the default is json only.
        prefetch_count: Have at most this many unacknowledged messages
            (per consumer) in flight.
        tag_prefix: Consumer tags are this prefix plus a random part; by
            default the broker names them (``amq.ctag-...``).
        on_cancel: Called as ``on_cancel(queue)`` when the broker cancels
            the consumer of ``queue`` (for example, the queue was deleted).
        ack_batch: kombu_lite only: send up to this many acks as one
            ``basic.ack(multiple=True)``; ``ack()`` then returns before its
            frame is written (a crash redelivers those messages).  See
            :mod:`kombu_lite.ack_batch`; ``None``: each ack written at once.

    Every argument is checked before anything is sent to the broker.

    Raises:
        ConfigurationError: a bad argument.
        SerializerNotInstalled: ``accept`` names an unknown serializer.
    """

    #: kombu's alias of :class:`~kombu_lite.exceptions.ContentDisallowed`.
    ContentDisallowed = ContentDisallowed

    @checks_keywords()
    def __init__(
        self,
        channel: Channel | ChannelOwner,
        queues: Queue | str | Iterable[Queue | str] | None = None,
        no_ack: bool | None = None,
        auto_declare: bool = True,
        callbacks: Iterable[Callback] | None = None,
        on_decode_error: OnDecodeError | None = None,
        on_message: OnMessage | None = None,
        accept: Iterable[str] | str | None = None,
        prefetch_count: int | None = None,
        tag_prefix: str | None = None,
        *,
        on_cancel: OnCancel | None = None,
        ack_batch: int | None = None,
    ) -> None:
        if not (isinstance(channel, Channel) or is_channel_owner(channel)):
            raise ConfigurationError(
                f"Consumer needs a Channel or a Connection, "
                f"not {type(channel).__name__}"
            )
        self.no_ack = optional_bool("no_ack", no_ack)
        self.auto_declare = bool(auto_declare)
        #: The functions called as ``callback(body, message)``.
        self.callbacks: list[Callback] = [
            check_callable("each callback", item) for item in callbacks or ()
        ]
        self.on_decode_error: OnDecodeError | None = check_optional_callable(
            "on_decode_error", on_decode_error
        )
        self.on_message: OnMessage | None = check_optional_callable(
            "on_message", on_message
        )
        self.on_cancel: OnCancel | None = check_optional_callable(
            "on_cancel", on_cancel
        )
        #: The content types messages may be decoded from.
        self.accept = prepare_accept([accept] if isinstance(accept, str) else accept)
        self._decode_memo = DecodeMemo()
        self.prefetch_count = check_prefetch_count(prefetch_count)
        #: Acks sent in batches of up to this many, or None (at once).
        self.ack_batch = check_ack_batch(ack_batch)
        if tag_prefix is not None and not isinstance(tag_prefix, str):
            raise ConfigurationError(
                f"tag_prefix must be a str, not {type(tag_prefix).__name__}"
            )
        self.tag_prefix = tag_prefix
        self._queues = [as_queue(item) for item in queue_items(queues)]
        # queue name -> consumer tag, and the no_ack mode it consumes with.
        self._tags: dict[str, str] = {}
        self._modes: dict[str, bool] = {}
        self.channel: Channel = resolve_channel(channel)
        self.revive(self.channel)

    # -- channel -------------------------------------------------------------------

    def revive(self, channel: Channel | ChannelOwner) -> None:
        """Move to a new channel (after a reconnect) and resume consuming.

        The queues are bound to the channel (and declared, with
        ``auto_declare``), the prefetch count is applied again, and the
        queues that were being consumed are consumed again.
        """
        chan = resolve_channel(channel)
        resume = {name: self._modes[name] for name in self._tags}
        self._tags.clear()
        self.channel = chan
        self._queues = [queue.bind(chan) for queue in self._queues]
        if self.auto_declare:
            self.declare()
        if self.prefetch_count is not None:
            chan.basic_qos(prefetch_count=self.prefetch_count)
        for queue in self._queues:
            if queue.name in resume:
                self._basic_consume(queue, resume[queue.name])

    @property
    def connection(self) -> ChannelOwner:
        """The connection of the consumer's channel."""
        return self.channel.connection

    @property
    def queues(self) -> list[Queue]:
        """The queues, bound to the channel (a new list; see :meth:`add_queue`)."""
        return list(self._queues)

    def declare(self) -> None:
        """Declare every queue, with its exchange and bindings.

        Server-named queues (``Queue('')``) get their name here.
        """
        for queue in self._queues:
            queue.declare(channel=self.channel)

    def add_queue(self, queue: Queue | str) -> Queue:
        """Add a queue (declared, with ``auto_declare``) without consuming it yet.

        Returns the queue as bound to the consumer's channel.  A queue with
        the same name replaces the old one.
        """
        bound = as_queue(queue).bind(self.channel)
        if self.auto_declare:
            bound.declare(channel=self.channel)
        self._queues = [q for q in self._queues if q.name != bound.name]
        self._queues.append(bound)
        return bound

    # -- consuming -----------------------------------------------------------------

    def consume(self, no_ack: bool | None = None) -> None:
        """Start consuming from every queue not consumed yet.

        Raises:
            ConfigurationError: there is nowhere to deliver to (no
                callbacks and no ``on_message``); nothing was sent.
        """
        optional_bool("no_ack", no_ack)
        if not self.callbacks and self.on_message is None:
            raise ConfigurationError(
                "this Consumer has no callbacks and no on_message: pass "
                "callbacks=[...] or on_message=..., or call register_callback() "
                "before consume()"
            )
        for queue in self._queues:
            if queue.name in self._tags:
                continue
            mode = no_ack if no_ack is not None else self.no_ack
            if mode is None:
                mode = bool(queue.no_ack)
            self._basic_consume(queue, mode)

    def _basic_consume(self, queue: Queue, no_ack: bool) -> None:
        prefix = self.tag_prefix
        tag = "" if prefix is None else f"{prefix}{uuid.uuid4().hex}"
        channel = self.channel
        callback = partial(self._on_delivery, channel, no_ack)
        if self.ack_batch is not None and not no_ack:
            batch = channel.ack_batch(self.ack_batch)
            callback = partial(self._on_batched_delivery, channel, batch.track)
        tag = channel._consume(
            queue.name,
            callback,
            consumer_tag=tag,
            no_ack=no_ack,
            arguments=queue.consumer_arguments,
            on_cancel=self._on_broker_cancel,
        )
        self._tags[queue.name] = tag
        self._modes[queue.name] = no_ack

    def consuming_from(self, queue: Queue | str) -> bool:
        """Return whether the consumer is consuming from ``queue`` (or its name)."""
        name = queue.name if isinstance(queue, Queue) else queue
        return name in self._tags

    def cancel(self) -> None:
        """Stop consuming from every queue (the queues stay on the consumer).

        Messages received but not acknowledged stay unacknowledged (batched
        acks pending are sent first).  On a closed channel there is nothing
        to cancel: this only forgets the consumer tags.
        """
        tags = list(self._tags.values())
        self._tags.clear()
        channel = self.channel
        if not channel.is_open:
            return
        channel.flush_acks()
        for tag in tags:
            channel.basic_cancel(tag)

    close = cancel

    def cancel_by_queue(self, queue: Queue | str) -> None:
        """Stop consuming from one queue (a Queue or a name) and drop it."""
        name = queue.name if isinstance(queue, Queue) else queue
        tag = self._tags.pop(name, None)
        self._queues = [q for q in self._queues if q.name != name]
        if tag is not None and self.channel.is_open:
            self.channel.flush_acks()
            self.channel.basic_cancel(tag)

    def flush_acks(self) -> None:
        """Send the acks ``ack_batch`` holds back: once this returns, each
        ``ack()`` made before was handed to the socket.

        Raises:
            ChannelClosed, ConnectionLost: as ``Message.ack``; the broker
                then requeues the messages whose acks were pending.
        """
        self.channel.flush_acks()

    def _on_broker_cancel(self, consumer_tag: str) -> None:
        names = [name for name, tag in self._tags.items() if tag == consumer_tag]
        if not names:
            return
        name = names[0]
        del self._tags[name]
        queue = next(q for q in self._queues if q.name == name)
        if self.on_cancel is not None:
            self.on_cancel(queue)
            return
        logger.warning(
            "the broker cancelled consumer %s of queue %r (was the queue "
            "deleted?); pass on_cancel to Consumer to handle this",
            consumer_tag,
            name,
        )

    # -- delivery ------------------------------------------------------------------

    def _on_batched_delivery(
        self, channel: Channel, track: _Track, d: Delivery
    ) -> None:
        track(d.delivery_tag)  # its ack() is batched
        self._on_delivery(channel, False, d)

    def _on_delivery(self, channel: Channel, no_ack: bool, delivery: Delivery) -> None:
        """Decode a delivery and hand it over; runs inside ``drain_events``.

        A message that cannot be decoded goes to ``on_decode_error``, or,
        without one, its error (one of :data:`DECODE_ERRORS`) is raised out
        of ``drain_events``.  It is never acked or rejected here: it stays
        unacknowledged (unless ``no_ack``) and returns to the queue when
        the channel closes, as in kombu.
        """
        # The hot path.  The accept list was prepared once per consumer.
        message = received(delivery, channel, self.accept, no_ack)
        on_message = self.on_message
        if on_message is not None:
            on_message(message)
            return
        try:
            body = self._decode_memo.decode(message, delivery)
        except DECODE_ERRORS as exc:
            if _is_missing_codec(exc):
                _warn_missing_codec(message, exc)
            on_decode_error = self.on_decode_error
            if on_decode_error is None:
                raise
            on_decode_error(message, exc)
            return
        self.receive(body, message)

    def receive(self, body: Any, message: Message) -> None:
        """Call every callback with ``(body, message)``.

        Raises:
            ConfigurationError: there are no callbacks.
        """
        callbacks = self.callbacks
        if not callbacks:
            raise ConfigurationError(
                "this Consumer has no callbacks: pass callbacks=[...] or call "
                "register_callback()"
            )
        for callback in callbacks:
            callback(body, message)

    def register_callback(self, callback: Callback) -> None:
        """Add ``callback(body, message)`` to the callbacks."""
        self.callbacks.append(check_callable("callback", callback))

    # -- queue and channel operations ----------------------------------------------

    def purge(self) -> int:
        """Drop the ready messages of every queue; return how many in all.

        Messages already delivered (unacknowledged) are not touched.
        """
        return sum(queue.purge(channel=self.channel) for queue in self._queues)

    def qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Limit the unacknowledged messages the broker sends (0: no limit).

        With ``apply_global=False`` the limit applies to each consumer
        started on the channel afterwards; with True, to all consumers of
        the channel together.

        Raises:
            ConfigurationError: a bad value, or ``prefetch_size`` other than
                0, which RabbitMQ does not implement (it would close the
                connection); nothing was sent.
        """
        if prefetch_size != 0:
            raise ConfigurationError(
                f"prefetch_size must be 0, not {prefetch_size!r}: RabbitMQ does "
                "not implement a size limit and closes the connection; use "
                "prefetch_count"
            )
        count = check_prefetch_count(prefetch_count)
        self.channel.basic_qos(
            prefetch_count=count or 0, apply_global=bool(apply_global)
        )
        if not apply_global:
            self.prefetch_count = count

    def recover(self, requeue: bool = False) -> None:
        """Redeliver every unacknowledged message of the channel.

        Only ``requeue=True`` is supported: RabbitMQ does not implement
        ``basic.recover`` without requeueing and closes the connection.
        The redelivered messages arrive again with ``redelivered=True``;
        the :class:`~kombu_lite.Message` objects already received can no
        longer be acknowledged.

        Raises:
            ConfigurationError: ``requeue`` is False; nothing was sent.
        """
        if not requeue:
            raise ConfigurationError(
                "recover(requeue=False) is not supported: RabbitMQ does not "
                "implement it and closes the connection; call "
                "recover(requeue=True)"
            )
        self.channel.basic_recover(requeue=True)

    # -- context manager -----------------------------------------------------------

    def __enter__(self) -> Self:
        self.consume()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, OperationalError):
            # The connection is gone: so are its consumers.
            self._tags.clear()
            return
        self.cancel()

    def __repr__(self) -> str:
        names = ", ".join(repr(queue.name) for queue in self._queues)
        return f"<Consumer: [{names}] on channel {self.channel.channel_id}>"


def _is_missing_codec(exc: Exception) -> bool:
    # A refused content type is the message's (or the accept list's) doing;
    # a codec missing here is this host's, and another host may decode it.
    return isinstance(
        exc, SerializerNotInstalled | CompressionNotInstalled
    ) and not isinstance(exc, ContentDisallowed)


def _warn_missing_codec(message: Message, exc: Exception) -> None:
    logger.warning(
        "cannot decode message %s (routing key %r) on this host: %s; the "
        "message is not at fault and is not acked or rejected here, so a "
        "consumer with the library can take it once this channel gives it back",
        message.delivery_tag,
        message.delivery_info.get("routing_key"),
        exc,
    )
