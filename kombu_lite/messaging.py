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

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import kombu_lite.compression as _compression
from kombu_lite._entity_base import maybe_delivery_mode
from kombu_lite.channel import Channel
from kombu_lite.common import maybe_declare as _maybe_declare
from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    EncodeError,
    MessageReturned,
    NotBoundError,
)
from kombu_lite.message import Message
from kombu_lite.retry import DEFAULT_PUBLISH_RETRY_POLICY, RetryPolicy
from kombu_lite.serialization import registry as _serializers
from kombu_lite.transport.base import BasicProperties, Delivery, ReturnedMessage

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from kombu_lite._entity_base import DeliveryMode
    from kombu_lite.serialization import Codec

__all__ = ["OnReturn", "Producer", "immediate_error"]

#: ``on_return(exception, exchange, routing_key, message)``, as in kombu.
OnReturn = Callable[[BaseException, str, str, Message], object]

_EXTRA_PROPERTIES: Final = frozenset(
    {
        "correlation_id",
        "reply_to",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
        "cluster_id",
    }
)


def immediate_error() -> ConfigurationError:
    """The error for ``immediate=True``, which RabbitMQ does not support."""
    return ConfigurationError(
        "immediate=True is not supported: RabbitMQ 3.0 and later refuse the "
        "'immediate' flag and close the connection; use mandatory=True with "
        "on_return, or a per-message expiration, instead"
    )


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
            channel.wire.set_return_handler(self._handle_return)
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
        priority: int = 0,
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
            priority: 0-255; needs a queue with ``max_priority``.
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
            timeout, confirm_timeout: Accepted for kombu compatibility; they
                bound the wait for a publisher confirm once confirms are on.
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

        With ``retry=True`` the message gets a ``message_id`` (a uuid4) if it
        has none, so consumers can drop the duplicate a retry can cause.
        """
        del timeout, confirm_timeout
        if immediate:
            raise immediate_error()
        if properties and not _EXTRA_PROPERTIES.issuperset(properties):
            unknown = min(set(properties) - _EXTRA_PROPERTIES)
            raise ConfigurationError(
                f"unknown message property {unknown!r}; known properties: "
                f"{', '.join(sorted(_EXTRA_PROPERTIES))}"
            )
        if routing_key is None:
            routing_key = self.routing_key
        elif not isinstance(routing_key, str):
            raise ConfigurationError(
                f"routing_key must be a str, not {type(routing_key).__name__}"
            )
        own = self.exchange
        if exchange is None:
            exchange_name, exchange_mode = own.name, own.delivery_mode
        elif isinstance(exchange, Exchange):
            exchange_name, exchange_mode = exchange.name, exchange.delivery_mode
        elif isinstance(exchange, str):
            exchange_name, exchange_mode = exchange, own.delivery_mode
        else:
            raise ConfigurationError(
                f"exchange must be an Exchange or a name, not {type(exchange).__name__}"
            )
        if delivery_mode is None:
            mode = exchange_mode or 2
        else:
            mode = maybe_delivery_mode(delivery_mode) or 2
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or not (0 <= priority <= 255)
        ):
            raise ConfigurationError(
                f"priority must be an int from 0 to 255, not {priority!r}"
            )
        if expiration is not None:
            properties["expiration"] = _expiration_ms(expiration)
        codec = (
            self._codec if serializer is None else _serializers.encoder_for(serializer)
        )
        method = self.compression if compression is None else compression
        if method is not None:
            _compression.get_encoder(method)
        entities = list(declare) if declare else []
        for entity in entities:
            if not isinstance(entity, Exchange | Queue):
                raise ConfigurationError(
                    f"declare must list Exchange or Queue objects, "
                    f"not {type(entity).__name__}"
                )
        if (
            self.auto_declare
            and own.name
            and not own.no_declare
            and own not in entities
        ):
            entities.append(own)
        if retry and "message_id" not in properties:
            properties["message_id"] = str(uuid.uuid4())
        prepared = _Prepared(
            body, codec, content_type, content_encoding, method, headers
        )
        send = partial(
            self._send,
            entities,
            prepared,
            exchange_name,
            routing_key,
            mode,
            priority or None,
            mandatory,
            properties,
        )
        if not retry:
            send()
            return
        connection = self._connection
        if connection is None:
            raise NotBoundError("retry=True needs a producer bound to a connection")
        policy = RetryPolicy.from_mapping(retry_policy, DEFAULT_PUBLISH_RETRY_POLICY)
        connection._call_with_retries(self, send, policy, (), (), {})

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
    ) -> None:
        channel = self.channel
        for entity in entities:
            _maybe_declare(entity, channel)
        reply_to = properties.get("reply_to")
        if isinstance(reply_to, Queue):
            properties = {**properties, "reply_to": reply_to.name}
        body, content_type, content_encoding, headers = prepared.encode()
        channel.wire.basic_publish(
            body,
            BasicProperties(
                content_type=content_type,
                content_encoding=content_encoding,
                headers=headers,
                delivery_mode=delivery_mode,
                priority=priority,
                **properties,
            ),
            exchange,
            routing_key,
            mandatory=mandatory,
        )

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


def _expiration_ms(seconds: float) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ConfigurationError(
            f"expiration must be a number of seconds >= 0, not {seconds!r}"
        )
    millis = round(seconds * 1000)
    # kombu truncates sub-millisecond values to '0' (expire at once); a
    # positive expiration never becomes immediate here.
    return str(max(millis, 1) if seconds > 0 else 0)


class _Prepared:
    """The body, serialized and compressed once, on the first send."""

    __slots__ = (
        "_body",
        "_codec",
        "_compression",
        "_content_encoding",
        "_content_type",
        "_done",
        "_headers",
    )

    def __init__(
        self,
        body: Any,
        codec: Codec,
        content_type: str | None,
        content_encoding: str | None,
        compression: str | None,
        headers: Mapping[str, object] | None,
    ) -> None:
        self._body = body
        self._codec = codec
        self._content_type = content_type
        self._content_encoding = content_encoding
        self._compression = compression
        self._headers = headers
        self._done: (
            tuple[bytes, str, str | None, Mapping[str, object] | None] | None
        ) = None

    def encode(self) -> tuple[bytes, str, str | None, Mapping[str, object] | None]:
        if self._done is not None:
            return self._done
        body = self._body
        content_type = self._content_type
        content_encoding = self._content_encoding
        if content_type is not None:
            if isinstance(body, str):
                content_encoding = content_encoding or "utf-8"
                data = body.encode(content_encoding)
            elif isinstance(body, bytes | bytearray | memoryview):
                content_encoding = content_encoding or "binary"
                data = bytes(body)
            else:
                raise EncodeError(
                    f"with content_type={content_type!r} the body must be str or "
                    f"bytes, not {type(body).__name__}; pass serializer= instead"
                )
        else:
            codec = self._codec
            data = codec.encode(body)
            content_type, content_encoding = codec.content_type_for(body)
        headers = self._headers
        if self._compression is not None:
            data, kind = _compression.compress(data, self._compression)
            headers = {**(headers or {}), "compression": kind}
        self._done = (data, content_type, content_encoding, headers or None)
        return self._done


_ = Iterable
