"""The wire contract: RabbitMQ behaviours every transport must reproduce.

Each test states one behaviour of RabbitMQ (checked against RabbitMQ 3.10)
and runs on the memory transport and on RabbitMQ through py-amqp.  Queues
are exclusive where possible, so they vanish with the test's connection;
anything else is registered with ``created`` and deleted afterwards.

Asynchronous refusals (a publish to a missing exchange, an ack with an
unknown tag) reach a RabbitMQ client only with its next synchronous call on
the channel, so those tests make one inside ``pytest.raises``.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from kombu_lite.exceptions import (
    AccessRefused,
    ChannelClosed,
    EncodeError,
    NotAllowed,
    NotFound,
    OperationalError,
    PreconditionFailed,
    ResourceLocked,
)
from kombu_lite.transport.base import (
    BasicProperties,
    ConnectionParameters,
    Delivery,
    ReturnedMessage,
    Transport,
    WireChannel,
    WireConnection,
)

Register = Callable[[str, str], str]
PLAIN = BasicProperties()


@pytest.fixture
def created(transport: Transport, params: ConnectionParameters) -> Iterator[Register]:
    """Register ``('exchange'|'queue', name)`` to delete after the test."""
    entities: list[tuple[str, str]] = []

    def register(kind: str, name: str) -> str:
        entities.append((kind, name))
        return name

    yield register
    conn = transport.connect(params)
    try:
        channel = conn.channel()
        for kind, name in reversed(entities):
            if kind == "exchange":
                channel.exchange_delete(name)
            else:
                channel.queue_delete(name)
    finally:
        conn.close()


def temp_queue(channel: WireChannel, **arguments: object) -> str:
    """Declare a server-named exclusive queue (gone with the connection)."""
    return channel.queue_declare(
        "", exclusive=True, durable=False, arguments=arguments or None
    ).queue


def temp_exchange(channel: WireChannel, name: str, kind: str) -> str:
    """Declare an auto-delete exchange: it goes with its last binding."""
    channel.exchange_declare(name, kind, durable=False, auto_delete=True)
    return name


def publish(
    channel: WireChannel,
    body: bytes,
    exchange: str,
    routing_key: str,
    properties: BasicProperties = PLAIN,
    *,
    mandatory: bool = False,
) -> None:
    channel.basic_publish(body, properties, exchange, routing_key, mandatory=mandatory)


def then_sync_call(channel: WireChannel, action: Callable[[], None]) -> None:
    """Run an asynchronous method, then a synchronous one.

    RabbitMQ reports an asynchronous method's failure with the next
    synchronous call on the channel; the memory broker raises at once.
    """
    action()
    channel.queue_declare("", exclusive=True, durable=False)


def drain_until(
    connection: WireConnection, done: Callable[[], bool], timeout: float = 2.0
) -> None:
    """Dispatch events until ``done()`` holds.

    py-amqp also dispatches events inside other calls (``basic_publish``
    polls the socket for errors), so a test waits for an outcome, not for a
    number of ``drain_events`` calls.
    """
    deadline = time.monotonic() + timeout
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"not done after {timeout} s")
        try:
            connection.drain_events(timeout=remaining)
        except TimeoutError:
            continue


def drain(channel: WireChannel, queue: str) -> list[bytes]:
    """Fetch every ready message of ``queue`` (no ack) and return the bodies."""
    bodies = []
    while (delivery := channel.basic_get(queue, no_ack=True)) is not None:
        bodies.append(delivery.body)
    return bodies


def routed(
    channel: WireChannel, exchange: str, bindings: list[str], routing_key: str
) -> bool:
    """Bind a fresh queue with each binding key; return whether a publish lands."""
    queue = temp_queue(channel)
    for binding_key in bindings:
        channel.queue_bind(queue, exchange, binding_key)
    publish(channel, b"m", exchange, routing_key)
    return drain(channel, queue) == [b"m"]


# -- routing ------------------------------------------------------------------


def test_default_exchange_routes_to_the_queue_named_by_the_routing_key(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"hello", "", queue)
    assert drain(wire_channel, queue) == [b"hello"]


def test_direct_exchange_routes_on_the_exact_routing_key(
    wire_channel: WireChannel, unique: str
) -> None:
    exchange = temp_exchange(wire_channel, f"{unique}.direct", "direct")
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, exchange, "red")
    publish(wire_channel, b"red", exchange, "red")
    publish(wire_channel, b"blue", exchange, "blue")
    publish(wire_channel, b"reddish", exchange, "red.x")
    assert drain(wire_channel, queue) == [b"red"]


def test_fanout_exchange_copies_to_every_bound_queue(
    wire_channel: WireChannel, unique: str
) -> None:
    exchange = temp_exchange(wire_channel, f"{unique}.fanout", "fanout")
    first, second = temp_queue(wire_channel), temp_queue(wire_channel)
    wire_channel.queue_bind(first, exchange, "ignored")
    wire_channel.queue_bind(second, exchange)
    publish(wire_channel, b"all", exchange, "anything")
    assert (drain(wire_channel, first), drain(wire_channel, second)) == (
        [b"all"],
        [b"all"],
    )


@pytest.mark.parametrize(
    ("binding_key", "routing_key", "expected"),
    [
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#", "", True),
        ("*.b.#", "x.b", True),
        ("a.#.z", "a.z", True),
        ("a#", "ab", False),
    ],
)
def test_topic_exchange_star_is_one_word_and_hash_is_zero_or_more(
    wire_channel: WireChannel,
    unique: str,
    binding_key: str,
    routing_key: str,
    expected: bool,
) -> None:
    exchange = temp_exchange(wire_channel, f"{unique}.topic", "topic")
    assert routed(wire_channel, exchange, [binding_key], routing_key) is expected


def test_a_message_matching_two_topic_bindings_is_queued_once(
    wire_channel: WireChannel, unique: str
) -> None:
    exchange = temp_exchange(wire_channel, f"{unique}.topic", "topic")
    assert routed(wire_channel, exchange, ["a.*", "#"], "a.b")


@pytest.mark.parametrize(
    ("binding", "headers", "expected"),
    [
        ({"color": "red", "size": 1}, {"color": "red", "size": 1, "x": 0}, True),
        ({"color": "red", "size": 1}, {"color": "red"}, False),
        ({"x-match": "any", "color": "red", "size": 1}, {"size": 1}, True),
        ({"x-match": "any", "color": "red"}, {"color": "blue"}, False),
        ({"x-match": "all", "x-custom": "ignored"}, {}, True),
        ({"flag": True}, {"flag": 1}, False),
    ],
)
def test_headers_exchange_matches_all_or_any_headers(
    wire_channel: WireChannel,
    unique: str,
    binding: dict[str, object],
    headers: dict[str, object],
    expected: bool,
) -> None:
    exchange = temp_exchange(wire_channel, f"{unique}.headers", "headers")
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, exchange, "", binding)
    publish(wire_channel, b"h", exchange, "key", BasicProperties(headers=headers))
    assert (drain(wire_channel, queue) == [b"h"]) is expected


def test_exchange_to_exchange_binding_forwards_messages(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    source = temp_exchange(wire_channel, created("exchange", f"{unique}.src"), "direct")
    destination = temp_exchange(
        wire_channel, created("exchange", f"{unique}.dst"), "fanout"
    )
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, destination)
    wire_channel.exchange_bind(destination, source, "k")
    publish(wire_channel, b"hop", source, "k")
    delivery = wire_channel.basic_get(queue, no_ack=True)
    assert delivery is not None
    assert (delivery.body, delivery.exchange) == (b"hop", source)


def test_unroutable_message_goes_to_the_alternate_exchange(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    alternate = temp_exchange(wire_channel, f"{unique}.ae", "fanout")
    exchange = created("exchange", f"{unique}.main")
    wire_channel.exchange_declare(
        exchange, "direct", durable=False, arguments={"alternate-exchange": alternate}
    )
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, alternate)
    publish(wire_channel, b"lost", exchange, "nowhere")
    assert drain(wire_channel, queue) == [b"lost"]


# -- declare semantics ----------------------------------------------------------


def test_passive_declare_of_a_missing_exchange_raises_not_found(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(NotFound, match=f"no exchange '{unique}.nope' in vhost '/'"):
        wire_channel.exchange_declare(f"{unique}.nope", "direct", passive=True)


def test_passive_declare_of_a_missing_queue_raises_not_found(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(NotFound) as info:
        wire_channel.queue_declare(f"{unique}.nope", passive=True)
    assert info.value.reply_code == 404


def test_redeclaring_an_exchange_with_another_type_raises_precondition_failed(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    name = created("exchange", f"{unique}.x")
    wire_channel.exchange_declare(name, "direct", durable=False)
    with pytest.raises(PreconditionFailed, match="inequivalent arg 'type'") as info:
        wire_channel.exchange_declare(name, "topic", durable=False)
    assert info.value.reply_code == 406


def test_redeclaring_an_exchange_with_the_same_settings_is_allowed(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    name = created("exchange", f"{unique}.x")
    wire_channel.exchange_declare(name, "topic", durable=False)
    wire_channel.exchange_declare(name, "topic", durable=False)
    wire_channel.exchange_declare(name, "direct", passive=True)


def test_redeclaring_a_queue_with_other_arguments_raises_precondition_failed(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    name = created("queue", f"{unique}.q")
    wire_channel.queue_declare(name, durable=False, arguments={"x-max-length": 5})
    with pytest.raises(PreconditionFailed, match="inequivalent arg 'x-max-length'"):
        wire_channel.queue_declare(name, durable=False, arguments={"x-max-length": 6})


def test_redeclaring_a_queue_as_durable_raises_precondition_failed(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    name = created("queue", f"{unique}.q")
    wire_channel.queue_declare(name, durable=False)
    with pytest.raises(PreconditionFailed, match="inequivalent arg 'durable'"):
        wire_channel.queue_declare(name, durable=True)


def test_an_invalid_queue_argument_raises_precondition_failed(
    wire_channel: WireChannel,
) -> None:
    with pytest.raises(PreconditionFailed, match="invalid arg 'x-max-length'"):
        temp_queue(wire_channel, **{"x-max-length": -1})


def test_queue_declared_with_an_empty_name_gets_a_server_name(
    wire_channel: WireChannel,
) -> None:
    ok = wire_channel.queue_declare("", exclusive=True, durable=False)
    assert ok.queue.startswith("amq.gen-")
    assert (ok.message_count, ok.consumer_count) == (0, 0)


def test_declaring_an_exchange_with_the_reserved_amq_prefix_is_refused(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(AccessRefused, match=r"reserved prefix 'amq\.\*'") as info:
        wire_channel.exchange_declare(f"amq.{unique}", "direct")
    assert info.value.reply_code == 403


def test_the_default_exchange_cannot_be_declared(wire_channel: WireChannel) -> None:
    with pytest.raises(AccessRefused, match="default exchange"):
        wire_channel.exchange_declare("", "direct")


def test_an_unknown_exchange_type_closes_the_connection(
    wire_connection: WireConnection, wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(OperationalError):
        wire_channel.exchange_declare(f"{unique}.x", "no-such-type")
    assert not wire_connection.is_connected


def test_binding_a_missing_queue_raises_not_found(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(NotFound, match=f"no queue '{unique}.nope'"):
        wire_channel.queue_bind(f"{unique}.nope", "amq.direct", "k")


def test_unbinding_a_binding_that_does_not_exist_is_allowed(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.queue_unbind(queue, "amq.direct", "never-bound")
    assert wire_channel.is_open


# -- channel errors and publishing --------------------------------------------


def test_publishing_to_a_missing_exchange_raises_not_found(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(NotFound, match=f"no exchange '{unique}.nope'"):
        then_sync_call(
            wire_channel, lambda: publish(wire_channel, b"x", f"{unique}.nope", "k")
        )


def test_a_channel_error_closes_the_channel(
    wire_channel: WireChannel, unique: str
) -> None:
    with pytest.raises(NotFound):
        wire_channel.queue_declare(f"{unique}.nope", passive=True)
    assert not wire_channel.is_open
    with pytest.raises(ChannelClosed):
        wire_channel.queue_declare("", exclusive=True, durable=False)


def test_a_channel_error_leaves_other_channels_open(
    wire_connection: WireConnection, wire_channel: WireChannel, unique: str
) -> None:
    other = wire_connection.channel()
    with pytest.raises(NotFound):
        wire_channel.queue_declare(f"{unique}.nope", passive=True)
    assert other.is_open
    assert temp_queue(other).startswith("amq.gen-")


def test_closing_a_channel_twice_is_harmless(wire_connection: WireConnection) -> None:
    channel = wire_connection.channel()
    channel.close()
    channel.close()
    assert not channel.is_open


def test_unroutable_mandatory_message_is_returned_through_drain_events(
    wire_connection: WireConnection, wire_channel: WireChannel, unique: str
) -> None:
    returned: list[ReturnedMessage] = []
    wire_channel.set_return_handler(returned.append)
    publish(wire_channel, b"back", "amq.direct", f"{unique}.none", mandatory=True)
    drain_until(wire_connection, lambda: bool(returned))
    assert [
        (r.reply_code, r.reply_text, r.exchange, r.routing_key, r.body)
        for r in returned
    ] == [(312, "NO_ROUTE", "amq.direct", f"{unique}.none", b"back")]


# -- get, ack, reject --------------------------------------------------------------


def test_basic_get_on_an_empty_queue_returns_none(wire_channel: WireChannel) -> None:
    assert wire_channel.basic_get(temp_queue(wire_channel)) is None


def test_basic_get_reports_how_many_messages_are_left(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    first = wire_channel.basic_get(queue, no_ack=True)
    assert first is not None
    assert (first.body, first.message_count, first.redelivered) == (b"1", 2, False)


def test_delivery_tags_count_from_one_on_each_channel(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    other = wire_connection.channel()
    tags = [
        delivery.delivery_tag
        for delivery in (
            wire_channel.basic_get(queue),
            wire_channel.basic_get(queue),
            other.basic_get(queue),
        )
        if delivery is not None
    ]
    assert tags == [1, 2, 1]


def test_acknowledged_message_is_gone_for_good(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"done", "", queue)
    getter = wire_connection.channel()
    delivery = getter.basic_get(queue)
    assert delivery is not None
    getter.basic_ack(delivery.delivery_tag)
    getter.close()
    assert wire_channel.basic_get(queue) is None


def test_ack_multiple_acknowledges_every_earlier_delivery(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    getter = wire_connection.channel()
    deliveries = [getter.basic_get(queue) for _ in range(3)]
    assert deliveries[1] is not None
    getter.basic_ack(deliveries[1].delivery_tag, multiple=True)
    getter.close()
    assert drain(wire_channel, queue) == [b"3"]


def test_acking_an_unknown_delivery_tag_fails_and_closes_the_channel(
    wire_channel: WireChannel,
) -> None:
    with pytest.raises(PreconditionFailed, match="unknown delivery tag 42"):
        then_sync_call(wire_channel, lambda: wire_channel.basic_ack(42))
    assert not wire_channel.is_open


def test_rejected_message_with_requeue_comes_back_redelivered(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"again", "", queue)
    first = wire_channel.basic_get(queue)
    assert first is not None
    wire_channel.basic_reject(first.delivery_tag, requeue=True)
    second = wire_channel.basic_get(queue, no_ack=True)
    assert second is not None
    assert (second.body, second.redelivered) == (b"again", True)


def test_rejected_message_without_requeue_is_dropped(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"bad", "", queue)
    delivery = wire_channel.basic_get(queue)
    assert delivery is not None
    wire_channel.basic_reject(delivery.delivery_tag, requeue=False)
    assert wire_channel.basic_get(queue) is None


def test_requeued_messages_return_to_their_original_position(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    first, second = wire_channel.basic_get(queue), wire_channel.basic_get(queue)
    assert first is not None
    assert second is not None
    wire_channel.basic_reject(second.delivery_tag, requeue=True)
    wire_channel.basic_reject(first.delivery_tag, requeue=True)
    assert drain(wire_channel, queue) == [b"1", b"2", b"3"]


def test_recover_requeues_every_unacked_message(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2"):
        publish(wire_channel, body, "", queue)
    wire_channel.basic_get(queue)
    wire_channel.basic_get(queue)
    wire_channel.basic_recover(requeue=True)
    again = [wire_channel.basic_get(queue, no_ack=True) for _ in range(2)]
    assert [(d.body, d.redelivered) for d in again if d is not None] == [
        (b"1", True),
        (b"2", True),
    ]


def test_unacked_messages_are_requeued_when_their_channel_closes(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"held", "", queue)
    holder = wire_connection.channel()
    assert holder.basic_get(queue) is not None
    holder.close()
    delivery = wire_channel.basic_get(queue, no_ack=True)
    assert delivery is not None
    assert (delivery.body, delivery.redelivered) == (b"held", True)


def test_purge_returns_the_number_of_ready_messages(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    assert wire_channel.basic_get(queue) is not None  # unacked: not purged
    assert wire_channel.queue_purge(queue) == 2
    assert wire_channel.basic_get(queue) is None


def test_delete_returns_the_number_of_ready_messages(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    queue = created("queue", f"{unique}.q")
    wire_channel.queue_declare(queue, durable=False, auto_delete=False)
    for body in (b"1", b"2"):
        publish(wire_channel, body, "", queue)
    assert wire_channel.queue_delete(queue) == 2
    with pytest.raises(NotFound):
        wire_channel.queue_declare(queue, passive=True)


def test_deleting_a_missing_queue_returns_zero(
    wire_channel: WireChannel, unique: str
) -> None:
    assert wire_channel.queue_delete(f"{unique}.nope") == 0


# -- message properties and queue arguments ------------------------------------


def test_every_basic_property_survives_the_round_trip(
    wire_channel: WireChannel, params: ConnectionParameters
) -> None:
    properties = BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        headers={
            "text": "value",
            "number": 42,
            "ratio": 0.5,
            "flag": True,
            "nothing": None,
            "list": [1, "two", [3]],
            "table": {"inner": {"deep": "yes"}, "n": -7},
        },
        delivery_mode=2,
        priority=3,
        correlation_id="corr-1",
        reply_to="replies",
        expiration="60000",
        message_id="msg-1",
        timestamp=1_700_000_000,
        type="greeting",
        user_id=params.userid,
        app_id="contract-tests",
        cluster_id="cluster",
    )
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"\x00\xffbody", "", queue, properties)
    delivery = wire_channel.basic_get(queue, no_ack=True)
    assert delivery is not None
    assert (delivery.body, delivery.properties) == (b"\x00\xffbody", properties)


def test_message_expiring_at_once_is_dropped_when_no_consumer_waits(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"late", "", queue, BasicProperties(expiration="0"))
    publish(wire_channel, b"kept", "", queue)
    assert drain(wire_channel, queue) == [b"kept"]


def test_queue_message_ttl_drops_messages_when_no_consumer_waits(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel, **{"x-message-ttl": 0})
    publish(wire_channel, b"gone", "", queue)
    assert wire_channel.basic_get(queue) is None


def test_message_expiring_at_once_still_reaches_a_waiting_consumer(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    received: list[Delivery] = []
    wire_channel.basic_consume(queue, received.append, no_ack=True)
    publish(wire_channel, b"now", "", queue, BasicProperties(expiration="0"))
    drain_until(wire_connection, lambda: bool(received))
    assert [d.body for d in received] == [b"now"]


def test_an_invalid_expiration_is_refused(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    with pytest.raises(PreconditionFailed, match="invalid expiration 'soon'"):
        then_sync_call(
            wire_channel,
            lambda: publish(
                wire_channel, b"x", "", queue, BasicProperties(expiration="soon")
            ),
        )


def test_an_expiration_over_ten_years_is_refused(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    longest = BasicProperties(expiration="315360000000")
    publish(wire_channel, b"kept", "", queue, longest)
    too_long = BasicProperties(expiration="315360000001")

    with pytest.raises(
        PreconditionFailed,
        match=re.escape("invalid expiration '315360000001': {value_too_large,"),
    ):
        then_sync_call(
            wire_channel, lambda: publish(wire_channel, b"x", "", queue, too_long)
        )


@pytest.mark.parametrize("argument", ["x-message-ttl", "x-expires"])
def test_a_queue_ttl_over_ten_years_is_refused(
    wire_channel: WireChannel, argument: str
) -> None:
    temp_queue(wire_channel, **{argument: 315360000000})

    with pytest.raises(
        PreconditionFailed,
        match=rf"invalid arg '{argument}' .*\{{value_too_large,315360000001\}}",
    ):
        temp_queue(wire_channel, **{argument: 315360000001})


def test_max_length_drops_the_oldest_messages(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel, **{"x-max-length": 2})
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    assert drain(wire_channel, queue) == [b"2", b"3"]


def test_max_length_with_reject_publish_drops_the_new_messages(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(
        wire_channel, **{"x-max-length": 2, "x-overflow": "reject-publish"}
    )
    for body in (b"1", b"2", b"3"):
        publish(wire_channel, body, "", queue)
    assert drain(wire_channel, queue) == [b"1", b"2"]


def test_max_length_bytes_counts_body_sizes(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel, **{"x-max-length-bytes": 5})
    for body in (b"aa", b"bbb", b"c"):
        publish(wire_channel, body, "", queue)
    assert drain(wire_channel, queue) == [b"bbb", b"c"]


def test_priority_queue_delivers_higher_priorities_first(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel, **{"x-max-priority": 5})
    for body, priority in (
        (b"none", None),
        (b"p1", 1),
        (b"p9", 9),
        (b"p5", 5),
        (b"p3", 3),
    ):
        publish(wire_channel, body, "", queue, BasicProperties(priority=priority))
    # Priorities above x-max-priority count as the maximum: FIFO among them.
    assert drain(wire_channel, queue) == [b"p9", b"p5", b"p3", b"p1", b"none"]


# -- consumers ------------------------------------------------------------------


def test_consumer_receives_published_messages_with_its_tag(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    received: list[Delivery] = []
    tag = wire_channel.basic_consume(queue, received.append, consumer_tag="c1")
    publish(wire_channel, b"pushed", "", queue)
    drain_until(wire_connection, lambda: bool(received))
    assert [(d.body, d.consumer_tag, d.delivery_tag) for d in received] == [
        (b"pushed", tag, 1)
    ]
    assert tag == "c1"


def test_prefetch_count_limits_unacked_deliveries_per_consumer(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    received: list[Delivery] = []
    wire_channel.basic_qos(prefetch_count=1)
    wire_channel.basic_consume(queue, received.append)
    publish(wire_channel, b"1", "", queue)
    publish(wire_channel, b"2", "", queue)
    drain_until(wire_connection, lambda: bool(received))
    with pytest.raises(TimeoutError):
        wire_connection.drain_events(timeout=0.2)
    assert [d.body for d in received] == [b"1"]
    wire_channel.basic_ack(received[0].delivery_tag)
    drain_until(wire_connection, lambda: len(received) == 2)
    assert [d.body for d in received] == [b"1", b"2"]


def test_cancelled_consumer_receives_nothing_more(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    received: list[Delivery] = []
    tag = wire_channel.basic_consume(queue, received.append, no_ack=True)
    wire_channel.basic_cancel(tag)
    publish(wire_channel, b"later", "", queue)
    with pytest.raises(TimeoutError):
        wire_connection.drain_events(timeout=0.2)
    assert drain(wire_channel, queue) == [b"later"]


def test_deleting_a_queue_cancels_its_consumers(
    wire_connection: WireConnection, wire_channel: WireChannel, unique: str
) -> None:
    queue = f"{unique}.q"
    wire_channel.queue_declare(queue, durable=False, exclusive=True)
    cancelled: list[str] = []
    tag = wire_channel.basic_consume(queue, print, on_cancel=cancelled.append)
    wire_connection.channel().queue_delete(queue)
    drain_until(wire_connection, lambda: bool(cancelled))
    assert cancelled == [tag]


def test_exclusive_consumer_locks_the_queue_for_other_consumers(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.basic_consume(queue, print, exclusive=True)
    with pytest.raises(AccessRefused, match="in exclusive use"):
        wire_connection.channel().basic_consume(queue, print)


def test_auto_delete_queue_goes_when_its_last_consumer_is_cancelled(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    queue = created("queue", f"{unique}.q")
    wire_channel.queue_declare(queue, durable=False, auto_delete=True)
    tag = wire_channel.basic_consume(queue, print)
    wire_channel.basic_cancel(tag)
    with pytest.raises(NotFound):
        wire_channel.queue_declare(queue, passive=True)


# -- exclusive queues and connections ---------------------------------------------


def test_exclusive_queue_is_locked_for_other_connections(
    transport: Transport, params: ConnectionParameters, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    other = transport.connect(params)
    try:
        with pytest.raises(ResourceLocked, match="exclusive access to locked queue"):
            other.channel().queue_declare(queue, passive=True)
    finally:
        other.close()


def test_exclusive_queue_is_deleted_when_its_connection_closes(
    transport: Transport, params: ConnectionParameters, wire_channel: WireChannel
) -> None:
    owner = transport.connect(params)
    queue = temp_queue(owner.channel())
    owner.close()
    with pytest.raises(NotFound):
        wire_channel.queue_declare(queue, passive=True)


def test_drain_events_raises_timeout_error_when_nothing_arrives(
    wire_connection: WireConnection,
) -> None:
    with pytest.raises(TimeoutError):
        wire_connection.drain_events(timeout=0.05)


def test_closing_a_connection_twice_is_harmless(
    transport: Transport, params: ConnectionParameters
) -> None:
    conn = transport.connect(params)
    conn.close()
    conn.close()
    assert not conn.is_connected


# -- more refusals, as RabbitMQ words them ---------------------------------------


def test_deleting_a_queue_in_use_with_if_unused_is_refused(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.basic_consume(queue, print)
    with pytest.raises(PreconditionFailed, match="in use"):
        wire_channel.queue_delete(queue, if_unused=True)


def test_deleting_a_non_empty_queue_with_if_empty_is_refused(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    publish(wire_channel, b"x", "", queue)
    with pytest.raises(PreconditionFailed, match="not empty"):
        wire_channel.queue_delete(queue, if_empty=True)


def test_deleting_a_bound_exchange_with_if_unused_is_refused(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    exchange = created("exchange", f"{unique}.x")
    wire_channel.exchange_declare(exchange, "direct", durable=False)
    wire_channel.queue_bind(temp_queue(wire_channel), exchange, "k")
    with pytest.raises(PreconditionFailed, match="in use"):
        wire_channel.exchange_delete(exchange, if_unused=True)


def test_deleting_a_missing_exchange_is_allowed(
    wire_channel: WireChannel, unique: str
) -> None:
    wire_channel.exchange_delete(f"{unique}.nope")
    assert wire_channel.is_open


def test_auto_delete_exchange_goes_with_its_last_binding(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    exchange = temp_exchange(wire_channel, created("exchange", f"{unique}.x"), "topic")
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, exchange, "a.*")
    wire_channel.queue_unbind(queue, exchange, "a.*")
    with pytest.raises(NotFound):
        wire_channel.exchange_declare(exchange, "topic", passive=True)


def test_binding_twice_is_one_binding(wire_channel: WireChannel, unique: str) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.queue_bind(queue, "amq.direct", unique)
    wire_channel.queue_bind(queue, "amq.direct", unique)
    wire_channel.queue_unbind(queue, "amq.direct", unique)
    publish(wire_channel, b"x", "amq.direct", unique)
    assert drain(wire_channel, queue) == []


def test_redeclaring_a_queue_with_another_exclusivity_raises_resource_locked(
    wire_channel: WireChannel, unique: str, created: Register
) -> None:
    queue = created("queue", f"{unique}.q")
    wire_channel.queue_declare(queue, durable=False)
    with pytest.raises(ResourceLocked):
        wire_channel.queue_declare(queue, durable=False, exclusive=True)


def test_queue_names_with_the_amq_prefix_are_refused_even_server_names(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    with pytest.raises(AccessRefused, match="reserved prefix"):
        wire_channel.queue_declare(queue, exclusive=True, durable=False)


def test_a_headers_binding_with_an_invalid_x_match_is_refused(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    with pytest.raises(PreconditionFailed, match="Invalid x-match field value"):
        wire_channel.queue_bind(queue, "amq.headers", "", {"x-match": "some"})


def test_a_user_id_other_than_the_login_is_refused(
    wire_channel: WireChannel,
) -> None:
    queue = temp_queue(wire_channel)
    with pytest.raises(PreconditionFailed, match="user_id property set to 'mallory'"):
        then_sync_call(
            wire_channel,
            lambda: publish(
                wire_channel, b"x", "", queue, BasicProperties(user_id="mallory")
            ),
        )


def test_user_id_is_checked_before_expiration(wire_channel: WireChannel) -> None:
    queue = temp_queue(wire_channel)
    both_wrong = BasicProperties(user_id="mallory", expiration="soon")
    with pytest.raises(PreconditionFailed, match="user_id property set"):
        then_sync_call(
            wire_channel, lambda: publish(wire_channel, b"x", "", queue, both_wrong)
        )


@pytest.mark.parametrize("mode", [0, 3, 255])
def test_a_delivery_mode_other_than_1_or_2_is_refused(
    wire_channel: WireChannel, mode: int
) -> None:
    queue = temp_queue(wire_channel)
    properties = BasicProperties(delivery_mode=mode)
    with pytest.raises(
        PreconditionFailed, match=f"invalid message: {{delivery_mode_unknown,{mode}}}"
    ):
        then_sync_call(
            wire_channel, lambda: publish(wire_channel, b"x", "", queue, properties)
        )


# -- what AMQP cannot carry: refused before anything is sent ---------------------

#: (properties, exchange, routing key or None for the test's queue, text).
_UNENCODABLE: list[tuple[BasicProperties, str, str | None, str]] = [
    (BasicProperties(timestamp=datetime.datetime.now()), "", None, "timestamp"),  # type: ignore[arg-type]
    (BasicProperties(timestamp="now"), "", None, "timestamp"),  # type: ignore[arg-type]
    (BasicProperties(timestamp=-1), "", None, "timestamp"),
    (BasicProperties(timestamp=True), "", None, "timestamp"),  # type: ignore[arg-type]
    (BasicProperties(app_id=b"x"), "", None, "app_id must be a str, not bytes"),  # type: ignore[arg-type]
    (BasicProperties(correlation_id=5), "", None, "correlation_id must be a str"),  # type: ignore[arg-type]
    (BasicProperties(message_id="é" * 128), "", None, "message_id is 256 bytes"),
    (BasicProperties(reply_to="r" * 256), "", None, "reply_to is 256 bytes"),
    (BasicProperties(expiration=100), "", None, "expiration must be a str"),  # type: ignore[arg-type]
    (BasicProperties(priority=256), "", None, "priority must be from 0 to 255"),
    (BasicProperties(priority="1"), "", None, "priority must be from 0 to 255"),  # type: ignore[arg-type]
    (BasicProperties(delivery_mode=True), "", None, "delivery_mode"),  # type: ignore[arg-type]
    (BasicProperties(delivery_mode=-1), "", None, "delivery_mode"),
    (BasicProperties(headers="abc"), "", None, "headers"),  # type: ignore[arg-type]
    (BasicProperties(headers={"a": object()}), "", None, "headers"),
    (BasicProperties(headers={"a": [1, {2, 3}]}), "", None, "headers"),
    (BasicProperties(headers={"a": 2**64}), "", None, "headers"),
    (BasicProperties(headers={"a": Decimal("NaN")}), "", None, "headers"),
    (BasicProperties(headers={"a": bytearray(b"x")}), "", None, "headers"),
    (BasicProperties(headers={1: "one"}), "", None, "headers"),  # type: ignore[dict-item]
    (BasicProperties(headers={"k" * 256: 1}), "", None, "headers"),
    (BasicProperties(headers={"big": "v" * 131072}), "", None, "frame_max 131072"),
    # RabbitMQ reads no NaN or infinity: it would close the connection (541).
    (BasicProperties(headers={"f": math.nan}), "", None, "header 'f' holds nan"),
    (BasicProperties(headers={"f": -math.inf}), "", None, "header 'f' holds -inf"),
    (BasicProperties(headers={"t": {"f": math.inf}}), "", None, "header 'f' holds inf"),
    (BasicProperties(headers={"a": [1.0, math.nan]}), "", None, "header 'a' holds nan"),
    (PLAIN, "", "k" * 256, "routing_key is 256 bytes"),
    (PLAIN, "x" * 256, None, "exchange is 256 bytes"),
    (PLAIN, "", 5, "routing_key must be a str"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("properties", "exchange", "routing_key", "text"),
    _UNENCODABLE,
    ids=[case[3].split()[0] + f"-{n}" for n, case in enumerate(_UNENCODABLE)],
)
def test_what_amqp_cannot_carry_is_an_encode_error_and_the_channel_goes_on(
    wire_channel: WireChannel,
    properties: BasicProperties,
    exchange: str,
    routing_key: str | None,
    text: str,
) -> None:
    queue = temp_queue(wire_channel)

    with pytest.raises(EncodeError, match=re.escape(text)):
        publish(wire_channel, b"refused", exchange, routing_key or queue, properties)

    publish(wire_channel, b"next", "", queue)
    assert drain(wire_channel, queue) == [b"next"]


@pytest.mark.parametrize(
    "properties",
    [
        BasicProperties(headers={"when": datetime.datetime(2024, 1, 2, 3, 4, 5)}),
        BasicProperties(headers={"price": Decimal("12.50"), "big": 2**62}),
        BasicProperties(headers={"raw": b"\x00\xff", "pair": (1, "two")}),
        BasicProperties(headers={b"bytes-name": 1, "k" * 255: None}),
        BasicProperties(headers={}),
        BasicProperties(headers=""),  # type: ignore[arg-type]  # empty table
        BasicProperties(timestamp=0, priority=0, delivery_mode=1),
        BasicProperties(timestamp=2**64 - 1, priority=255, delivery_mode=2),
        BasicProperties(message_id="é" * 127, app_id="a" * 255),
    ],
)
def test_what_amqp_can_carry_is_published(
    wire_channel: WireChannel, properties: BasicProperties
) -> None:
    queue = temp_queue(wire_channel)

    publish(wire_channel, b"carried", "", queue, properties)

    assert drain(wire_channel, queue) == [b"carried"]


def test_reusing_a_consumer_tag_on_a_channel_closes_the_connection(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.basic_consume(queue, print, consumer_tag="same")
    with pytest.raises(OperationalError, match="reuse consumer tag 'same'"):
        wire_channel.basic_consume(queue, print, consumer_tag="same")
    assert not wire_connection.is_connected


def test_the_same_consumer_tag_on_two_channels_is_allowed(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    queue = temp_queue(wire_channel)
    wire_channel.basic_consume(queue, print, consumer_tag="same")
    assert wire_connection.channel().basic_consume(
        queue, print, consumer_tag="same"
    ) == ("same")


def test_a_prefetch_size_closes_the_connection(
    wire_connection: WireConnection, wire_channel: WireChannel
) -> None:
    with pytest.raises(OperationalError):
        then_sync_call(wire_channel, lambda: wire_channel.basic_qos(prefetch_size=10))
    assert not wire_connection.is_connected


def test_an_unknown_virtual_host_is_not_allowed(
    transport: Transport, params: ConnectionParameters, unique: str
) -> None:
    with pytest.raises(NotAllowed, match=f"vhost {unique} not found"):
        transport.connect(dataclasses.replace(params, virtual_host=unique))
