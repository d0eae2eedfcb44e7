"""The one publish pipeline: a frozen :class:`Publication` through :func:`send`.

Every publish goes through :func:`send`: ``Producer.publish`` (once, or
once per attempt with ``retry=True``) and ``Exchange.publish``.  The steps
and their order are fixed:

1. declare the publication's entities, once per connection (the
   connection's :class:`~kombu_lite.channel.DeclareCache`, with a
   producer's :class:`SendCache` in front of it);
2. encode the body (serialize, compress) into a payload and properties;
3. write it (``Channel._publish_encoded``);
4. on a confirming channel, claim its confirm (always: an unclaimed
   confirm would be kept by the channel for good).

A 404 from a publication that declares entities means the broker lost one
the declare cache remembers: they are forgotten, declared once more and the
same bytes sent once more; a second 404 is raised.  Everything checked
about the arguments was checked when the Publication was built, before
anything was sent.

``Producer.publish_many`` uses the same Publication, declare step, encode
step and confirm claim, with a batched write
(:mod:`kombu_lite.messaging.pipeline`).
"""

from __future__ import annotations

import logging
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

import kombu_lite.compression as _compression
from kombu_lite._log import get_logger
from kombu_lite.declare_memo import DeclareMemo
from kombu_lite.exceptions import EncodeError, NotFound, returned_error
from kombu_lite.outgoing import encode_text
from kombu_lite.transport.base import BasicProperties

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kombu_lite.channel import Channel, ChannelOwner, Declarable
    from kombu_lite.serialization import Codec

    #: ``(payload, content_type, content_encoding, headers)`` of a body.
    _Body = tuple[bytes, str, str | None, Mapping[str, object] | None]

__all__ = [
    "ChannelProvider",
    "Publication",
    "SendCache",
    "claim",
    "declare",
    "encode_body",
    "send",
]

_log = get_logger("kombu_lite.messaging")

#: Plain property sets a producer keeps (content types x delivery modes).
_PLAIN_LIMIT: Final = 32

_NO_PROPERTIES: Final[Mapping[str, Any]] = MappingProxyType({})


class ChannelProvider(Protocol):
    """Where :func:`send` gets an open channel (a Producer, an Exchange).

    Asked again after a 404 closed the channel, so the re-send goes out on
    a fresh one set up as the source sets up its channels.
    """

    @property
    def channel(self) -> Channel:
        """An open channel."""


class Publication(NamedTuple):
    """One message to publish, checked, with everything needed to send it.

    An immutable value (a named tuple: cheap to build once per publish),
    built before any I/O by ``Producer.publish``, ``publish_many`` and
    ``Exchange.publish``, so every argument error is raised before
    anything is sent.

    Attributes:
        exchange: The exchange name.
        routing_key: The routing key.
        body: The body as given (not used once encoded).
        codec: The serializer, used when ``content_type`` is None.
        content_type, content_encoding: Send ``body`` (str or bytes) as is.
        compression: The compression method, or None.
        headers: Application headers.
        delivery_mode: 1 or 2.
        priority: The priority property, or None.
        properties: The other AMQP properties (``reply_to`` a name).
        mandatory: Have the broker return it if no queue takes it.
        declare: The entities to declare first, in order.
        confirm_timeout: How long to wait for its confirm; None is the
            connection's ``confirm_timeout``.
        confirm_deadline: A :func:`time.monotonic` time no confirm wait
            may pass (a retry policy's ``timeout``), or None.
        raise_returns: Raise MessageReturned for a confirmed message the
            broker returned (False when an ``on_return`` handles returns).
        encoded: None, or a list holding ``(payload, properties)``: given
            for a raw message, or an empty list the first :func:`send`
            fills, so that later sends of this publication (a retry after
            a reconnect) send the same bytes without encoding again.
    """

    exchange: str
    routing_key: str
    body: Any = None
    codec: Codec | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    compression: str | None = None
    headers: Mapping[str, object] | None = None
    delivery_mode: int = 2
    priority: int | None = None
    properties: Mapping[str, Any] = _NO_PROPERTIES
    mandatory: bool = False
    declare: tuple[Declarable, ...] = ()
    confirm_timeout: float | None = None
    confirm_deadline: float | None = None
    raise_returns: bool = True
    encoded: list[tuple[bytes, BasicProperties]] | None = None

    def encode(
        self, body: Any, cache: SendCache | None = None
    ) -> tuple[bytes, BasicProperties]:
        """``(payload, properties)`` of ``body`` with these settings.

        Raises:
            EncodeError: the body cannot be encoded.
        """
        payload, content_type, content_encoding, headers = encode_body(
            body,
            self.codec,
            self.content_type,
            self.content_encoding,
            self.compression,
            self.headers,
        )
        properties_for = _properties if cache is None else cache.properties
        return payload, properties_for(
            content_type,
            content_encoding,
            headers,
            self.delivery_mode,
            self.priority,
            self.properties,
        )

    def confirm_wait(self, connection: ChannelOwner) -> float | None:
        """How long to wait for a confirm now (None: no limit)."""
        wait = self.confirm_timeout
        if wait is None:
            wait = connection.confirm_timeout
        deadline = self.confirm_deadline
        if deadline is not None:
            left = max(deadline - time.monotonic(), 0.001)
            wait = left if wait is None else min(wait, left)
        return wait


def send(
    publication: Publication,
    source: ChannelProvider,
    cache: SendCache | None = None,
    *,
    resent: bool = False,
) -> None:
    """Declare, encode, write and (on a confirming channel) claim the confirm.

    ``resent``: this is already the send again after a NotFound (which a
    second NotFound then ends).

    Raises:
        EncodeError: the body could not be encoded; the declares were
            sent, the message was not.
        ChannelError: the broker refused a declare or the publish.
        OperationalError: the connection failed; the message may or may
            not have reached the broker.
        MessageNacked, MessageReturned, ConfirmTimeout: (confirms on) as
            :meth:`Producer.publish <kombu_lite.Producer.publish>` says.
    """
    # The hot path of every publish: kept flat on purpose, the fields
    # unpacked into locals once (cheaper than reading them one by one).
    (
        exchange,
        routing_key,
        body,
        codec,
        content_type,
        content_encoding,
        compression,
        headers,
        delivery_mode,
        priority,
        properties,
        mandatory,
        entities,
        _confirm_timeout,
        _confirm_deadline,
        raise_returns,
        kept,
    ) = publication
    encoded: tuple[bytes, BasicProperties] | None = kept[0] if kept else None
    while True:
        channel = source.channel
        try:
            if entities:
                if cache is None:
                    declare(entities, channel, None)
                else:
                    cache.declare(entities, channel)
            if encoded is None:
                # Publication.encode, inlined: this is once per message.  A
                # serialized, uncompressed body (the common one) goes straight
                # to its codec, as encode_body would send it.
                cencoding: str | None
                if content_type is None and compression is None and codec is not None:
                    payload, ctype, cencoding = codec.dump(body)
                    hdrs = headers or None
                else:
                    payload, ctype, cencoding, hdrs = encode_body(
                        body,
                        codec,
                        content_type,
                        content_encoding,
                        compression,
                        headers,
                    )
                encoded = (
                    payload,
                    (_properties if cache is None else cache.properties)(
                        ctype, cencoding, hdrs, delivery_mode, priority, properties
                    ),
                )
                if kept is not None:
                    kept.append(encoded)
            connection = channel.connection
            if connection.confirm_publish:
                channel.enable_confirms()
            tag = channel._publish_encoded(
                encoded[0], encoded[1], exchange, routing_key, mandatory=mandatory
            )
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "published %d bytes to exchange %r with routing key %r%s",
                    len(encoded[0]),
                    exchange,
                    routing_key,
                    f" (delivery tag {tag})" if tag else "",
                )
            if tag:
                # Confirms are on for this channel (confirm_publish, or a
                # publish_many on it): every message is waited for.
                claim(channel, tag, publication.confirm_wait(connection), raise_returns)
            return
        except NotFound:
            if resent or not entities:
                raise
            # The broker lost an entity the declare cache remembers
            # (deleted behind our back, or an auto-delete): declare it
            # once more and send the same bytes once more, on a fresh
            # channel from the source.  A second 404 is raised.
            resent = True
            channel.connection.declare_cache.forget(entities)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "publish found an entity missing (404): declaring %s again",
                    ", ".join(repr(entity.name) for entity in entities),
                )


def claim(
    channel: Channel, tag: int, timeout: float | None, raise_returns: bool
) -> None:
    """Wait for the confirm of ``tag``.

    Raises:
        MessageNacked, ConfirmTimeout: as ``Channel.wait_for_confirm``.
        MessageReturned: ``raise_returns`` and the broker returned it.
    """
    returned = channel.wait_for_confirm(tag, timeout)
    if returned is not None and raise_returns:
        raise returned_error(tag, returned)


def declare(
    entities: Iterable[Declarable], channel: Channel, cache: SendCache | None
) -> None:
    """Declare each entity unless the channel's connection already did."""
    if cache is not None:
        cache.declare(entities, channel)
        return
    declared = channel.connection.declare_cache
    for entity in entities:
        declared.ensure_declared(entity, channel)


class SendCache(DeclareMemo):
    """What a producer remembers between publishes, to skip work.

    The declare memo: see :mod:`kombu_lite.declare_memo`.

    The plain properties: a message with no headers, priority or extra
    property has properties that differ only by content type and delivery
    mode, so the producer hands the transport the same (immutable) object
    each time, and the transport can keep its encoding.
    """

    __slots__ = ("_plain",)

    def __init__(self) -> None:
        super().__init__()
        self._plain: dict[tuple[str, str | None, int], BasicProperties] = {}

    def properties(
        self,
        content_type: str,
        content_encoding: str | None,
        headers: Mapping[str, object] | None,
        delivery_mode: int,
        priority: int | None,
        extra: Mapping[str, Any],
    ) -> BasicProperties:
        """The properties of one message."""
        if headers is None and priority is None and not extra:
            key = (content_type, content_encoding, delivery_mode)
            plain = self._plain.get(key)
            if plain is None:
                if len(self._plain) >= _PLAIN_LIMIT:
                    self._plain.clear()
                plain = self._plain[key] = BasicProperties(
                    content_type=content_type,
                    content_encoding=content_encoding,
                    delivery_mode=delivery_mode,
                )
            return plain
        return _properties(
            content_type, content_encoding, headers, delivery_mode, priority, extra
        )


def _properties(
    content_type: str,
    content_encoding: str | None,
    headers: Mapping[str, object] | None,
    delivery_mode: int,
    priority: int | None,
    extra: Mapping[str, Any],
) -> BasicProperties:
    return BasicProperties(
        content_type=content_type,
        content_encoding=content_encoding,
        headers=headers,
        delivery_mode=delivery_mode,
        priority=priority,
        **extra,
    )


def encode_body(
    body: Any,
    codec: Codec | None,
    content_type: str | None,
    content_encoding: str | None,
    compression: str | None,
    headers: Mapping[str, object] | None,
) -> _Body:
    """``(payload, content_type, content_encoding, headers)`` of one body.

    Raises:
        EncodeError: the body cannot be encoded.
    """
    if content_type is None:
        if codec is None:
            raise EncodeError("no serializer and no content_type for the body")
        data, content_type, content_encoding = codec.dump(body)
    elif isinstance(body, str):
        content_encoding = content_encoding or "utf-8"
        data = encode_text(body, content_encoding)
    elif isinstance(body, bytes | bytearray | memoryview):
        content_encoding = content_encoding or "binary"
        data = bytes(body)
    else:
        raise EncodeError(
            f"with content_type={content_type!r} the body must be str or "
            f"bytes, not {type(body).__name__}; pass serializer= instead"
        )
    if compression is not None:
        data, kind = _compression.compress(data, compression)
        headers = {**(headers or {}), "compression": kind}
    return data, content_type, content_encoding, headers or None
