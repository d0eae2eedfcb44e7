"""Fixtures for the wire-level contract suite, run over both transports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kombu_lite.transport.base import (
    ConnectionParameters,
    Transport,
    WireChannel,
    WireConnection,
)

AMQP_PARAMS = ConnectionParameters(
    hostname="127.0.0.1",
    port=5672,
    userid="guest",
    password="guest",
    virtual_host="/",
    connect_timeout=4.0,
)


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.broker)])
def transport_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "amqp":
        request.getfixturevalue("rabbitmq")
    return name


@pytest.fixture
def transport(transport_name: str) -> Transport:
    if transport_name == "memory":
        from kombu_lite.transport.memory import Broker, MemoryTransport

        return MemoryTransport(broker=Broker())
    from kombu_lite.transport.pyamqp import PyAmqpTransport

    return PyAmqpTransport()


@pytest.fixture
def params() -> ConnectionParameters:
    return AMQP_PARAMS


@pytest.fixture
def wire_connection(
    transport: Transport, params: ConnectionParameters
) -> Iterator[WireConnection]:
    conn = transport.connect(params)
    yield conn
    conn.close()


@pytest.fixture
def wire_channel(wire_connection: WireConnection) -> Iterator[WireChannel]:
    channel = wire_connection.channel()
    yield channel
    channel.close()
