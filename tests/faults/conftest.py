"""Fault-injection fixtures: a loopback proxy in front of RabbitMQ."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator

import amqp
import pytest

from tests.conftest import REQUIRE_BROKER

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


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl`` on the local node; return what it printed."""
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}"
        )
    return done.stdout


@pytest.fixture
def ctl(rabbitmq: str) -> Callable[..., str]:
    """``rabbitmqctl``, for tests that act on the broker itself."""
    del rabbitmq
    if shutil.which("rabbitmqctl") is None:
        if REQUIRE_BROKER:
            pytest.fail("rabbitmqctl is not on PATH")
        pytest.skip("rabbitmqctl is not on PATH")
    return rabbitmqctl


@pytest.fixture
def vhost(ctl: Callable[..., str], unique: str) -> Iterator[str]:
    """A virtual host of this test's own, so broker-side closes hit only it."""
    name = f"{unique}-vhost"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    ctl("delete_vhost", name)
