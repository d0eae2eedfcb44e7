"""Interoperability on RabbitMQ: kombu and pika read what kombu_lite sends,
and kombu_lite reads what kombu sends, with every property intact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kombu_lite

pytestmark = [pytest.mark.broker, pytest.mark.interop]

PROPS: dict[str, Any] = {
    "headers": {"h1": "v1", "n": 7},
    "priority": 4,
    "expiration": 60,
    "delivery_mode": "transient",
    "correlation_id": "corr-42",
    "reply_to": "replies",
    "message_id": "mid-42",
    "type": "task",
    "app_id": "interop",
}


@pytest.fixture
def queue_name(rabbitmq: str, unique: str) -> Iterator[str]:
    name = f"{unique}-interop"
    with kombu_lite.Connection(rabbitmq) as conn:
        kombu_lite.Queue(name, max_priority=10).declare(channel=conn.default_channel)
        yield name
        conn.default_channel.queue_delete(name)


def _publish_lite(url: str, queue: str, body: Any, **extra: Any) -> None:
    with kombu_lite.Connection(url) as conn:
        conn.Producer(routing_key=queue).publish(body, **PROPS, **extra)


#: kombu_lite's compression names, and the content type both libraries put
#: in the ``compression`` header for each.
COMPRESSIONS = {
    "zlib": "application/x-gzip",
    "bzip2": "application/x-bz2",
    "lzma": "application/x-lzma",
    "brotli": "application/x-brotli",
    "zstd": "application/zstd",
}


@pytest.mark.parametrize("compression", [None, *COMPRESSIONS])
def test_kombu_reads_what_kombu_lite_publishes(
    rabbitmq: str, queue_name: str, compression: str | None
) -> None:
    import kombu

    _publish_lite(rabbitmq, queue_name, {"hello": "kombu"}, compression=compression)

    with kombu.Connection(rabbitmq) as conn:
        message = kombu.Queue(queue_name, max_priority=10)(conn.default_channel).get(
            no_ack=True, accept=["json"]
        )
        assert message is not None
        assert message.decode() == {"hello": "kombu"}
        assert message.content_type == "application/json"
        assert message.content_encoding == "utf-8"
        props = message.properties
        assert message.headers["h1"] == "v1"
        assert message.headers["n"] == 7
        assert props["priority"] == 4
        assert props["expiration"] == "60000"
        assert props["delivery_mode"] == 1
        assert props["correlation_id"] == "corr-42"
        assert props["reply_to"] == "replies"
        assert props["message_id"] == "mid-42"
        if compression is None:
            assert "compression" not in message.headers
        else:
            assert message.headers["compression"] == COMPRESSIONS[compression]


def test_pika_reads_what_kombu_lite_publishes(rabbitmq: str, queue_name: str) -> None:
    import pika

    _publish_lite(rabbitmq, queue_name, "plain text é")

    params = pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F")
    conn = pika.BlockingConnection(params)
    try:
        method, props, body = conn.channel().basic_get(queue_name, auto_ack=True)
    finally:
        conn.close()
    assert method is not None
    assert body == "plain text é".encode()
    assert props.content_type == "text/plain"
    assert props.content_encoding == "utf-8"
    assert props.headers == {"h1": "v1", "n": 7}
    assert props.priority == 4
    assert props.expiration == "60000"
    assert props.delivery_mode == 1
    assert props.correlation_id == "corr-42"
    assert props.reply_to == "replies"
    assert props.message_id == "mid-42"
    assert props.type == "task"
    assert props.app_id == "interop"


def test_pika_reads_a_compressed_body_kombu_lite_publishes(
    rabbitmq: str, queue_name: str
) -> None:
    import json
    import zlib

    import pika

    _publish_lite(rabbitmq, queue_name, {"packed": "yes" * 100}, compression="zlib")

    params = pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F")
    conn = pika.BlockingConnection(params)
    try:
        method, props, body = conn.channel().basic_get(queue_name, auto_ack=True)
    finally:
        conn.close()
    assert method is not None
    assert props.headers["compression"] == "application/x-gzip"
    assert props.content_type == "application/json"
    assert json.loads(zlib.decompress(body)) == {"packed": "yes" * 100}


@pytest.mark.parametrize("compression", [None, "zlib", "bzip2", "lzma"])
def test_kombu_lite_reads_what_kombu_publishes(
    rabbitmq: str, queue_name: str, compression: str | None
) -> None:
    import datetime
    import decimal
    import uuid

    import kombu

    ident = uuid.uuid4()
    body = {
        "when": datetime.datetime(2026, 11, 25, 12, 0, 0),
        "amount": decimal.Decimal("12.50"),
        "id": ident,
    }
    with kombu.Connection(rabbitmq) as conn:
        conn.Producer(routing_key=queue_name).publish(
            body,
            compression=compression,
            headers={"h": "v"},
            priority=3,
            correlation_id="from-kombu",
            expiration=30,
        )

    with kombu_lite.Connection(rabbitmq) as conn:
        message = kombu_lite.Queue(queue_name).get(channel=conn.default_channel)
        assert message is not None
        if compression is not None:
            assert message.headers["compression"] == COMPRESSIONS[compression]
        assert message.decode() == body
        assert message.headers["h"] == "v"
        assert message.priority == 3
        assert message.correlation_id == "from-kombu"
        assert message.properties["expiration"] == "30000"
        message.ack()
