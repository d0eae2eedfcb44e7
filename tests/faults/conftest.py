"""Fault-injection fixtures: a loopback proxy in front of RabbitMQ, and the
private node kl1 for faults that act on the broker itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import amqp
import pytest

from tests.cluster.nodes import PrivateNode

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


@pytest.fixture
def ctl(private_node: PrivateNode) -> Callable[..., str]:
    """``rabbitmqctl`` on the private node kl1, never on the broker on 5672.

    For tests that act on the broker itself: restarts, alarms, settings,
    forced closes.  Their connections go to ``private_node.url``.
    """
    return private_node.ctl


@pytest.fixture
def node_admin(private_node: PrivateNode) -> Iterator[amqp.Channel]:
    """A direct py-amqp channel to the private node kl1, like ``admin``."""
    conn = amqp.Connection(
        f"127.0.0.1:{private_node.port}", userid="guest", password="guest"
    )
    conn.connect()
    try:
        channel = conn.channel()
        channel.auto_decode = False
        yield channel
    finally:
        conn.close()


@pytest.fixture
def vhost(ctl: Callable[..., str], unique: str) -> Iterator[str]:
    """A virtual host of this test's own on kl1; deleted afterwards."""
    name = f"{unique}-vhost"
    ctl("add_vhost", name)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        ctl("delete_vhost", name)
