"""Producer: publishing through one pipeline, ``declare -> serialize -> send``.

The order is fixed.  Every argument is checked first, into a frozen
:class:`~kombu_lite.publication.Publication`
(:func:`~kombu_lite.messaging.pipeline.build_publication`), so a bad
serializer, compression, delivery mode or property raises before anything
reaches the broker; then :func:`kombu_lite.publication.send` declares the
entities in ``declare`` (once per connection, through the connection's
declare cache), serializes and compresses the body, sends the message and
claims its confirm.  With ``retry=True`` each attempt sends the same
Publication: a retry after a reconnect declares again and sends the same
bytes again.  The producer reaches its connection only as a
:class:`~kombu_lite.channel.ChannelOwner` (this module does not import
:mod:`kombu_lite.connection`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import kombu_lite.compression as _compression
from kombu_lite._log import get_logger
from kombu_lite.channel import Channel, check_not_retired, is_channel_owner
from kombu_lite.common import maybe_declare as _maybe_declare
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    MessageReturned,
    NotBoundError,
    immediate_error,
)
from kombu_lite.exceptions._arguments import checks_keywords
from kombu_lite.message import Message
from kombu_lite.messaging.consumer import Consumer
from kombu_lite.messaging.pipeline import (
    MessageProperties,
    PublishOutcome,
    build_publication,
    confirm_wait,
    publish_pipelined,
)
from kombu_lite.messaging.prepared import (
    PreparedPublish,
    plain_key,
    prepare,
    send_with_retry,
)
from kombu_lite.publication import SendCache, send
from kombu_lite.serialization import registry as _serializers
from kombu_lite.transport.base import Delivery, ReturnedMessage

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self, Unpack

    from kombu_lite.channel import ChannelOwner
    from kombu_lite.entity.base import DeliveryMode

__all__ = [
    "Consumer",
    "Exchange",
    "MessageProperties",
    "OnReturn",
    "Producer",
    "PublishOutcome",
    "Queue",
    "immediate_error",
]

_log = get_logger(__name__)

#: ``on_return(exception, exchange, routing_key, message)``, as in kombu.
OnReturn = Callable[[BaseException, str, str, Message], object]


class Producer:
    """Publishes messages to an exchange.

    Args:
        channel: A :class:`~kombu_lite.channel.Channel`, or a
            :class:`~kombu_lite.Connection` (its default channel is used,
            opened on first publish), or ``None`` (call :meth:`revive`).
        exchange: The default exchange (an :class:`~kombu_lite.Exchange` or a
            name; ``None`` is the default exchange ``''``).
        routing_key: The default routing key.
        serializer: The default serializer name (``'json'``...).
        auto_declare: Declare the default exchange before publishing
            (default True; declared once per connection).
        compression: The default compression (``'zlib'``, ``'bzip2'``...).
        on_return: ``on_return(exc, exchange, routing_key, message)`` for
            ``mandatory`` messages the broker could not route; it runs
            while the application drains events.

    Raises:
        SerializerNotInstalled: ``serializer`` is unknown.
        CompressionNotInstalled: ``compression`` is unknown.
    """

    @checks_keywords()
    def __init__(
        self,
        channel: Channel | ChannelOwner | None,
        exchange: Exchange | str | None = None,
        routing_key: str | None = None,
        serializer: str | None = None,
        auto_declare: bool | None = None,
        compression: str | None = None,
        on_return: OnReturn | None = None,
    ) -> None:
        if exchange is None:
            exchange = Exchange("")
        elif isinstance(exchange, str):
            # A bare name refers to an exchange managed elsewhere: publish to
            # it, never declare it with guessed settings.
            exchange = Exchange(exchange, no_declare=True)
        elif not isinstance(exchange, Exchange):
            raise ConfigurationError(
                f"exchange must be an Exchange or a name, not {type(exchange).__name__}"
            )
        self.exchange = exchange
        self.routing_key = routing_key or ""
        self.serializer = serializer
        self._codec = _serializers.encoder_for(serializer)
        self.compression = compression
        if compression is not None:
            _compression.get_encoder(compression)
        self.auto_declare = True if auto_declare is None else bool(auto_declare)
        self.on_return = on_return
        self._connection: ChannelOwner | None = None
        self._channel: Channel | None = None
        self._return_channel: Channel | None = None
        self.revive(channel)

    def revive(self, channel: Channel | ChannelOwner | None) -> None:
        """Use a new channel (or connection), for example after a reconnect."""
        if isinstance(channel, Channel):
            self._connection, self._channel = channel.connection, channel
            self._bind(channel)
        elif channel is None:
            self._channel = None
        elif is_channel_owner(channel):
            self._connection, self._channel = channel, None
        else:
            kind = type(channel).__name__
            raise ConfigurationError(
                f"Producer needs a Channel or a Connection, not {kind}"
            )

    def _bind(self, channel: Channel) -> None:
        if self.exchange.is_bound:
            self.exchange.revive(channel)
        else:
            self.exchange = self.exchange(channel)
        if self.on_return is not None and self._return_channel is not channel:
            channel.set_return_handler(self._handle_return)
            self._return_channel = channel

    @property
    def channel(self) -> Channel:
        """The channel in use; a closed one is replaced by a fresh one.

        Raises:
            NotBoundError: the producer has neither channel nor connection.
        """
        channel = self._channel
        if channel is not None and channel.is_open:
            return channel
        check_not_retired(channel, "Producer")
        connection = self._connection
        if connection is None:
            raise NotBoundError(
                "this Producer has no channel: pass a channel or a connection, "
                "or call revive()"
            )
        channel = connection.default_channel
        self._channel = channel
        self._bind(channel)
        return channel

    @property
    def connection(self) -> ChannelOwner | None:
        """The connection the producer publishes on."""
        return self._connection

    def _handle_return(self, returned: ReturnedMessage) -> None:
        if self.on_return is None:  # pragma: no cover - only installed with one
            return
        exc = MessageReturned(
            f"message returned by the broker: {returned.reply_code} "
            f"{returned.reply_text} (exchange {returned.exchange!r}, "
            f"routing key {returned.routing_key!r})"
        )
        message = Message(
            Delivery(
                body=returned.body,
                properties=returned.properties,
                delivery_tag=0,
                exchange=returned.exchange,
                routing_key=returned.routing_key,
            )
        )
        self.on_return(exc, returned.exchange, returned.routing_key, message)

    def declare(self) -> None:
        """Declare the default exchange (if it has a name)."""
        if self.exchange.name:
            self.exchange.declare(channel=self.channel)

    def maybe_declare(
        self, entity: Exchange | Queue, retry: bool = False, **retry_policy: Any
    ) -> bool:
        """Declare ``entity`` unless this connection already did; see
        :func:`kombu_lite.common.maybe_declare`."""
        return _maybe_declare(entity, self.channel, retry, **retry_policy)

    # -- publishing --------------------------------------------------------------------

    def publish(
        self,
        body: Any,
        routing_key: str | None = None,
        delivery_mode: DeliveryMode | None = None,
        mandatory: bool = False,
        immediate: bool = False,
        priority: int | None = 0,
        content_type: str | None = None,
        content_encoding: str | None = None,
        serializer: str | None = None,
        headers: Mapping[str, object] | None = None,
        compression: str | None = None,
        exchange: Exchange | str | None = None,
        retry: bool = False,
        retry_policy: Mapping[str, Any] | None = None,
        declare: Sequence[Exchange | Queue] | None = None,
        expiration: float | None = None,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
        **properties: Unpack[MessageProperties],
    ) -> None:
        """Publish one message.

        Args:
            body: A dict, list... (serialized, json by default), a ``str``
                (sent as text/plain) or ``bytes`` (application/data).
            routing_key: Defaults to the producer's.
            delivery_mode: 1/``'transient'`` or 2/``'persistent'``; defaults
                to the exchange's, then persistent.
            mandatory: Return the message (to ``on_return``) if no queue
                takes it.
            priority: 0-255; needs a queue with ``max_priority``.  0 or
                ``None`` sends no priority property.
            content_type, content_encoding: Send ``body`` (str or bytes) as
                is with this type; no serializer is used.
            serializer: Overrides the producer's serializer.
            headers: Application headers (never modified).
            compression: Overrides the producer's compression.
            exchange: An Exchange or a name; ``''`` is the default exchange,
                which routes to the queue named by the routing key.
            retry: Reconnect and publish again after a connection failure.
            retry_policy: ``max_retries``, ``interval_start``,
                ``interval_step``, ``interval_max``, ``timeout``,
                ``errback``, ``on_revive``.
            declare: Entities to declare first (once per connection).
            expiration: Seconds until the broker drops the message.
            timeout, confirm_timeout: With publisher confirms on, how long
                to wait for this message's confirm (``confirm_timeout``
                wins when both are given; default: the connection's
                ``confirm_timeout``; with ``retry=True`` the policy's
                ``timeout`` caps it too).  With confirms off both are
                ignored: unlike kombu, ``timeout`` does not bound the
                socket write.  On ``amqp://`` a write is bounded by the
                connection's ``write_timeout`` transport option instead
                (the socket's send timeout; when not given, set from
                ``blocked_connection_timeout``, 60 s by default, and
                unbounded if that is ``None``).
            properties: AMQP properties: ``correlation_id``, ``reply_to``
                (a name or a Queue), ``message_id``, ``timestamp``, ``type``,
                ``user_id``, ``app_id``, ``cluster_id``.

        Raises:
            ConfigurationError: a bad argument; nothing was sent.
            SerializerNotInstalled: an unknown serializer; nothing was sent.
            EncodeError: the body could not be serialized; nothing was sent.
            ChannelError: the broker refused a declare or the publish.
            OperationalError: the connection failed (after the retries, if
                ``retry``).  The message may or may not have reached the
                broker.
            MessageNacked: (confirms on) the broker refused this message.
            MessageReturned: (confirms on, ``mandatory``, no ``on_return``)
                no queue took the message.
            ConfirmTimeout: (confirms on) no confirm in time; the outcome is
                unknown.  Never retried, so it cannot duplicate.

        With ``retry=True`` the message gets a ``message_id`` (a uuid4) if it
        has none, so consumers can drop the duplicate a retry can cause.
        """
        # A plain call like the last one: see kombu_lite.messaging.prepared.
        key = None
        if (
            not properties
            and headers is None
            and not retry
            and expiration is None
            and timeout is None
            and confirm_timeout is None
            and not immediate
            and (exchange is None or type(exchange) is str)
        ):
            key = plain_key(
                self, routing_key, delivery_mode, mandatory, priority,
                content_type, content_encoding, serializer, compression,
                exchange, declare,
            )  # fmt: skip
            prepared = self._prepared
            if prepared is not None and prepared.key == key:
                channel = self._channel
                if (
                    channel is not None
                    and channel.is_open
                    and prepared.send(body, self, channel)
                ):
                    return
        publication = build_publication(
            self,
            body,
            routing_key,
            delivery_mode,
            mandatory,
            immediate,
            priority,
            content_type,
            content_encoding,
            serializer,
            headers,
            compression,
            exchange,
            retry,
            declare,
            expiration,
            # Checked only when given: most publishes give neither.
            None
            if confirm_timeout is None and timeout is None
            else confirm_wait(confirm_timeout, timeout),
            properties,
        )
        cache = self._send_cache
        if cache is None:
            cache = self._send_cache = SendCache()
        if not retry:
            send(publication, self, cache)
            if key is not None:
                # Checked and sent: the next call with this key may skip
                # the checks.
                self._prepared = prepare(key, publication, cache, self.exchange)
            return
        send_with_retry(publication, self, cache, retry_policy)

    # Made on first use by the hot path.
    _send_cache: SendCache | None = None
    _prepared: PreparedPublish | None = None

    def publish_many(
        self,
        bodies: Iterable[Any],
        routing_key: str | None = None,
        *,
        window: int = 1000,
        delivery_mode: DeliveryMode | None = None,
        mandatory: bool = False,
        priority: int | None = 0,
        content_type: str | None = None,
        content_encoding: str | None = None,
        serializer: str | None = None,
        headers: Mapping[str, object] | None = None,
        compression: str | None = None,
        exchange: Exchange | str | None = None,
        declare: Sequence[Exchange | Queue] | None = None,
        expiration: float | None = None,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
        **properties: Unpack[MessageProperties],
    ) -> list[PublishOutcome]:
        """Publish many messages with publisher confirms, waiting for them together.

        Messages go out back to back while at most ``window`` of them wait
        for their confirm, instead of one round trip to the broker per
        message.  The arguments are those of :meth:`publish` and apply to
        every message; ``retry`` is not offered (a batch cut by a failed
        connection reports which messages need sending again).

        Publisher confirms are turned on for the producer's channel (if the
        connection's ``confirm_publish`` did not already), and stay on:
        later :meth:`publish` calls on that channel wait for their confirm
        too.

        Args:
            bodies: The message bodies, consumed in order (all of them, even
                after a failure, so each gets an outcome).  If iterating
                them raises, the messages taken before are still sent and
                their confirms waited for, then
                :class:`~kombu_lite.exceptions.PublishInterrupted` is
                raised with their outcomes.
            window: How many messages may await their confirm at once.
            timeout, confirm_timeout: How long each message may wait for
                its confirm, counted from its send (``confirm_timeout``
                wins when both are given; default: the connection's
                ``confirm_timeout``).  Neither bounds the socket write; see
                :meth:`publish`.

        Returns:
            One :class:`~kombu_lite.messaging.PublishOutcome` per body, in
            order: confirmed (``ok``), or the reason it was not, by
            delivery tag.  Failures are reported there, not raised.

        Raises:
            ConfigurationError: a bad argument; nothing was sent.
            SerializerNotInstalled: an unknown serializer; nothing was sent.
            ChannelError: the broker refused a ``declare``; nothing was sent.
            OperationalError: the connection failed before the first
                message was sent.
            PublishInterrupted: ``bodies`` raised (the error's
                ``__cause__``); its ``outcomes`` are those of the messages
                taken before, which were all sent and settled.
        """
        wait = confirm_wait(confirm_timeout, timeout)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigurationError(f"window must be an int >= 1, not {window!r}")
        publication = build_publication(
            self,
            None,
            routing_key,
            delivery_mode,
            mandatory,
            False,  # immediate
            priority,
            content_type,
            content_encoding,
            serializer,
            headers,
            compression,
            exchange,
            False,  # retry
            declare,
            expiration,
            wait,
            properties,
        )
        cache = self._send_cache
        if cache is None:
            cache = self._send_cache = SendCache()
        outcomes = publish_pipelined(
            publication, self.channel, bodies, window=window, cache=cache
        )
        if _log.isEnabledFor(logging.DEBUG):
            failed = sum(1 for outcome in outcomes if outcome.error is not None)
            _log.debug(
                "publish_many to exchange %r with routing key %r: %d confirmed, %d not",
                publication.exchange,
                publication.routing_key,
                len(outcomes) - failed,
                failed,
            )
        return outcomes

    def release(self) -> None:
        """Forget the channel (the connection stays open)."""
        self._channel = None

    close = release

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Producer,
            (
                None,
                self.exchange,
                self.routing_key,
                self.serializer,
                self.auto_declare,
                self.compression,
            ),
        )

    def __repr__(self) -> str:
        return f"<Producer: {self._channel or self._connection!r}>"
