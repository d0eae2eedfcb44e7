"""kombu_lite's own edges of the py-amqp-shaped channel methods and entity dicts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kombu_lite import Connection, Exchange, Message, Queue, binding
from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport.base import BasicProperties, Delivery


@pytest.fixture
def channel() -> Iterator[Channel]:
    with Connection("memory://") as conn:
        chan = conn.channel()
        chan.queue_declare("q", durable=False, auto_delete=False)
        yield chan


def test_basic_publish_refuses_what_prepare_message_did_not_build(
    channel: Channel,
) -> None:
    with pytest.raises(TypeError, match="prepare_message"):
        channel.basic_publish(b"raw", exchange="", routing_key="q")  # type: ignore[arg-type]


def test_prepare_message_takes_kombus_properties(channel: Channel) -> None:
    prepared = channel.prepare_message(
        "hé",
        priority=3,
        properties={
            "delivery_mode": 2,
            "application_headers": {"h": 1},
            "delivery_info": {"ignored": True},
        },
    )

    assert prepared.body == "hé".encode()
    assert prepared.properties == BasicProperties(
        content_encoding="utf-8", priority=3, delivery_mode=2, headers={"h": 1}
    )


def test_message_to_python_wraps_a_delivery_and_refuses_others(
    channel: Channel,
) -> None:
    delivery = Delivery(
        body=b"{}",
        properties=BasicProperties(),
        delivery_tag=4,
        exchange="",
        routing_key="q",
    )

    message = channel.message_to_python(delivery)

    assert (message.delivery_tag, message.channel) == (4, channel)
    with pytest.raises(TypeError, match="received message"):
        channel.message_to_python(object())  # type: ignore[arg-type]


def test_confirmed_publish_takes_its_own_timeout(channel: Channel) -> None:
    channel.confirm_select()
    channel.confirm_select()  # twice is harmless

    channel.basic_publish(
        channel.prepare_message(b"x"), routing_key="q", confirm_timeout=5
    )

    assert channel.queue_declare("q", passive=True).message_count == 1


def test_basic_qos_takes_kombus_apply_global_keyword(channel: Channel) -> None:
    channel.basic_qos(prefetch_count=5, apply_global=False)


def test_a_consumer_without_callback_drops_deliveries_and_hears_cancels() -> None:
    with Connection("memory://") as conn:
        chan = conn.channel()
        chan.queue_declare("gone", durable=False, auto_delete=False)
        cancelled: list[str] = []
        tag = chan.basic_consume("gone", no_ack=True, on_cancel=cancelled.append)
        chan.basic_publish(chan.prepare_message(b"x"), routing_key="gone")
        conn.drain_events(timeout=1)

        conn.channel().queue_delete("gone")
        conn.drain_events(timeout=1)

    assert cancelled == [tag]


def test_message_from_a_delivery_takes_the_channel_by_keyword(
    channel: Channel,
) -> None:
    delivery = Delivery(
        body=b"x",
        properties=BasicProperties(),
        delivery_tag=1,
        exchange="",
        routing_key="q",
    )

    assert Message(delivery, channel=channel).channel is channel


def test_a_hand_built_message_without_a_tag_cannot_be_settled(
    channel: Channel,
) -> None:
    with pytest.raises(Message.MessageStateError, match="delivery tag"):
        Message(b"x", channel=channel).ack()


def test_from_dict_refuses_an_unknown_key() -> None:
    with pytest.raises(ConfigurationError, match="'exchnage'"):
        Queue.from_dict("q", exchnage="ex")


def test_from_dict_of_a_recursive_as_dict_round_trips() -> None:
    exchange = Exchange("ex", "topic", durable=False)
    queue = Queue("q", exchange, "rk", bindings=[binding(exchange, "other")])

    assert Queue.from_dict("q", **queue.as_dict(recurse=True)) == queue


def test_binding_from_dict_reports_a_bad_key() -> None:
    with pytest.raises(ConfigurationError, match="bad binding"):
        binding.from_dict({"exchange": None, "routingkey": "x"})


def test_binding_as_dict_without_an_exchange() -> None:
    assert binding(None, "rk").as_dict(recurse=True)["exchange"] is None
