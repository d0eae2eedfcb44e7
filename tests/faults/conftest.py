"""Fault-injection fixtures: a loopback proxy in front of RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator

import amqp
import pytest

from .proxy import FaultProxy

pytestmark = pytest.mark.broker


@pytest.fixture
def proxy(rabbitmq: str) -> Iterator[FaultProxy]:
    """A fault proxy to the broker (needs the broker: skips or fails)."""
    del rabbitmq
    with FaultProxy() as fault_proxy:
        yield fault_proxy


@pytest.fixture
def admin(rabbitmq: str) -> Iterator[amqp.Channel]:
    """A direct py-amqp channel for setting up and checking queues."""
    del rabbitmq
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    channel = conn.channel()
    channel.auto_decode = False
    yield channel
    conn.close()


def bodies(admin: amqp.Channel, name: str) -> list[bytes]:
    """Take every message from queue ``name``; return their bodies in order."""
    taken = []
    while (message := admin.basic_get(name, no_ack=True)) is not None:
        taken.append(bytes(message.body))
    return taken
