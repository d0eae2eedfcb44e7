"""AMQP reply codes to error classes, and the texts of two publish errors.

Re-exported by :mod:`kombu_lite.exceptions`, where callers import them.
"""

from __future__ import annotations

from typing import Protocol

from kombu_lite.exceptions import (
    AccessRefused,
    ChannelError,
    ConfigurationError,
    ConnectionLost,
    ContentTooLarge,
    KombuError,
    MessageReturned,
    NotAllowed,
    NotFound,
    OperationalError,
    PreconditionFailed,
    ProtocolError,
    ResourceLocked,
)

__all__ = [
    "Outcome",
    "Returned",
    "channel_error_for_code",
    "connection_error_for_code",
    "immediate_error",
    "returned_error",
]


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
