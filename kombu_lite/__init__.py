"""kombu_lite: a typed, pure-Python AMQP 0-9-1 client with kombu's producer API.

Port code from kombu by changing the import::

    from kombu_lite import Connection, Exchange, Producer, Queue

``memory://`` is an in-process broker with RabbitMQ's semantics for tests
and demos; ``amqp://`` talks to RabbitMQ through py-amqp.

The names below are imported on first use (``kombu_lite.Producer`` loads
:mod:`kombu_lite.messaging` then), so ``import kombu_lite`` itself costs
almost nothing.
"""

from __future__ import annotations

from kombu_lite._version import __version__ as __version__

# Not ``from typing import TYPE_CHECKING``: importing typing alone costs more
# than the rest of this module.  Type checkers treat the name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kombu_lite import pools as pools
    from kombu_lite.channel import Channel as Channel
    from kombu_lite.common import eventloop as eventloop
    from kombu_lite.common import uuid as uuid
    from kombu_lite.connection import Connection as BrokerConnection
    from kombu_lite.connection import Connection as Connection
    from kombu_lite.connection.url import parse_url as parse_url
    from kombu_lite.entity import Binding as Binding
    from kombu_lite.entity import Exchange as Exchange
    from kombu_lite.entity import Queue as Queue
    from kombu_lite.entity import binding as binding
    from kombu_lite.exceptions import KombuError as KombuError
    from kombu_lite.message import Message as Message
    from kombu_lite.messaging import Producer as Producer
    from kombu_lite.messaging.consumer import Consumer as Consumer
    from kombu_lite.pools import connections as connections
    from kombu_lite.pools import producers as producers
    from kombu_lite.retry import RetryPolicy as RetryPolicy
    from kombu_lite.retry import retry_over_time as retry_over_time
    from kombu_lite.serialization import (
        disable_insecure_serializers as disable_insecure_serializers,
    )
    from kombu_lite.serialization import (
        enable_insecure_serializers as enable_insecure_serializers,
    )
    from kombu_lite.simple import SimpleBuffer as SimpleBuffer
    from kombu_lite.simple import SimpleQueue as SimpleQueue

__all__ = [
    "Binding",
    "BrokerConnection",
    "Channel",
    "Connection",
    "Consumer",
    "Exchange",
    "KombuError",
    "Message",
    "Producer",
    "Queue",
    "RetryPolicy",
    "SimpleBuffer",
    "SimpleQueue",
    "__version__",
    "binding",
    "connections",
    "disable_insecure_serializers",
    "enable_insecure_serializers",
    "eventloop",
    "parse_url",
    "pools",
    "producers",
    "retry_over_time",
    "uuid",
]

#: Exported name -> (module, attribute in it; None: the module itself).
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "Binding": ("kombu_lite.entity", "Binding"),
    "BrokerConnection": ("kombu_lite.connection", "Connection"),
    "Channel": ("kombu_lite.channel", "Channel"),
    "Connection": ("kombu_lite.connection", "Connection"),
    "Consumer": ("kombu_lite.messaging.consumer", "Consumer"),
    "Exchange": ("kombu_lite.entity", "Exchange"),
    "KombuError": ("kombu_lite.exceptions", "KombuError"),
    "Message": ("kombu_lite.message", "Message"),
    "Producer": ("kombu_lite.messaging", "Producer"),
    "Queue": ("kombu_lite.entity", "Queue"),
    "RetryPolicy": ("kombu_lite.retry", "RetryPolicy"),
    "SimpleBuffer": ("kombu_lite.simple", "SimpleBuffer"),
    "SimpleQueue": ("kombu_lite.simple", "SimpleQueue"),
    "binding": ("kombu_lite.entity", "binding"),
    "connections": ("kombu_lite.pools", "connections"),
    "disable_insecure_serializers": (
        "kombu_lite.serialization",
        "disable_insecure_serializers",
    ),
    "enable_insecure_serializers": (
        "kombu_lite.serialization",
        "enable_insecure_serializers",
    ),
    "eventloop": ("kombu_lite.common", "eventloop"),
    "parse_url": ("kombu_lite.connection.url", "parse_url"),
    "pools": ("kombu_lite.pools", None),
    "producers": ("kombu_lite.pools", "producers"),
    "retry_over_time": ("kombu_lite.retry", "retry_over_time"),
    "uuid": ("kombu_lite.common", "uuid"),
}

#: Classes shown as ``kombu_lite.<Name>`` (their public home) once loaded.
_PUBLIC_CLASSES = frozenset(
    {
        "Binding",
        "Channel",
        "Connection",
        "Consumer",
        "Exchange",
        "KombuError",
        "Message",
        "Producer",
        "Queue",
        "RetryPolicy",
        "SimpleBuffer",
        "SimpleQueue",
    }
)


def __getattr__(name: str) -> Any:
    """Import an exported name on first use and keep it in the module."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'kombu_lite' has no attribute {name!r}") from None
    import importlib

    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    if name in _PUBLIC_CLASSES:
        value.__module__ = "kombu_lite"
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
