"""The ``memory`` transport: an in-process AMQP 0-9-1 broker with RabbitMQ's semantics.

Use it through ``Connection('memory://')`` (every such connection shares
:func:`default_broker`), or give a test its own broker::

    broker = Broker()
    transport = MemoryTransport(broker)

The broker routes, queues and delivers like RabbitMQ 3.10 (exchange types,
TTLs expired on time, ``x-expires``, length limits, priorities, prefetch,
exclusive and auto-delete queues, dead-lettering with RabbitMQ's ``x-death``
headers, quorum queues' delivery counts and limits, single active consumer
and consumer priorities, the same refusals with the same reply codes) and
adds what a test needs:
:meth:`Broker.reset`, fault simulation (:meth:`Broker.stop` and
:meth:`Broker.start` for a restart that keeps only durable entities and
persistent messages, :meth:`Broker.close_all_connections`,
:meth:`Broker.set_alarm`, :meth:`Broker.set_max_message_size`) and inspection
without a consumer (:meth:`Broker.queue_messages`, :meth:`Broker.queues`,
:meth:`Broker.exchanges`, :meth:`Broker.bindings`,
:meth:`Broker.statistics`).  The module docstring of
:mod:`kombu_lite.transport.memory.broker` lists where it differs from
RabbitMQ.
"""

from __future__ import annotations

from kombu_lite.transport.memory.broker import Broker, default_broker
from kombu_lite.transport.memory.channel import MemoryChannel
from kombu_lite.transport.memory.connection import MemoryConnection, MemoryTransport
from kombu_lite.transport.memory.inspection import (
    BindingInfo,
    BrokerStatistics,
    ExchangeInfo,
    MessageInfo,
    QueueInfo,
)

__all__ = [
    "BindingInfo",
    "Broker",
    "BrokerStatistics",
    "ExchangeInfo",
    "MemoryChannel",
    "MemoryConnection",
    "MemoryTransport",
    "MessageInfo",
    "QueueInfo",
    "default_broker",
]
