"""The errors kombu_lite raises: one tree under :class:`KombuError`.

Everything the library raises derives from :class:`KombuError`, broker
refusals included (kombu lets those escape as py-amqp classes)::

    KombuError
    ├── ConfigurationError (also ValueError)  rejected here, nothing was sent
    │   ├── UnknownArgument (also TypeError)  a misspelt keyword argument
    │   ├── InvalidURL
    │   ├── UnknownTransport
    │   └── CompressionNotInstalled
    ├── SerializerNotInstalled                rejected here, nothing was sent
    │   └── ContentDisallowed
    ├── SerializationError
    │   ├── EncodeError                       rejected here, the message not sent
    │   └── DecodeError
    │       └── DecompressionLimitExceeded
    ├── ConnectionError                       kombu's name for connection errors
    │   ├── OperationalError                  the network or the broker connection
    │   │   ├── ConnectionLost
    │   │   ├── ConnectionBlocked (memory/disk alarm; never retried)
    │   │   ├── RpcTimeout (no reply to a synchronous call in time)
    │   │   ├── NotAllowed (530, e.g. unknown vhost)
    │   │   └── ProtocolError (peer is not an AMQP 0-9-1 server)
    │   └── InconsistencyError                (kombu's; kombu_lite never raises it)
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
    ├── BatchPublishError                     (kombu's; kombu_lite never raises it)
    ├── ConsumerCancelled                     the broker cancelled a consumer for good
    ├── MessageStateError
    ├── NotBoundError
    ├── VersionMismatch                       (kombu's; kombu_lite never raises it)
    ├── HttpError                             (kombu's; kombu_lite never raises it)
    └── LimitExceeded
        ├── ConnectionLimitExceeded
        ├── ChannelLimitExceeded
        └── ResourceError (no free channel id; also a ConnectionError)

:data:`TimeoutError` is Python's own (``socket.timeout`` is the same
class), as in kombu: ``drain_events`` raises it when nothing arrived in
time.  Every error keeps its details as keyword attributes, pickles, and
never carries a password in its text.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from kombu_lite.exceptions._helpers import rebuild as _rebuild
from kombu_lite.exceptions._helpers import reraise

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kombu_lite.exceptions._codes import Outcome

__all__ = [
    "AccessRefused",
    "BatchPublishError",
    "ChannelClosed",
    "ChannelError",
    "ChannelLimitExceeded",
    "CompressionNotInstalled",
    "ConfigurationError",
    "ConfirmTimeout",
    "ConnectionBlocked",
    "ConnectionError",
    "ConnectionLimitExceeded",
    "ConnectionLost",
    "ConsumerCancelled",
    "ContentDisallowed",
    "ContentTooLarge",
    "DecodeError",
    "DecompressionLimitExceeded",
    "EncodeError",
    "HttpError",
    "InconsistencyError",
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
    "TimeoutError",
    "UnknownArgument",
    "UnknownTransport",
    "VersionMismatch",
    "channel_error_for_code",
    "connection_error_for_code",
    "immediate_error",
    "reraise",
    "returned_error",
]

#: What ``Connection.drain_events`` raises when nothing arrived in time:
#: Python's :exc:`TimeoutError`, which ``socket.timeout`` is, as in kombu.
TimeoutError = builtins.TimeoutError  # noqa: A001


class KombuError(Exception):
    """Base class of every error kombu_lite raises."""


class ConfigurationError(KombuError, ValueError):
    """A bad argument or setting, rejected before any I/O."""


class InvalidURL(ConfigurationError):
    """A broker URL could not be parsed; the text never contains the password."""


class UnknownTransport(ConfigurationError, KeyError):
    """The URL scheme or ``transport=`` names no known transport.

    Also a :exc:`KeyError`, which kombu raises there (code that catches
    ``KeyError`` around ``Connection(...)`` keeps working).
    """

    __str__ = Exception.__str__  # KeyError's would quote the message


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


class ConnectionError(KombuError):  # noqa: A001
    """kombu's ``ConnectionError`` (py-amqp's): a connection-level error.

    ``except ConnectionError`` catches every :class:`OperationalError`
    (kombu's driver errors and kombu_lite's connection failures are the
    same thing here) and :class:`ResourceError`.  Not Python's built-in
    ``ConnectionError``, as in kombu.

    Attributes:
        reply_code: The AMQP reply code when the broker closed the connection.
        reply_text: The broker's text for that code.
    """

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


class OperationalError(ConnectionError):
    """A connection-level failure: cannot connect, connection lost, retries exhausted.

    Attributes:
        recoverable: Whether reconnecting may help (``retry=True`` only
            retries recoverable errors).
    """

    recoverable: bool = True


class InconsistencyError(ConnectionError):
    """Data or environment found inconsistent (kombu's; kombu_lite never raises it)."""


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
    """The channel was used after it was closed (by the application or the broker).

    Also raised by a channel, producer, consumer or message used after
    the application closed its connection (``Connection.close()``): they
    never reopen it.
    """


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


class ResourceError(LimitExceeded, ConnectionError):
    """A connection has no free channel id left (``channel_max`` are open).

    Raised by ``Connection.channel()`` before anything is sent: the
    connection and its open channels stay as they were, and a channel
    closed later frees its id for the next one.  Not an
    :class:`OperationalError`, so nothing reconnects or retries because of
    it.  kombu raises py-amqp's ``ResourceError`` here (reachable as
    ``kombu.exceptions.ResourceError``, a ``ConnectionError``); this class
    takes its name and is a :class:`ConnectionError` too.

    Attributes:
        code: 506, AMQP's ``resource-error``.
    """

    code = 506


# The code tables, UnknownArgument and kombu's never-raised classes need the
# classes above (a cycle inside this package only).
from kombu_lite.exceptions import _codes  # noqa: E402
from kombu_lite.exceptions._arguments import UnknownArgument  # noqa: E402
from kombu_lite.exceptions._kombu import (  # noqa: E402
    BatchPublishError,
    HttpError,
    VersionMismatch,
)

Returned = _codes.Returned
channel_error_for_code = _codes.channel_error_for_code
connection_error_for_code = _codes.connection_error_for_code
immediate_error = _codes.immediate_error
returned_error = _codes.returned_error
