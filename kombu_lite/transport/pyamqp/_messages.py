"""py-amqp's received messages as kombu_lite's :class:`~.base.Delivery`."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from kombu_lite.transport.base import BasicProperties, Delivery

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["body_of", "delivery_from", "properties_from"]

_PROPERTY_NAMES = frozenset(BasicProperties.__dataclass_fields__)
#: Properties py-amqp names and types as we do (``timestamp`` is a datetime
#: there, ``application_headers`` is our ``headers``).
_PLAIN_NAMES = _PROPERTY_NAMES - {"timestamp", "headers"}
_PLAIN_AND_HEADERS = _PLAIN_NAMES | {"application_headers"}


def properties_from(raw: Mapping[str, Any]) -> BasicProperties:
    """Our :class:`BasicProperties` for py-amqp's property dict."""
    names = raw.keys()
    if names <= _PLAIN_NAMES:
        # The common cases, once per delivery: nothing to convert, at most
        # the headers to rename.
        return BasicProperties(**raw)
    if names <= _PLAIN_AND_HEADERS:
        plain = dict(raw)
        return BasicProperties(headers=plain.pop("application_headers"), **plain)
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
