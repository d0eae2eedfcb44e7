"""Messages: :class:`Message` as received, :class:`PreparedMessage` to send raw.

A received message is decoded lazily and safely: the accept list is checked
*before* the body is decompressed, and decompression is capped in size, so
an untrusted peer cannot make a consumer inflate or unpickle anything it did
not agree to (kombu decompresses first, whatever ``accept`` says).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol, overload

import kombu_lite.compression as compression
import kombu_lite.serialization as serialization
from kombu_lite._death import DeadLettering, DeathRecord
from kombu_lite.exceptions import ContentDisallowed, DecodeError, MessageStateError
from kombu_lite.outgoing import PreparedMessage, encode_text
from kombu_lite.transport.base import BasicProperties, Delivery

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_ACCEPT",
    "DeathRecord",
    "Message",
    "PreparedMessage",
    "SettleChannel",
]

#: What a consumer decodes when no accept list is given: json only.
DEFAULT_ACCEPT: Final = frozenset({"application/json"})
#: Content types that are plain data, never executed: always accepted.
_TRUSTED: Final = serialization.TRUSTED_CONTENT_TYPES

_PROPERTY_NAMES: Final = frozenset(BasicProperties.__dataclass_fields__) - {
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
}

_UNDECODED: Final = object()
_new = object.__new__


def prepare_accept(accept: Iterable[str] | None) -> frozenset[str]:
    """Turn serializer names or content types into the accepted content types."""
    if accept is None:
        return DEFAULT_ACCEPT
    prepared = serialization.prepare_accept_content(accept)
    return frozenset(prepared or ())


class SettleChannel(Protocol):
    """What a message needs of its channel: ack and reject.

    :class:`kombu_lite.channel.Channel` is the one in use (the message
    module sits below it, so it names only this).
    """

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery."""

    def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery."""


class Message(DeadLettering):
    """A message received from a queue.

    Built by kombu_lite from a received
    :class:`~kombu_lite.transport.base.Delivery` (``Message(delivery,
    channel, accept=..., no_ack=...)``), or, as kombu's, from its parts
    for tests and custom transports: ``Message(body, delivery_tag=None,
    content_type=None, content_encoding=None, delivery_info=None,
    properties=None, headers=None, postencode=None, accept=None,
    channel=None, **kwargs)`` (other keyword arguments are ignored, as
    kombu ignores them).  Either way the body is decompressed only by
    :meth:`decode`, after the accept check.

    Attributes:
        body: The body exactly as received (still compressed, if it was).
        content_type, content_encoding: How the body was serialized.
        delivery_tag: The broker's tag for :meth:`ack` and :meth:`reject`.
        accept: The content types :meth:`decode` accepts.
        channel: The channel it was received on (None: it cannot be
            settled).
    """

    MessageStateError = MessageStateError

    channel: SettleChannel | None
    body: bytes
    delivery_tag: int | None
    content_type: str | None
    content_encoding: str | None
    accept: frozenset[str]
    no_ack: bool
    errors: list[BaseException]
    _state: str
    _decoded: object
    #: What a received message was made from (None: built from its parts).
    _delivery: Delivery | None
    # Made from _delivery on first use (None until then).
    _headers: dict[str, object] | None
    _properties: dict[str, object] | None
    _delivery_info: dict[str, object] | None

    @overload
    def __init__(
        self,
        body: Delivery,
        channel: SettleChannel | None = None,
        /,
        *,
        accept: Iterable[str] | None = None,
        no_ack: bool = False,
    ) -> None: ...

    @overload
    def __init__(
        self,
        body: Delivery,
        *,
        channel: SettleChannel | None = None,
        accept: Iterable[str] | None = None,
        no_ack: bool = False,
    ) -> None: ...

    @overload
    def __init__(
        self,
        body: bytes | str | None = None,
        delivery_tag: int | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        delivery_info: Mapping[str, object] | None = None,
        properties: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        postencode: str | None = None,
        accept: Iterable[str] | None = None,
        channel: SettleChannel | None = None,
        no_ack: bool = False,
        **kwargs: object,
    ) -> None: ...

    def __init__(
        self,
        body: Any = None,
        delivery_tag: Any = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        delivery_info: Mapping[str, object] | None = None,
        properties: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        postencode: str | None = None,
        accept: Iterable[str] | None = None,
        channel: SettleChannel | None = None,
        no_ack: bool = False,
        **kwargs: object,
    ) -> None:
        if type(body) is Delivery:
            # kombu_lite's own shape: the second positional argument is the
            # channel.
            self._receive(
                body,
                channel if delivery_tag is None else delivery_tag,
                DEFAULT_ACCEPT if accept is None else prepare_accept(accept),
                no_ack,
            )
            return
        del kwargs  # kombu ignores what its transports add
        if isinstance(body, str):
            body = encode_text(body, postencode or content_encoding or "utf-8")
        self.channel = channel
        self._delivery = None
        self.body = b"" if body is None else body
        self.delivery_tag = delivery_tag
        self.content_type = content_type
        self.content_encoding = content_encoding
        self._headers = dict(headers or {})
        self._properties = dict(properties or {})
        self._delivery_info = dict(delivery_info or {})
        self.accept = prepare_accept(accept)
        self.no_ack = no_ack
        self.errors = []
        self._state = "RECEIVED"
        self._decoded = _UNDECODED

    def _receive(
        self,
        delivery: Delivery,
        channel: SettleChannel | None,
        accept: frozenset[str],
        no_ack: bool,
    ) -> None:
        # headers, properties and delivery_info are made from the delivery
        # on first use.
        props = delivery.properties
        self.channel = channel
        self._delivery = delivery
        self.body = delivery.body
        self.delivery_tag = delivery.delivery_tag
        self.content_type = props.content_type
        self.content_encoding = props.content_encoding
        self._headers = None
        self._properties = None
        self._delivery_info = None
        self.accept = accept
        self.no_ack = no_ack
        self.errors = []
        self._state = "RECEIVED"
        self._decoded = _UNDECODED

    @property
    def headers(self) -> dict[str, object]:
        """The application headers (a dict of this message's own)."""
        headers = self._headers
        if headers is None:
            delivery = self._delivery
            given = None if delivery is None else delivery.properties.headers
            headers = self._headers = dict(given or {})
        return headers

    @headers.setter
    def headers(self, value: dict[str, object]) -> None:
        self._headers = value

    @property
    def properties(self) -> dict[str, object]:
        """Every AMQP property that was set (a dict of this message's own)."""
        properties = self._properties
        if properties is None:
            delivery = self._delivery
            properties = {} if delivery is None else delivery.properties.as_dict()
            self._properties = properties
        return properties

    @properties.setter
    def properties(self, value: dict[str, object]) -> None:
        self._properties = value

    @property
    def delivery_info(self) -> dict[str, object]:
        """How it was delivered (a dict of this message's own).

        ``exchange``, ``routing_key``, ``redelivered``, ``delivery_tag``,
        ``consumer_tag`` and ``message_count``.
        """
        info = self._delivery_info
        if info is None:
            delivery = self._delivery
            info = self._delivery_info = (
                {}
                if delivery is None
                else {
                    "exchange": delivery.exchange,
                    "routing_key": delivery.routing_key,
                    "redelivered": delivery.redelivered,
                    "delivery_tag": delivery.delivery_tag,
                    "consumer_tag": delivery.consumer_tag,
                    "message_count": delivery.message_count,
                }
            )
        return info

    @delivery_info.setter
    def delivery_info(self, value: dict[str, object]) -> None:
        self._delivery_info = value

    @property
    def redelivered(self) -> bool:
        """True when the broker delivered this message before."""
        delivery = self._delivery
        if self._delivery_info is None and delivery is not None:
            return delivery.redelivered
        return bool(self.delivery_info.get("redelivered"))

    @property
    def priority(self) -> int | None:
        """The message priority, if set."""
        value = self.properties.get("priority")
        return value if isinstance(value, int) else None

    @property
    def delivery_mode(self) -> int | None:
        """1 (transient) or 2 (persistent), if set."""
        value = self.properties.get("delivery_mode")
        return value if isinstance(value, int) else None

    def _header(self, name: str) -> object:
        # One header, without making the headers dict of a received message.
        headers: Mapping[str, object] | None = self._headers
        if headers is None and self._delivery is not None:
            headers = self._delivery.properties.headers
        return None if not headers else headers.get(name)

    def __getattr__(self, name: str) -> object:
        # correlation_id, reply_to, message_id... read like attributes, as
        # on kombu's messages.
        if name in _PROPERTY_NAMES:
            return self.properties.get(name)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    # -- decoding --------------------------------------------------------------------

    def decode(self) -> Any:
        """Return the deserialized body (computed once).

        A message that raised is left as it was: settle it yourself.

        Raises:
            ContentDisallowed: the content type is not in :attr:`accept`.
            DecodeError: the body (or its compression) is corrupt or too
                large once inflated.
            SerializerNotInstalled: the serializer's library is not
                installed here (``extra`` names what to install).
            CompressionNotInstalled: the compression method is unknown, or
                its library is not installed here (likewise).
        """
        if self._decoded is _UNDECODED:
            self._decoded = self._decode()
        return self._decoded

    @property
    def payload(self) -> Any:
        """The deserialized body (see :meth:`decode`)."""
        return self.decode()

    def _decode(self) -> Any:
        content_type = self.content_type or "application/data"
        if content_type not in self.accept and content_type not in _TRUSTED:
            raise ContentDisallowed(
                f"refusing to decode a message of type {content_type!r}; "
                f"accepted types: {', '.join(sorted(self.accept)) or 'none'}"
            )
        body = self.body
        method = self._header("compression")
        if method is not None:
            if not isinstance(method, str):
                raise DecodeError(f"invalid compression header {method!r}")
            body = compression.decompress(body, method)
        return serialization.loads(
            body, content_type, self.content_encoding, accept=self.accept
        )

    # -- acknowledgement -----------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        """True once acked, rejected or requeued."""
        return self._state != "RECEIVED"

    def _settleable(self) -> tuple[SettleChannel, int] | None:
        # The state changes only once the broker was told: a failed ack
        # (the connection is gone) leaves the message unacknowledged, so it
        # may be settled again on a new channel's redelivery, as in kombu.
        if self._state != "RECEIVED":
            raise MessageStateError(
                f"message {self.delivery_tag} was already {self._state.lower()}"
            )
        if self.channel is None or self.delivery_tag is None:
            raise MessageStateError(
                "this message has no channel or delivery tag (a returned or "
                "hand-built message cannot be settled)"
            )
        # A no_ack delivery is settled by the broker already: nothing to send.
        return None if self.no_ack else (self.channel, self.delivery_tag)

    def ack(self, multiple: bool = False) -> None:
        """Acknowledge the message.

        :attr:`acknowledged` becomes True only once the ``basic.ack`` was
        sent: if this raises, the message is still unacknowledged.

        Raises:
            MessageStateError: it was already acked, rejected or requeued.
            ChannelClosed: the channel is closed (its unacknowledged
                messages went back to the queue).
            ConnectionLost: the connection is gone (likewise).
        """
        target = self._settleable()
        if target is not None:
            channel, tag = target
            channel.basic_ack(tag, multiple=multiple)
        self._state = "ACKED"

    def reject(self, requeue: bool = False) -> None:
        """Reject the message; with ``requeue`` the broker delivers it again.

        As with :meth:`ack`, the state changes only once the
        ``basic.reject`` was sent.

        Raises:
            MessageStateError: it was already acked, rejected or requeued.
            ChannelClosed, ConnectionLost: as for :meth:`ack`.
        """
        target = self._settleable()
        if target is not None:
            channel, tag = target
            channel.basic_reject(tag, requeue=requeue)
        self._state = "REQUEUED" if requeue else "REJECTED"

    def requeue(self) -> None:
        """Put the message back on its queue (``reject(requeue=True)``)."""
        self.reject(requeue=True)

    def ack_log_error(
        self,
        logger: logging.Logger,
        errors: tuple[type[BaseException], ...],
        multiple: bool = False,
    ) -> None:
        """Acknowledge, logging (not raising) the listed errors."""
        try:
            self.ack(multiple=multiple)
        except errors as exc:
            logger.critical("couldn't ack %r, reason: %r", self.delivery_tag, exc)

    def reject_log_error(
        self,
        logger: logging.Logger,
        errors: tuple[type[BaseException], ...],
        requeue: bool = False,
    ) -> None:
        """Reject, logging (not raising) the listed errors."""
        try:
            self.reject(requeue=requeue)
        except errors as exc:
            logger.critical("couldn't reject %r, reason: %r", self.delivery_tag, exc)

    def __repr__(self) -> str:
        return (
            f"<Message {self.delivery_tag} {self._state.lower()} "
            f"{self.content_type} {len(self.body)} bytes>"
        )


def received(
    delivery: Delivery,
    channel: SettleChannel | None,
    accept: frozenset[str],
    no_ack: bool,
) -> Message:
    """``Message(delivery, channel, no_ack=no_ack)`` with ``accept`` prepared.

    The consumer's hot path: the same message, without the argument
    parsing of :class:`Message`'s constructor.
    """
    message: Message = _new(Message)
    message._receive(delivery, channel, accept, no_ack)
    return message
