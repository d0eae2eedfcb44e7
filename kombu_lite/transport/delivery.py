"""A :class:`~kombu_lite.transport.base.Delivery` built for a consumer, fast.

Both transports hand every consumed message over as a ``Delivery``; this
builds one without the frozen dataclass's keyword constructor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.transport.base import Delivery

if TYPE_CHECKING:
    from kombu_lite.transport.base import BasicProperties

__all__ = ["new_delivery"]

# Delivery is a frozen dataclass: its __init__ sets each field through
# object.__setattr__ (with keywords), three times the cost of writing the
# slots directly, once per delivered message.
_new = object.__new__
(
    _set_body,
    _set_properties,
    _set_tag,
    _set_exchange,
    _set_routing_key,
    _set_redelivered,
    _set_consumer_tag,
    _set_message_count,
) = (
    getattr(Delivery, name).__set__
    for name in (
        "body",
        "properties",
        "delivery_tag",
        "exchange",
        "routing_key",
        "redelivered",
        "consumer_tag",
        "message_count",
    )
)


def new_delivery(
    body: bytes,
    properties: BasicProperties,
    delivery_tag: int,
    exchange: str,
    routing_key: str,
    redelivered: bool,
    consumer_tag: str | None,
) -> Delivery:
    """Return ``Delivery(...)`` for a consumer, built without its __init__.

    Equal to the :class:`~kombu_lite.transport.base.Delivery` the keyword
    constructor builds from the same values (``message_count`` None); the
    values are not checked, so they must already have the field types.
    """
    delivery = _new(Delivery)
    _set_body(delivery, body)
    _set_properties(delivery, properties)
    _set_tag(delivery, delivery_tag)
    _set_exchange(delivery, exchange)
    _set_routing_key(delivery, routing_key)
    _set_redelivered(delivery, redelivered)
    _set_consumer_tag(delivery, consumer_tag)
    _set_message_count(delivery, None)
    return delivery
