"""kombu_lite: a typed, pure-Python AMQP 0-9-1 client with kombu's producer API.

Port code from kombu by changing the import::

    from kombu_lite import Connection, Exchange, Producer, Queue

``memory://`` is an in-process broker with RabbitMQ's semantics for tests
and demos; ``amqp://`` talks to RabbitMQ through py-amqp.
"""

from __future__ import annotations

import logging

from kombu_lite import pools as pools
from kombu_lite._version import __version__ as __version__
from kombu_lite.channel import Channel as Channel
from kombu_lite.common import uuid as uuid
from kombu_lite.connection import Connection as Connection
from kombu_lite.consumer import Consumer as Consumer
from kombu_lite.entity import Binding as Binding
from kombu_lite.entity import Exchange as Exchange
from kombu_lite.entity import Queue as Queue
from kombu_lite.entity import binding as binding
from kombu_lite.exceptions import KombuError as KombuError
from kombu_lite.message import Message as Message
from kombu_lite.messaging import Producer as Producer
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
    "disable_insecure_serializers",
    "enable_insecure_serializers",
    "pools",
    "retry_over_time",
    "uuid",
]

#: kombu's name for :class:`Connection`.
BrokerConnection = Connection

for _cls in (
    Binding,
    Channel,
    Connection,
    Consumer,
    Exchange,
    KombuError,
    Message,
    Producer,
    Queue,
    RetryPolicy,
    SimpleBuffer,
    SimpleQueue,
):
    _cls.__module__ = "kombu_lite"
del _cls

logging.getLogger("kombu_lite").addHandler(logging.NullHandler())
