"""The behaviour suite's fixtures: one Connection per transport.

Every test here runs twice, on ``memory://`` and on RabbitMQ.  On RabbitMQ
each test deletes the exchanges and queues it registered with ``cleanup``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.transport.memory import default_broker


@dataclass
class RawMessage:
    """A message read back outside kombu_lite's own code path."""

    body: bytes
    properties: dict[str, Any]
    exchange: str
    routing_key: str


def only_message(raw_get: Callable[[str], RawMessage | None], name: str) -> RawMessage:
    """The next message of queue ``name`` read with ``raw_get``; there must be one."""
    raw = raw_get(name)
    assert raw is not None, f"no message in {name}"
    return raw


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.broker)])
def transport_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def url(transport_kind: str, request: pytest.FixtureRequest) -> str:
    if transport_kind == "memory":
        return "memory://"
    rabbit: str = request.getfixturevalue("rabbitmq")
    return rabbit


@pytest.fixture
def connection(url: str) -> Iterator[Connection]:
    conn = Connection(url)
    yield conn
    conn.release()


@pytest.fixture
def cleanup(url: str) -> Iterator[Callable[[Exchange | Queue], None]]:
    """Register entities to delete after the test (on their own connection)."""
    entities: list[Exchange | Queue] = []
    yield entities.append
    with Connection(url) as conn:
        for entity in reversed(entities):
            with conn.channel() as channel:
                if entity.name and not entity.name.startswith("amq."):
                    entity.delete(channel=channel)
            if isinstance(entity, Queue) and entity.exchange is not None:
                with conn.channel() as channel:
                    if entity.exchange.name:
                        entity.exchange.delete(channel=channel)


@pytest.fixture
def raw_get(
    transport_kind: str, url: str
) -> Iterator[Callable[[str], RawMessage | None]]:
    """Read one message from a queue independently of kombu_lite's Producer.

    On RabbitMQ this is a plain py-amqp channel; on memory:// it is the
    broker's inspection API.
    """
    if transport_kind == "memory":
        from kombu_lite.transport.base import ConnectionParameters
        from kombu_lite.transport.memory import MemoryTransport

        wire = MemoryTransport(default_broker()).connect(
            ConnectionParameters(
                hostname="localhost",
                port=0,
                userid="guest",
                password="guest",
                virtual_host="/",
            )
        )
        wire_channel = wire.channel()

        def get_memory(queue: str) -> RawMessage | None:
            delivery = wire_channel.basic_get(queue, no_ack=True)
            if delivery is None:
                return None
            return RawMessage(
                delivery.body,
                delivery.properties.as_dict(),
                delivery.exchange,
                delivery.routing_key,
            )

        yield get_memory
        wire.close()
        return

    import amqp

    opened: list[Any] = []

    def get_amqp(queue: str) -> RawMessage | None:
        # Connect on first use, so a test may break connections before.
        if not opened:
            raw = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
            raw.connect()
            raw_channel = raw.channel()
            raw_channel.auto_decode = False  # compare the bytes on the wire
            opened.extend([raw, raw_channel])
        message = opened[1].basic_get(queue, no_ack=True)
        if message is None:
            return None
        props = dict(message.properties)
        if "application_headers" in props:
            props["headers"] = props.pop("application_headers")
        return RawMessage(
            bytes(message.body),
            props,
            message.delivery_info["exchange"],
            message.delivery_info["routing_key"],
        )

    yield get_amqp
    if opened:
        opened[0].close()
