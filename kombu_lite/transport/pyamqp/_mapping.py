"""py-amqp to kombu_lite: errors (in one place) and received messages."""

from __future__ import annotations

import contextlib
import datetime
from typing import TYPE_CHECKING, Any, Protocol

from amqp import exceptions as amqp_errors

from kombu_lite.exceptions import (
    ChannelError,
    ConnectionLost,
    OperationalError,
    channel_error_for_code,
    connection_error_for_code,
)
from kombu_lite.transport.base import BasicProperties, Delivery

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "Closable",
    "body_of",
    "delivery_from",
    "mapped",
    "properties_from",
    "typed_channel_error",
]

_PROPERTY_NAMES = frozenset(BasicProperties.__dataclass_fields__)


class Closable(Protocol):
    """Something that can be told the broker closed it."""

    def mark_closed(self, reason: str) -> None: ...


@contextlib.contextmanager
def mapped(where: str, channel: Closable | None = None) -> Iterator[None]:
    """Translate py-amqp and socket errors raised inside the block."""
    try:
        yield
    except amqp_errors.ChannelError as exc:
        if channel is not None:
            channel.mark_closed(f"{exc.reply_code} {exc.reply_text}")
        raise typed_channel_error(exc) from exc
    except amqp_errors.ConnectionError as exc:
        code = int(exc.reply_code or 0)
        text = str(exc.reply_text or exc)
        cls = connection_error_for_code(code) if code else ConnectionLost
        if cls is OperationalError:
            cls = ConnectionLost
        raise cls(
            f"connection to {where} failed: {text}",
            reply_code=code or None,
            reply_text=text,
        ) from exc
    except TimeoutError:
        raise
    except OSError as exc:
        raise ConnectionLost(f"connection to {where} was lost: {exc}") from exc


def typed_channel_error(exc: Any) -> ChannelError:
    """kombu_lite's error for a py-amqp channel error (by reply code)."""
    code = int(exc.reply_code or 0)
    text = str(exc.reply_text or exc)
    method = str(exc.method_name or "") or None
    return channel_error_for_code(code)(
        f"{text} ({method or 'channel'} refused with {code})",
        reply_code=code,
        reply_text=text,
        method=method,
    )


def properties_from(raw: Mapping[str, Any]) -> BasicProperties:
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "application_headers":
            fields["headers"] = value
        elif key == "timestamp" and isinstance(value, datetime.datetime):
            stamp = value.replace(tzinfo=value.tzinfo or datetime.UTC)
            fields["timestamp"] = int(stamp.timestamp())
        elif key in _PROPERTY_NAMES:
            fields[key] = value
    return BasicProperties(**fields)


def body_of(message: Any) -> bytes:
    """The body of a py-amqp message (delivered or returned), as bytes."""
    body = message.body
    # A 0-byte message has no body frame, and py-amqp leaves its body at
    # the default, '' (a str): it is b'' here, as on memory://.
    return bytes(body) if body else b""


def delivery_from(message: Any, message_count: int | None = None) -> Delivery:
    """Our :class:`Delivery` for a py-amqp message; the body is always bytes."""
    info = message.delivery_info
    return Delivery(
        body=body_of(message),
        properties=properties_from(message.properties),
        delivery_tag=int(info["delivery_tag"]),
        exchange=str(info.get("exchange", "")),
        routing_key=str(info.get("routing_key", "")),
        redelivered=bool(info.get("redelivered", False)),
        consumer_tag=info.get("consumer_tag"),
        message_count=message_count,
    )
