"""``Queue.as_dict``/``from_dict``: a queue as a configuration dict and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kombu_lite.entity.exchange import Binding, Exchange
from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from kombu_lite.entity.queue import Queue

__all__ = ["queue_as_dict", "queue_from_dict", "queue_state"]

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
        "queue_type",
        "dead_letter_exchange",
        "dead_letter_routing_key",
        "delivery_limit",
        "overflow",
        "single_active_consumer",
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


def queue_state(queue: Queue) -> dict[str, Any]:
    """The keyword arguments that build ``queue`` again (for pickling)."""
    return {
        "name": queue.name,
        "exchange": queue.exchange,
        "routing_key": queue.routing_key,
        "bindings": list(queue.bindings),
        "durable": queue.durable,
        "exclusive": queue.exclusive,
        "auto_delete": queue.auto_delete,
        "queue_arguments": queue.queue_arguments,
        "binding_arguments": queue.binding_arguments,
        "consumer_arguments": queue.consumer_arguments,
        "no_ack": queue.no_ack,
        "alias": queue.alias,
        "expires": queue.expires,
        "message_ttl": queue.message_ttl,
        "max_length": queue.max_length,
        "max_length_bytes": queue.max_length_bytes,
        "max_priority": queue.max_priority,
        "no_declare": queue.no_declare,
        "queue_type": queue.queue_type,
        "dead_letter_exchange": queue.dead_letter_exchange,
        "dead_letter_routing_key": queue.dead_letter_routing_key,
        "delivery_limit": queue.delivery_limit,
        "overflow": queue.overflow,
        "single_active_consumer": queue.single_active_consumer,
    }


#: The typed keywords kombu does not have, with their defaults.
_TYPED_DEFAULTS: dict[str, object] = {
    "queue_type": None,
    "dead_letter_exchange": None,
    "dead_letter_routing_key": None,
    "delivery_limit": None,
    "overflow": None,
    "single_active_consumer": False,
}


def queue_as_dict(queue: Queue, recurse: bool) -> dict[str, Any]:
    """:meth:`Queue.as_dict`: the state, with times as floats (as kombu).

    The keywords kombu does not have are left out while they have their
    defaults, so a queue kombu could build gives kombu's keys exactly.
    """
    state = queue_state(queue)
    for key, default in _TYPED_DEFAULTS.items():
        if state[key] == default and type(state[key]) is type(default):
            del state[key]
    dlx = queue.dead_letter_exchange
    if recurse:
        state["exchange"] = queue.exchange.as_dict(recurse=True)
        state["bindings"] = [b.as_dict(recurse=True) for b in queue.bindings]
        if isinstance(dlx, Exchange):
            state["dead_letter_exchange"] = dlx.as_dict(recurse=True)
    for key in ("expires", "message_ttl"):
        if state[key] is not None:
            state[key] = float(state[key])
    return state


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
    if isinstance(forwarded.get("dead_letter_exchange"), Mapping):
        forwarded["dead_letter_exchange"] = Exchange(
            **forwarded["dead_letter_exchange"]
        )
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
