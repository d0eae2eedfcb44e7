"""Shared fixtures: broker detection, unique entity names."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from kombu_lite.transport.memory import default_broker

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 5672
BROKER_URL = f"amqp://guest:guest@{BROKER_HOST}:{BROKER_PORT}//"

#: Set by .ci/run: a missing broker then fails the broker tests instead of
#: skipping them.
REQUIRE_BROKER = os.environ.get("KOMBU_LITE_REQUIRE_BROKER", "") not in ("", "0")


def _broker_reachable() -> bool:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def _rabbitmq_checked() -> bool:
    return _broker_reachable()


@pytest.fixture
def rabbitmq(_rabbitmq_checked: bool) -> str:
    """The RabbitMQ URL; skips (or fails in CI) when the broker is down."""
    if not _rabbitmq_checked:
        reason = f"RabbitMQ is not reachable on {BROKER_HOST}:{BROKER_PORT}"
        if REQUIRE_BROKER:
            pytest.fail(reason + " and KOMBU_LITE_REQUIRE_BROKER is set")
        pytest.skip(reason)
    return BROKER_URL


@pytest.fixture
def unique() -> str:
    """A short unique prefix for entity names, so tests never collide."""
    return f"klt-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _reset_memory_broker() -> Iterator[None]:
    """Every test starts with an empty process-wide memory broker."""
    default_broker().reset()
    yield
    default_broker().reset()
