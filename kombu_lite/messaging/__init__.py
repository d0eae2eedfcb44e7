"""Producer: the publish pipeline ``declare -> serialize/compress -> send``.

The order is fixed.  Every argument is checked first, so a bad serializer,
compression, delivery mode or property raises before anything reaches the
broker; then the entities in ``declare`` are declared (once per connection,
through the connection's declare cache); then the body is serialized and
compressed; then the message is sent.  With ``retry=True`` the serialized
body is kept, and a retry after a reconnect declares again and sends the
same bytes again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import kombu_lite.compression as _compression
from kombu_lite._log import get_logger
from kombu_lite.channel import Channel
from kombu_lite.common import maybe_declare as _maybe_declare
from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    MessageReturned,
    NotBoundError,
    NotFound,
)
from kombu_lite.message import Message
from kombu_lite.messaging.pipeline import (
    DeclareMemo,
    PropertyCache,
    PublishOutcome,
    check_publish_args,
    confirm_wait,
    encode_body,
    immediate_error,
    publish_pipelined,
    reply_to_name,
    returned_error,
)
from kombu_lite.messaging.pipeline import Prepared as _Prepared
from kombu_lite.retry import DEFAULT_PUBLISH_RETRY_POLICY, RetryPolicy
from kombu_lite.serialization import registry as _serializers
from kombu_lite.transport.base import BasicProperties, Delivery, ReturnedMessage

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from kombu_lite.entity.base import DeliveryMode
    from kombu_lite.serialization import Codec

    #: What :func:`~kombu_lite.messaging.pipeline.encode_body` takes: ``(body,
    #: codec, content_type, content_encoding, compression, headers)``.
    _BodyArgs = tuple[
        Any, Codec, str | None, str | None, str | None, Mapping[str, object] | None
    ]

__all__ = ["OnReturn", "Producer", "PublishOutcome", "immediate_error"]

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

    def __init__(
        self,
        channel: Channel | Connection | None,
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
        self._connection: Connection | None = None
        self._channel: Channel | None = None
        self._return_channel: Channel | None = None
        self.revive(channel)

    # -- channel handling ---------------------------------------------------------

    def revive(self, channel: Channel | Connection | None) -> None:
        """Use a new channel (or connection), for example after a reconnect."""
        if isinstance(channel, Connection):
            self._connection, self._channel = channel, None
        elif isinstance(channel, Channel):
            self._connection, self._channel = channel.connection, channel
            self._bind(channel)
        elif channel is None:
            self._channel = None
        else:
            kind = type(channel).__name__  # type: ignore[unreachable]  # untyped callers
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
    def connection(self) -> Connection | None:
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
        **properties: Any,
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
        confirm_timeout = confirm_wait(confirm_timeout, timeout)
        entities, codec, method, exchange_name, routing_key, mode = check_publish_args(
            self,
            routing_key,
            exchange,
            delivery_mode,
            immediate,
            priority,
            serializer,
            compression,
            declare,
            expiration,
            properties,
        )
        if retry and "message_id" not in properties:
            import uuid  # only here: keeps importing this module cheap

            properties["message_id"] = str(uuid.uuid4())
        if not retry:
            body_args = (body, codec, content_type, content_encoding, method, headers)
            try:
                self._declare_and_publish(
                    entities,
                    body_args,
                    exchange_name,
                    routing_key,
                    mode,
                    priority or None,
                    mandatory,
                    properties,
                    confirm_timeout,
                )
            except NotFound:
                if not self._forget_declared(entities):
                    raise
                self._declare_and_publish(
                    entities,
                    body_args,
                    exchange_name,
                    routing_key,
                    mode,
                    priority or None,
                    mandatory,
                    properties,
                    confirm_timeout,
                )
            return
        connection = self._connection
        if connection is None:
            raise NotBoundError("retry=True needs a producer bound to a connection")
        policy = RetryPolicy.from_mapping(retry_policy, DEFAULT_PUBLISH_RETRY_POLICY)
        prepared = _Prepared(
            body, codec, content_type, content_encoding, method, headers
        )
        args = (
            entities,
            prepared,
            exchange_name,
            routing_key,
            mode,
            priority or None,
            mandatory,
            properties,
        )
        # The policy's timeout bounds the whole call: a confirm wait too
        # (it ends in ConfirmTimeout, outcome unknown, never retried).
        deadline = None if policy.timeout is None else time.monotonic() + policy.timeout
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "publish to exchange %r with routing key %r: attempt %d, "
                    "after a connection failure",
                    exchange_name,
                    routing_key,
                    attempts,
                )
            wait = confirm_timeout
            if deadline is not None:
                left = max(deadline - time.monotonic(), 0.001)
                if wait is None:
                    wait = connection.confirm_timeout
                wait = left if wait is None else min(wait, left)
            self._send(*args, wait)

        connection._call_with_retries(self, attempt, policy, (), (), {})

    def _forget_declared(self, entities: list[Exchange | Queue]) -> bool:
        """Drop ``entities`` from the declare cache; False if there is none.

        Called when the broker lost an entity the declare cache remembers
        (deleted behind our back, or an auto-delete): the publish declares
        them once more and is sent once more.  A second 404 is raised.
        """
        connection = self._connection
        if connection is None or not entities:
            return False
        for entity in entities:
            connection.declared_entities.discard(entity.declare_key)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "publish found an entity missing (404): declaring %s again",
                ", ".join(repr(entity.name) for entity in entities),
            )
        return True

    def _send(
        self,
        entities: list[Exchange | Queue],
        prepared: _Prepared,
        exchange: str,
        routing_key: str,
        delivery_mode: int,
        priority: int | None,
        mandatory: bool,
        properties: dict[str, Any],
        confirm_timeout: float | None,
    ) -> None:
        args = (
            prepared,
            exchange,
            routing_key,
            delivery_mode,
            priority,
            mandatory,
            properties,
            confirm_timeout,
        )
        try:
            self._declare_and_publish(entities, *args)
        except NotFound:
            if not self._forget_declared(entities):
                raise
            self._declare_and_publish(entities, *args)

    def _declare_and_publish(
        self,
        entities: list[Exchange | Queue],
        body: _Prepared | _BodyArgs,
        exchange: str,
        routing_key: str,
        delivery_mode: int,
        priority: int | None,
        mandatory: bool,
        properties: dict[str, Any],
        confirm_timeout: float | None,
    ) -> None:
        # The hot path of every publish: kept flat on purpose.
        channel = self._channel
        if channel is None or not channel.is_open:
            channel = self.channel
        if entities:
            memo = self._declare_memo
            if memo is None:
                memo = self._declare_memo = DeclareMemo()
            memo.declare(entities, channel)
        if properties:
            properties = reply_to_name(properties)
        if isinstance(body, tuple):
            payload, content_type, content_encoding, headers = encode_body(*body)
        else:
            payload, content_type, content_encoding, headers = body.encode()
        cache = self._property_cache
        if cache is None:
            cache = self._property_cache = PropertyCache()
        connection = channel.connection
        if connection.confirm_publish:
            channel.enable_confirms()
        tag = channel.basic_publish(
            payload,
            cache.properties(
                content_type,
                content_encoding,
                headers,
                delivery_mode,
                priority,
                properties,
            ),
            exchange,
            routing_key,
            mandatory=mandatory,
        )
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "published %d bytes to exchange %r with routing key %r%s",
                len(payload),
                exchange,
                routing_key,
                f" (delivery tag {tag})" if tag else "",
            )
        if not tag:
            # Confirms are off on this channel.  Once on (confirm_publish,
            # or publish_many on this channel), every message is waited for:
            # an unclaimed confirm would be kept for good.
            return
        wait = (
            connection.confirm_timeout if confirm_timeout is None else confirm_timeout
        )
        returned = channel.wait_for_confirm(tag, wait)
        if returned is not None and self.on_return is None:
            raise returned_error(tag, returned)

    # Made on first use by the hot path.
    _declare_memo: DeclareMemo | None = None
    _property_cache: PropertyCache | None = None

    def _declare(self, entities: list[Exchange | Queue], channel: Channel) -> None:
        memo = self._declare_memo
        if memo is None:
            memo = self._declare_memo = DeclareMemo()
        memo.declare(entities, channel)

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
        **properties: Any,
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
        confirm_timeout = confirm_wait(confirm_timeout, timeout)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigurationError(f"window must be an int >= 1, not {window!r}")
        entities, codec, method, exchange_name, routing_key, mode = check_publish_args(
            self,
            routing_key,
            exchange,
            delivery_mode,
            False,
            priority,
            serializer,
            compression,
            declare,
            expiration,
            properties,
        )
        channel = self.channel
        if entities:
            self._declare(entities, channel)
        extra = reply_to_name(properties) if properties else properties
        channel.enable_confirms()
        wait = (
            channel.connection.confirm_timeout
            if confirm_timeout is None
            else confirm_timeout
        )
        level = priority or None
        cache = self._property_cache
        if cache is None:
            cache = self._property_cache = PropertyCache()
        properties_for = cache.properties
        debug = _log.isEnabledFor(logging.DEBUG)

        def encode(body: Any) -> tuple[bytes, BasicProperties]:
            payload, ctype, cencoding, hdrs = encode_body(
                body, codec, content_type, content_encoding, method, headers
            )
            if debug:
                _log.debug(
                    "publishing %d bytes to exchange %r with routing key %r "
                    "(pipelined)",
                    len(payload),
                    exchange_name,
                    routing_key,
                )
            return payload, properties_for(ctype, cencoding, hdrs, mode, level, extra)

        outcomes = publish_pipelined(
            channel,
            bodies,
            encode,
            exchange_name,
            routing_key,
            mandatory,
            window=window,
            timeout=wait,
            raise_returns=self.on_return is None,
        )
        if debug:
            failed = sum(1 for outcome in outcomes if outcome.error is not None)
            _log.debug(
                "publish_many to exchange %r with routing key %r: %d confirmed, %d not",
                exchange_name,
                routing_key,
                len(outcomes) - failed,
                failed,
            )
        return outcomes

    # -- context manager and pickling ----------------------------------------------

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
