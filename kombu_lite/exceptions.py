"""The errors kombu_lite raises: one tree under :class:`KombuError`.

Everything the library raises derives from :class:`KombuError`, broker
refusals included (kombu lets those escape as py-amqp classes)::

    KombuError
    ├── ConfigurationError (also ValueError)  rejected here, nothing was sent
    │   ├── InvalidURL
    │   ├── UnknownTransport
    │   └── CompressionNotInstalled
    ├── SerializerNotInstalled                rejected here, nothing was sent
    │   └── ContentDisallowed
    ├── SerializationError
    │   ├── EncodeError                       rejected here, the message not sent
    │   └── DecodeError
    │       └── DecompressionLimitExceeded
    ├── OperationalError                      the network or the broker connection
    │   ├── ConnectionLost
    │   ├── ConnectionBlocked (memory/disk alarm; never retried)
    │   ├── RpcTimeout (no reply to a synchronous call in time; channel closed)
    │   ├── NotAllowed (530, e.g. unknown vhost)
    │   └── ProtocolError (peer is not an AMQP 0-9-1 server)
    ├── ChannelError                          the broker closed the channel
    │   ├── AccessRefused (403)
    │   ├── NotFound (404)
    │   ├── ResourceLocked (405)
    │   ├── PreconditionFailed (406)
    │   ├── ContentTooLarge (311)
    │   └── ChannelClosed (the channel was already closed)
    ├── PublishError                          the message may or may not have arrived
    │   ├── MessageNacked
    │   ├── MessageReturned
    │   └── ConfirmTimeout
    ├── PublishInterrupted                    publish_many's bodies raised
    ├── ConsumerCancelled                     the broker cancelled a consumer for good
    ├── MessageStateError
    ├── NotBoundError
    └── LimitExceeded
        ├── ConnectionLimitExceeded
        ├── ChannelLimitExceeded
        └── ResourceError (a connection has no free channel id)

Every error keeps its details as keyword attributes, pickles, and never
carries a password in its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "AccessRefused",
    "ChannelClosed",
    "ChannelError",
    "ChannelLimitExceeded",
    "CompressionNotInstalled",
    "ConfigurationError",
    "ConfirmTimeout",
    "ConnectionBlocked",
    "ConnectionLimitExceeded",
    "ConnectionLost",
    "ConsumerCancelled",
    "ContentDisallowed",
    "ContentTooLarge",
    "DecodeError",
    "DecompressionLimitExceeded",
    "EncodeError",
    "InvalidURL",
    "KombuError",
    "LimitExceeded",
    "MessageNacked",
    "MessageReturned",
    "MessageStateError",
    "NotAllowed",
    "NotBoundError",
    "NotFound",
    "OperationalError",
    "PreconditionFailed",
    "ProtocolError",
    "PublishError",
    "PublishInterrupted",
    "ResourceError",
    "ResourceLocked",
    "RpcTimeout",
    "SerializationError",
    "SerializerNotInstalled",
    "UnknownTransport",
    "channel_error_for_code",
    "connection_error_for_code",
    "immediate_error",
    "returned_error",
]


class KombuError(Exception):
    """Base class of every error kombu_lite raises."""


class ConfigurationError(KombuError, ValueError):
    """A bad argument or setting, rejected before any I/O."""


class InvalidURL(ConfigurationError):
    """A broker URL could not be parsed; the text never contains the password."""


class UnknownTransport(ConfigurationError):
    """The URL scheme or ``transport=`` names no known transport."""


class CompressionNotInstalled(ConfigurationError):
    """The compression method is unknown or its library is not installed.

    On a received message this is not the message's fault: a host with the
    library can decompress it.

    Attributes:
        extra: The kombu-lite extra that installs the missing library
            (``pip install 'kombu-lite[<extra>]'``), or ``None`` when no
            extra would help (an unknown method, a Python built without it).
    """

    def __init__(self, message: str = "", *, extra: str | None = None) -> None:
        super().__init__(message)
        self.extra = extra

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class SerializerNotInstalled(KombuError):
    """No serializer is registered under that name, or its library is missing.

    Attributes:
        extra: The kombu-lite extra that installs the missing library
            (``pip install 'kombu-lite[<extra>]'``), or ``None`` when no
            extra would help (an unknown name, a refused content type).
    """

    def __init__(self, message: str = "", *, extra: str | None = None) -> None:
        super().__init__(message)
        self.extra = extra

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class ContentDisallowed(SerializerNotInstalled):
    """A consumer refused to decode a content type outside its accept list."""


class SerializationError(KombuError):
    """Encoding or decoding a message body failed."""


class EncodeError(SerializationError):
    """The body could not be serialized; the message was not sent."""


class DecodeError(SerializationError):
    """A received body could not be decoded."""


class DecompressionLimitExceeded(DecodeError):
    """A compressed body inflated past the allowed size and was refused."""


class OperationalError(KombuError):
    """A connection-level failure: cannot connect, connection lost, retries exhausted.

    Attributes:
        reply_code: The AMQP reply code when the broker closed the connection.
        reply_text: The broker's text for that code.
        recoverable: Whether reconnecting may help (``retry=True`` only
            retries recoverable errors).
    """

    recoverable: bool = True

    def __init__(
        self,
        message: str = "",
        *,
        reply_code: int | None = None,
        reply_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reply_code = reply_code
        self.reply_text = reply_text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class ConnectionLost(OperationalError):
    """The connection to the broker broke or was closed by the broker."""


class ConnectionBlocked(OperationalError):
    """The broker blocks publishing (a memory or disk alarm).

    Raised by a publish that waited ``blocked_connection_timeout`` for the
    block to lift (the message was not sent), or whose write stalled on the
    blocked connection (the outcome is unknown and the connection is
    closed).  Never retried on a new connection: the broker would block
    that one too, and a stalled message could be delivered twice.
    """

    recoverable = False


class RpcTimeout(OperationalError):
    """The broker did not answer a synchronous call within ``rpc_timeout``.

    Raised by a declare, bind, delete, purge, ``qos``, ``basic.get``,
    ``confirm.select``, consume or cancel, or a channel open, whose reply did
    not come in time although the connection is alive (its heartbeats do
    not extend the wait).  The channel was closed, so a late reply is never
    taken as the answer to a later call; the connection stays usable.  The
    method may or may not have taken effect on the broker.  Recoverable:
    ``retry=True`` and :meth:`~kombu_lite.Connection.ensure` reconnect and
    call again.  (The RabbitMQ Java client's ``channelRpcTimeout``; kombu
    has no such limit and waits for ever.)

    Attributes:
        method: The AMQP method that got no reply, such as ``'queue.declare'``.
        channel_id: The channel it was sent on (0: the connection itself).
        timeout: The limit in seconds.
    """

    def __init__(
        self,
        message: str = "",
        *,
        reply_code: int | None = None,
        reply_text: str | None = None,
        method: str | None = None,
        channel_id: int | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(message, reply_code=reply_code, reply_text=reply_text)
        self.method = method
        self.channel_id = channel_id
        self.timeout = timeout


class NotAllowed(OperationalError):
    """The broker refused the connection (530), for example an unknown vhost."""

    recoverable = False


class ProtocolError(OperationalError):
    """The peer does not speak AMQP 0-9-1, or broke the protocol."""

    recoverable = False


class ChannelError(KombuError):
    """The broker refused an operation and closed the channel.

    Attributes:
        reply_code: The AMQP reply code (for example 404).
        reply_text: The broker's text, which names the entity.
        method: The AMQP method that failed, such as ``'exchange.declare'``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        reply_code: int | None = None,
        reply_text: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.method = method

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class AccessRefused(ChannelError):
    """403: the user may not do this (or, at login, the credentials are wrong)."""


class NotFound(ChannelError):
    """404: the exchange or queue does not exist."""


class ResourceLocked(ChannelError):
    """405: the queue is exclusive to another connection."""


class PreconditionFailed(ChannelError):
    """406: the entity exists with other settings, or a precondition failed."""


class ContentTooLarge(ChannelError):
    """311: the message is larger than the broker accepts."""


class ChannelClosed(ChannelError):
    """The channel was used after it was closed (by the application or the broker)."""


class PublishError(KombuError):
    """A publish whose outcome is not a plain success.

    Attributes:
        delivery_tag: The publisher-confirm delivery tag, when confirms are on.
    """

    def __init__(self, message: str = "", *, delivery_tag: int | None = None) -> None:
        super().__init__(message)
        self.delivery_tag = delivery_tag

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class MessageNacked(PublishError):
    """The broker refused the message (basic.nack): it was not enqueued."""


class MessageReturned(PublishError):
    """A mandatory message could not be routed to any queue."""


class ConfirmTimeout(PublishError):
    """No confirm arrived in time: the message may or may not have been enqueued."""


class Outcome(Protocol):
    """What :class:`PublishInterrupted` says of each message (a PublishOutcome)."""

    @property
    def index(self) -> int: ...

    @property
    def delivery_tag(self) -> int: ...

    @property
    def error(self) -> KombuError | None: ...

    @property
    def ok(self) -> bool: ...


class PublishInterrupted(KombuError):
    """The bodies given to ``publish_many`` raised before their end.

    Raised from the iterator's exception (its ``__cause__``), once every
    message taken before it was sent and its confirm waited for.

    Attributes:
        outcomes: One :class:`~kombu_lite.messaging.PublishOutcome` per
            message taken before the failure, in order, as ``publish_many``
            would have returned them.
    """

    def __init__(self, message: str = "", *, outcomes: Iterable[Outcome] = ()) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class ConsumerCancelled(KombuError):
    """The broker cancelled a consumer and consuming could not be resumed.

    Raised by :class:`~kombu_lite.mixins.ConsumerMixin` when a queue whose
    consumer the broker cancelled cannot be consumed again (``__cause__``
    says why).  Not an :class:`OperationalError`: a worker stops.

    Attributes:
        queue: The name of the queue whose consumer was cancelled.
    """

    def __init__(self, message: str = "", *, queue: str | None = None) -> None:
        super().__init__(message)
        self.queue = queue

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class MessageStateError(KombuError):
    """A received message was acknowledged, rejected or requeued twice."""


class NotBoundError(KombuError):
    """An entity method that needs a channel was called on an unbound entity."""


class LimitExceeded(KombuError):
    """A pool has no free resource left."""


class ConnectionLimitExceeded(LimitExceeded):
    """The connection pool is exhausted."""


class ChannelLimitExceeded(LimitExceeded):
    """The channel pool is exhausted."""


class ResourceError(LimitExceeded):
    """A connection has no free channel id left (``channel_max`` are open).

    Raised by ``Connection.channel()`` before anything is sent: the
    connection and its open channels stay as they were, and a channel
    closed later frees its id for the next one.  Not an
    :class:`OperationalError`, so nothing reconnects or retries because of
    it.  kombu raises py-amqp's ``ResourceError`` here (reachable as
    ``kombu.exceptions.ResourceError``); this class takes its name.

    Attributes:
        code: 506, AMQP's ``resource-error``.
    """

    code = 506


def _rebuild(
    cls: type[BaseException], args: tuple[object, ...], state: dict[str, object]
) -> BaseException:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


_CHANNEL_ERRORS: dict[int, type[ChannelError]] = {
    311: ContentTooLarge,
    403: AccessRefused,
    404: NotFound,
    405: ResourceLocked,
    406: PreconditionFailed,
}

_CONNECTION_ERRORS: dict[int, type[OperationalError]] = {
    320: ConnectionLost,
    530: NotAllowed,
    501: ProtocolError,
    502: ProtocolError,
    503: ProtocolError,
    505: ProtocolError,
}


def channel_error_for_code(reply_code: int) -> type[ChannelError]:
    """Return the :class:`ChannelError` subclass for an AMQP reply code."""
    return _CHANNEL_ERRORS.get(reply_code, ChannelError)


def connection_error_for_code(reply_code: int) -> type[OperationalError]:
    """Return the :class:`OperationalError` subclass for an AMQP reply code."""
    return _CONNECTION_ERRORS.get(reply_code, OperationalError)


class Returned(Protocol):
    """The parts of a ``basic.return`` that :func:`returned_error` names."""

    @property
    def reply_code(self) -> int: ...

    @property
    def reply_text(self) -> str: ...

    @property
    def exchange(self) -> str: ...

    @property
    def routing_key(self) -> str: ...


def immediate_error() -> ConfigurationError:
    """The error for ``immediate=True``, which RabbitMQ does not support."""
    return ConfigurationError(
        "immediate=True is not supported: RabbitMQ 3.0 and later refuse the "
        "'immediate' flag and close the connection; use mandatory=True with "
        "on_return, or a per-message expiration, instead"
    )


def returned_error(tag: int, returned: Returned) -> MessageReturned:
    """The error for a confirmed ``mandatory`` message the broker returned."""
    return MessageReturned(
        f"the broker could not route message {tag}: {returned.reply_code} "
        f"{returned.reply_text} (exchange {returned.exchange!r}, routing "
        f"key {returned.routing_key!r}); pass on_return to handle returns",
        delivery_tag=tag,
    )
