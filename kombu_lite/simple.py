"""SimpleQueue and SimpleBuffer: a broker queue used like :class:`queue.Queue`.

``put`` publishes, ``get`` waits for the next message, ``get_nowait`` asks
the broker once (``basic.get``).  Once ``get`` has been called the queue is
consumed: the broker pushes messages as they come, into a local buffer
``get`` takes them from.  :meth:`SimpleQueue.qsize` and
:meth:`SimpleQueue.clear` count that buffer too (kombu: only the broker's),
and :meth:`SimpleQueue.close` gives its messages back to the broker (kombu
keeps them unacknowledged until the channel closes).

Use :class:`SimpleQueue` for durable work queues (acknowledge each message);
:class:`SimpleBuffer` for throw-away, exclusive, auto-acknowledged queues.

A queue never loses a message it cannot decode.  ``put`` refuses a
serializer that its own ``get`` would not accept, before sending; and
``get`` hands out every message, decodable or not: reading
``message.payload`` raises the error (see :meth:`SimpleQueue.get`), and
the message stays unacknowledged until you settle it.
"""

from __future__ import annotations

import queue as _queue
import time
from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final

from kombu_lite._simple_args import options as _options
from kombu_lite._simple_args import readable as _readable
from kombu_lite._simple_args import refuse_unreadable as _refuse_unreadable
from kombu_lite.channel import Channel, ChannelOwner, is_channel_owner
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import ConfigurationError, KombuError
from kombu_lite.exceptions._arguments import checks_keywords
from kombu_lite.message import prepare_accept
from kombu_lite.messaging import Producer
from kombu_lite.messaging.consumer import Consumer
from kombu_lite.serialization import registry as _serializers

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType
    from typing import Self

    from kombu_lite.message import Message

__all__ = ["Empty", "SimpleBuffer", "SimpleQueue"]

#: The most deliveries qsize() and get_nowait() dispatch without waiting.
_MAX_READY_EVENTS: Final = 10_000


class Empty(_queue.Empty, KombuError):
    """No message arrived in time (``get``), or none was ready (``get_nowait``).

    A :class:`queue.Empty`, so code written for :mod:`queue` catches it.
    """


# Inside SimpleQueue, ``Empty`` names the class attribute.
_EmptyError = Empty


class SimpleQueue:
    """A named, durable queue with ``put`` and ``get``.

    Args:
        channel: A :class:`~kombu_lite.channel.Channel` or a
            :class:`~kombu_lite.Connection` (its default channel).
        name: The queue name (a direct exchange and a routing key of the
            same name are used), or a :class:`~kombu_lite.Queue` to use as
            it is.
        no_ack: Messages need no acknowledgement (default False).
        queue_opts: Keyword options for the :class:`~kombu_lite.Queue`
            (``durable``, ``max_length``...).
        queue_args: ``queue.declare`` arguments (``x-...``).
        exchange_opts: Keyword options for the :class:`~kombu_lite.Exchange`.
        serializer, compression: Defaults for :meth:`put` (the serializer
            is json by default).
        accept: Serializers (names or content types) :meth:`get` decodes
            (default: json only).  A ``serializer`` it leaves out is
            accepted here (the queue may be used only to read, as in
            kombu) but :meth:`put` refuses to send with it.
        ack_batch: kombu_lite only: ``message.ack()`` of a message
            :meth:`get` or :meth:`get_nowait` returned is recorded, and the
            channel sends up to this many as one
            ``basic.ack(multiple=True)``, as with ``Consumer(ack_batch=...)``
            (see :mod:`kombu_lite.ack_batch`).  Pending acks are also sent
            before ``get`` waits for the broker, by :meth:`close` and when
            the connection is released, and at most 0.1 s after the ack; a
            crash redelivers them.  ``None`` (the default): each ack is
            written at once.  No effect with ``no_ack``.

    The queue is declared when the object is created.  ``queue_opts``,
    ``queue_args`` and ``exchange_opts`` only apply to a queue given by
    name; an unknown option raises before anything is sent.  Messages
    :meth:`get` cannot decode are not dropped: see :meth:`get`.

    Raises:
        ConfigurationError: a bad argument or option (an unknown keyword:
            :class:`~kombu_lite.exceptions.UnknownArgument`).
        SerializerNotInstalled: an unknown serializer.
        CompressionNotInstalled: an unknown compression.
    """

    #: The error ``get`` and ``get_nowait`` raise (a :class:`queue.Empty`).
    Empty: ClassVar[type[Empty]] = Empty

    no_ack: bool = False
    queue_opts: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    exchange_opts: ClassVar[Mapping[str, Any]] = MappingProxyType({"type": "direct"})

    @checks_keywords()
    def __init__(
        self,
        channel: Channel | ChannelOwner,
        name: str | Queue,
        no_ack: bool | None = None,
        queue_opts: Mapping[str, Any] | None = None,
        queue_args: Mapping[str, object] | None = None,
        exchange_opts: Mapping[str, Any] | None = None,
        serializer: str | None = None,
        compression: str | None = None,
        accept: Iterable[str] | str | None = None,
        *,
        ack_batch: int | None = None,
    ) -> None:
        if not (isinstance(channel, Channel) or is_channel_owner(channel)):
            raise ConfigurationError(
                f"{type(self).__name__} needs a Channel or a Connection, "
                f"not {type(channel).__name__}"
            )
        if no_ack is not None and not isinstance(no_ack, bool):
            raise ConfigurationError(
                f"no_ack must be True, False or None, not {no_ack!r}"
            )
        if isinstance(accept, str):
            accept = [accept]
        # The same list the consumer builds, prepared now so a serializer it
        # leaves out is refused before the queue is declared.
        accept_types = prepare_accept(accept)
        if isinstance(name, Queue):
            if queue_opts or queue_args or exchange_opts:
                raise ConfigurationError(
                    "queue_opts, queue_args and exchange_opts apply only to a "
                    "queue given by name; set them on the Queue instead"
                )
            queue = name
            exchange = queue.exchange
        elif isinstance(name, str):
            exchange = Exchange(
                name, **_options("exchange_opts", self.exchange_opts, exchange_opts)
            )
            opts = _options("queue_opts", self.queue_opts, queue_opts)
            if queue_args:
                opts["queue_arguments"] = {
                    **(opts.get("queue_arguments") or {}),
                    **queue_args,
                }
            queue = Queue(name, exchange, name, **opts)
        else:
            raise ConfigurationError(
                f"name must be a queue name or a Queue, not {type(name).__name__}"
            )
        if exchange is None or not exchange.name:
            # The default exchange routes by queue name.
            routing_key = queue.name
        else:
            routing_key = queue.routing_key
        # An unknown serializer raises here; one accept leaves out is refused
        # by put(), not here: kombu code builds such a queue to read only.
        self._serializer_refused = serializer is not None and not _readable(
            _serializers.content_type_of(serializer), accept_types
        )
        # Without a serializer, put() sends bytes and str as they are and
        # anything else as json: refused per body if json is not accepted.
        self._json_refused = serializer is None and not _readable(
            _serializers.content_type_of(None), accept_types
        )
        self.no_ack = self.no_ack if no_ack is None else no_ack
        #: The :class:`~kombu_lite.Producer` behind :meth:`put`.
        self.producer = Producer(
            channel,
            exchange,
            routing_key=routing_key,
            serializer=serializer,
            compression=compression,
        )
        # on_message, not callbacks: nothing is decoded on arrival, so a
        # message get() cannot decode is handed out, never rejected unseen.
        #: The :class:`~kombu_lite.Consumer` behind :meth:`get`.
        self.consumer = Consumer(
            channel,
            queue,
            no_ack=self.no_ack,
            on_message=self._receive,
            accept=accept,
            ack_batch=ack_batch,
        )
        #: The queue, bound to :attr:`channel`.
        self.queue = self.consumer.queues[0]
        #: Messages delivered by the broker and not taken by ``get`` yet.
        self.buffer: deque[Message] = deque()
        self._consuming = False

    @property
    def channel(self) -> Channel:
        """The channel the queue is consumed on."""
        return self.consumer.channel

    @property
    def name(self) -> str:
        """The queue name."""
        return self.queue.name

    def put(
        self,
        message: Any,
        serializer: str | None = None,
        headers: Mapping[str, object] | None = None,
        compression: str | None = None,
        routing_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Publish ``message`` to the queue.

        Other keyword arguments are those of
        :meth:`Producer.publish <kombu_lite.Producer.publish>` (``priority``,
        ``expiration``, ``content_type``, ``retry``...); unknown ones raise.

        Raises:
            ConfigurationError: the serializer (``serializer``, the queue's,
                or json for a body other than bytes and str) or
                ``content_type`` is not in the queue's accept list, so
                :meth:`get` could not decode the message; nothing was sent.
        """
        if (
            serializer is not None
            or "content_type" in kwargs
            or self._serializer_refused
        ):
            _refuse_unreadable(
                self,
                self.name,
                self.consumer.accept,
                serializer if serializer is not None else self.producer.serializer,
                kwargs.get("content_type"),
            )
        elif self._json_refused and not isinstance(message, bytes | str):
            _refuse_unreadable(self, self.name, self.consumer.accept, None, None)
        self.producer.publish(
            message,
            serializer=serializer,
            headers=headers,
            compression=compression,
            routing_key=routing_key,
            **kwargs,
        )

    # -- getting -------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> Message:
        """Return the next message, waiting up to ``timeout`` seconds.

        ``timeout=None`` waits as long as it takes; ``block=False`` is
        :meth:`get_nowait`.  The first call starts consuming the queue.
        Unless ``no_ack``, acknowledge each message (``message.ack()``).
        While waiting, deliveries for other consumers of the same
        connection are dispatched too.

        Every message is returned, even one that cannot be decoded (a
        content type outside ``accept``, published by someone else, or a
        corrupt body): reading its ``payload`` raises
        :class:`~kombu_lite.exceptions.ContentDisallowed` (or
        :class:`~kombu_lite.exceptions.DecodeError`, or
        :class:`~kombu_lite.exceptions.SerializerNotInstalled` /
        :class:`~kombu_lite.exceptions.CompressionNotInstalled` for a
        codec library missing here), while ``body`` and
        ``content_type`` still tell what it is.  It stays unacknowledged
        until you ``ack()``, ``reject()`` (dead-letter) or ``requeue()`` it,
        so nothing is lost unseen; kombu raises out of ``get`` and leaves
        it unacknowledged until the channel closes.

        Raises:
            Empty: no message within ``timeout``.
        """
        if not block:
            return self.get_nowait()
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or timeout < 0
        ):
            raise ConfigurationError(
                f"timeout must be None or a number of seconds >= 0, not {timeout!r}"
            )
        buffer = self.buffer
        if buffer:
            return buffer.popleft()
        self._consume()
        connection = self.channel.connection
        deadline = None if timeout is None else time.monotonic() + timeout
        while not buffer:
            remaining = (
                None if deadline is None else max(deadline - time.monotonic(), 0.0)
            )
            try:
                connection.drain_events(timeout=remaining)
            except TimeoutError:
                raise self._empty(timeout) from None
            if not buffer and remaining == 0.0:
                raise self._empty(timeout)
        return buffer.popleft()

    def get_nowait(self) -> Message:
        """Return a message that is ready now, without waiting.

        Once :meth:`get` has started consuming, a message already
        delivered comes first; otherwise the broker is asked once
        (``basic.get``).  A message that cannot be decoded is returned as
        by :meth:`get`.

        Raises:
            Empty: no message is ready.
        """
        buffer = self.buffer
        if not buffer:
            self._drain_ready(until_buffered=True)
        if buffer:
            return buffer.popleft()
        message = self.queue.get(
            no_ack=self.no_ack, accept=self.consumer.accept, channel=self.channel
        )
        if message is None:
            raise self._empty(None)
        batch = self.consumer.ack_batch
        if batch is not None and not self.no_ack and message.delivery_tag:
            self.channel.ack_batch(batch).track(message.delivery_tag)
        return message

    def _empty(self, timeout: float | None) -> _EmptyError:
        if timeout is None:
            return self.Empty(f"no message ready in queue {self.name!r}")
        return self.Empty(f"no message in queue {self.name!r} within {timeout} s")

    def _receive(self, message: Message) -> None:
        self.buffer.append(message)

    def _drain_ready(self, *, until_buffered: bool) -> None:
        # Dispatch the deliveries that have arrived already, without
        # waiting: they belong in the buffer (and in qsize).  Bounded, so a
        # steady stream of messages cannot keep this going.
        if not self._consuming:
            return
        connection = self.channel.connection
        for _ in range(_MAX_READY_EVENTS):
            if until_buffered and self.buffer:
                return
            try:
                connection.drain_events(timeout=0)
            except TimeoutError:
                return

    def _consume(self) -> None:
        if not self._consuming:
            self.consumer.consume(no_ack=self.no_ack)
            self._consuming = True

    # -- size ----------------------------------------------------------------------

    def qsize(self) -> int:
        """The messages ready on the broker plus those delivered here.

        Messages still travelling from the broker are counted by neither,
        so while the queue is consumed the figure is a snapshot.
        """
        self._drain_ready(until_buffered=False)
        ready = self.queue.queue_declare(passive=True, channel=self.channel)
        return ready.message_count + len(self.buffer)

    def __len__(self) -> int:
        return self.qsize()

    def __bool__(self) -> bool:
        # An empty queue is still a queue (len() would ask the broker).
        return True

    def clear(self) -> int:
        """Drop every ready and buffered message; return how many.

        Buffered messages are rejected (dead-lettered if the queue has a
        dead-letter exchange).  Messages handed out by ``get`` and not
        acknowledged are not touched.
        """
        dropped = self.consumer.purge()
        buffered = list(self.buffer)
        self.buffer.clear()
        for message in buffered:
            message.reject(requeue=False)
        return dropped + len(buffered)

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """Stop consuming and give the buffered messages back to the broker.

        With ``no_ack`` the buffered messages are lost: the broker forgot
        them when it sent them.  The channel stays open.
        """
        self.consumer.cancel()
        self._consuming = False
        buffered = list(self.buffer)
        self.buffer.clear()
        if not self.channel.is_open:
            return  # the broker requeued them when the channel closed
        for message in buffered:
            message.requeue()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        channel_id = self.channel.channel_id
        return f"<{type(self).__name__} {self.name!r} on channel {channel_id}>"


class SimpleBuffer(SimpleQueue):
    """A throw-away queue: exclusive, auto-deleted, no acknowledgements.

    The queue and its exchange are not durable and are deleted when the
    connection closes; messages are transient and need no ``ack``.  Takes
    the same arguments as :class:`SimpleQueue`.
    """

    no_ack = True
    queue_opts: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"durable": False, "auto_delete": True, "exclusive": True}
    )
    exchange_opts: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {
            "type": "direct",
            "durable": False,
            "auto_delete": True,
            "delivery_mode": "transient",
        }
    )
