"""``Queue.from_dict``: a queue from a configuration dict, as kombu builds it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kombu_lite.entity.exchange import Binding, Exchange
from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from kombu_lite.entity.queue import Queue

__all__ = ["queue_from_dict"]

#: Queue keyword arguments :meth:`Queue.from_dict` passes on as they are.
_FORWARDED = frozenset(
    {
        "queue_arguments",
        "binding_arguments",
        "consumer_arguments",
        "exclusive",
        "no_ack",
        "alias",
        "bindings",
        "no_declare",
        "expires",
        "message_ttl",
        "max_length",
        "max_length_bytes",
        "max_priority",
    }
)
_READ = frozenset(
    {
        "name",
        "exchange",
        "exchange_type",
        "exchange_durable",
        "exchange_auto_delete",
        "exchange_arguments",
        "delivery_mode",
        "routing_key",
        "binding_key",
        "durable",
        "auto_delete",
        "queue_durable",
        "queue_auto_delete",
    }
)


def _first(options: Mapping[str, Any], *keys: str, default: Any) -> Any:
    for key in keys:
        value = options.get(key)
        if value is not None:
            return value
    return default


def queue_from_dict(cls: type[Queue], name: str, options: Mapping[str, Any]) -> Queue:
    unknown = set(options) - _READ - _FORWARDED
    if unknown:
        raise ConfigurationError(
            f"unknown queue option {min(unknown)!r} for queue {name!r}; expected "
            f"one of {', '.join(sorted(_READ | _FORWARDED))}"
        )
    exchange = options.get("exchange")
    if isinstance(exchange, Mapping):
        exchange = Exchange(**exchange)
    elif not isinstance(exchange, Exchange):
        exchange = Exchange(
            exchange or "",
            type=options.get("exchange_type") or "direct",
            delivery_mode=options.get("delivery_mode"),
            durable=_first(options, "exchange_durable", "durable", default=True),
            auto_delete=_first(
                options, "exchange_auto_delete", "auto_delete", default=False
            ),
            arguments=options.get("exchange_arguments"),
        )
    forwarded = {
        key: value
        for key, value in options.items()
        if key in _FORWARDED and value is not None
    }
    if "bindings" in forwarded:
        forwarded["bindings"] = [
            Binding.from_dict(item) if isinstance(item, Mapping) else item
            for item in forwarded["bindings"]
        ]
    return cls(
        name,
        exchange=exchange,
        routing_key=options.get("binding_key") or options.get("routing_key") or "",
        durable=_first(options, "queue_durable", "durable", default=True),
        auto_delete=_first(options, "queue_auto_delete", "auto_delete", default=False),
        **forwarded,
    )
