"""AMQP reply codes and texts of the memory broker, worded as RabbitMQ words them.

Every refusal the memory broker makes goes through :func:`channel_error` or
:func:`connection_error`, so the exception class comes from the same
reply-code table the py-amqp adapter uses
(:func:`kombu_lite.exceptions.channel_error_for_code`) and the text reads like
RabbitMQ's (``"NOT_FOUND - no exchange 'x' in vhost '/'"``): a test that
matches on it passes on both transports.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from decimal import Decimal

from kombu_lite.exceptions import (
    ChannelClosed,
    ChannelError,
    OperationalError,
    channel_error_for_code,
    connection_error_for_code,
)
from kombu_lite.transport.base import BasicProperties, ReturnedMessage

__all__ = [
    "ACCESS_REFUSED",
    "COMMAND_INVALID",
    "CONNECTION_FORCED",
    "MAX_MESSAGE_SIZE_LIMIT",
    "NOT_ALLOWED",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "PRECONDITION_FAILED",
    "RESOURCE_LOCKED",
    "amqp_type_name",
    "channel_closed",
    "channel_error",
    "connection_error",
    "describe_value",
    "message_too_large",
    "no_route",
]

CONNECTION_FORCED = 320
ACCESS_REFUSED = 403
NOT_FOUND = 404
RESOURCE_LOCKED = 405
PRECONDITION_FAILED = 406
COMMAND_INVALID = 503
NOT_ALLOWED = 530
NOT_IMPLEMENTED = 540

_REPLY_NAMES: dict[int, str] = {
    CONNECTION_FORCED: "CONNECTION_FORCED",
    ACCESS_REFUSED: "ACCESS_REFUSED",
    NOT_FOUND: "NOT_FOUND",
    RESOURCE_LOCKED: "RESOURCE_LOCKED",
    PRECONDITION_FAILED: "PRECONDITION_FAILED",
    COMMAND_INVALID: "COMMAND_INVALID",
    NOT_ALLOWED: "NOT_ALLOWED",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
}


def reply_text(code: int, detail: str) -> str:
    """Return the full reply text, ``'<NAME> - <detail>'``, as RabbitMQ sends it."""
    return f"{_REPLY_NAMES[code]} - {detail}"


def channel_error(code: int, detail: str, method: str) -> ChannelError:
    """Build the channel-level error the broker answers ``method`` with."""
    text = reply_text(code, detail)
    return channel_error_for_code(code)(
        text, reply_code=code, reply_text=text, method=method
    )


def channel_closed(
    channel_id: int, cause: ChannelError | None, method: str
) -> ChannelClosed:
    """The error for ``method`` on a closed channel, naming why it closed.

    ``cause`` is the broker's error that closed it, None if the client did.
    """
    if cause is None:
        return ChannelClosed(
            f"channel {channel_id} is closed; open a new channel", method=method
        )
    return ChannelClosed(
        f"channel {channel_id} was closed by the broker after {cause.method} "
        f"failed: {cause.reply_text}; open a new channel",
        reply_code=cause.reply_code,
        reply_text=cause.reply_text,
        method=method,
    )


def connection_error(code: int, detail: str) -> OperationalError:
    """Build a connection-level error (the broker closes the whole connection)."""
    text = reply_text(code, detail)
    return connection_error_for_code(code)(text, reply_code=code, reply_text=text)


#: RabbitMQ's hard limit on ``max_message_size`` (512 MiB).
MAX_MESSAGE_SIZE_LIMIT = 512 * 1024 * 1024


def message_too_large(size: int, limit: int) -> ChannelError:
    """RabbitMQ's refusal of a body over ``max_message_size`` (406)."""
    # RabbitMQ says "configured" unless the limit is its hard maximum.
    which = "max size" if limit == MAX_MESSAGE_SIZE_LIMIT else "configured max size"
    return channel_error(
        PRECONDITION_FAILED,
        f"message size {size} is larger than {which} {limit}",
        "basic.publish",
    )


def amqp_type_name(value: object) -> str:
    """Return RabbitMQ's name for the AMQP field type py-amqp sends ``value`` as."""
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        # py-amqp sends a 32-bit 'I' when it fits, a 64-bit 'L' otherwise.
        return "signedint" if -(2**31) < value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str | bytes):
        return "longstr"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, _dt.datetime):
        return "timestamp"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def describe_value(value: object) -> str:
    """Return ``value`` as RabbitMQ prints it in an 'inequivalent arg' text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def no_route(
    exchange: str, routing_key: str, body: bytes, properties: BasicProperties
) -> ReturnedMessage:
    """The ``basic.return`` of a mandatory message no queue took (312)."""
    return ReturnedMessage(
        reply_code=312,
        reply_text="NO_ROUTE",
        exchange=exchange,
        routing_key=routing_key,
        body=body,
        properties=properties,
    )
