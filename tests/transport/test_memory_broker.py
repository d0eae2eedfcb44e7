"""Memory-only behaviour: reset, faults, inspection, private brokers, clocks.

What RabbitMQ also does is tested in ``test_contract.py`` on both
transports; this file covers what only the memory broker offers, and the
RabbitMQ behaviours a py-amqp client cannot exercise (internal exchanges)
or that need the broker's clock or threads.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import (
    AccessRefused,
    ChannelClosed,
    ConfigurationError,
    ConfirmTimeout,
    ConnectionLost,
    NotAllowed,
    NotFound,
    OperationalError,
    PreconditionFailed,
    ProtocolError,
)
from kombu_lite.transport.base import (
    BasicProperties,
    ConnectionParameters,
    Delivery,
    ReturnedMessage,
)
from kombu_lite.transport.memory import (
    Broker,
    MemoryChannel,
    MemoryConnection,
    MemoryTransport,
    default_broker,
)

PARAMS = ConnectionParameters(
    hostname="localhost", port=0, userid="guest", password="guest", virtual_host="/"
)
PLAIN = BasicProperties()
Connect = Callable[..., MemoryConnection]  # (virtual_host="/")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker(clock: FakeClock) -> Broker:
    return Broker(clock=clock)


@pytest.fixture
def connect(broker: Broker) -> Iterator[Connect]:
    """Open connections to the private broker; all are closed afterwards."""
    opened: list[MemoryConnection] = []

    def open_connection(virtual_host: str = "/") -> MemoryConnection:
        params = dataclasses.replace(PARAMS, virtual_host=virtual_host)
        conn = MemoryTransport(broker).connect(params)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture
def conn(connect: Connect) -> MemoryConnection:
    return connect()


@pytest.fixture
def channel(conn: MemoryConnection) -> MemoryChannel:
    return conn.channel()


def declare(channel: MemoryChannel, name: str = "q", **arguments: object) -> str:
    channel.queue_declare(name, durable=False, arguments=arguments or None)
    return name


def publish(
    channel: MemoryChannel,
    body: bytes,
    routing_key: str = "q",
    exchange: str = "",
    properties: BasicProperties = PLAIN,
    *,
    mandatory: bool = False,
) -> None:
    channel.basic_publish(body, properties, exchange, routing_key, mandatory=mandatory)


def bodies(broker: Broker, queue: str = "q") -> list[bytes]:
    return [message.body for message in broker.queue_messages(queue)]


# -- default and private brokers -------------------------------------------------------


def test_memory_transport_uses_the_process_wide_broker_by_default() -> None:
    assert MemoryTransport().broker is default_broker()


def test_private_brokers_share_nothing(broker: Broker, channel: MemoryChannel) -> None:
    declare(channel)
    assert [q.name for q in broker.queues()] == ["q"]
    assert Broker().queues() == []
    assert default_broker().queues() == []


def test_memory_transport_describes_itself() -> None:
    transport = MemoryTransport()
    assert (transport.name, transport.default_port, transport.options) == (
        "memory",
        0,
        frozenset({"channel_max"}),
    )


@pytest.mark.parametrize("value", [-1, 65536, "3", True])
def test_a_bad_memory_channel_max_is_refused(value: object) -> None:
    conn = Connection("memory://", transport_options={"channel_max": value})

    with pytest.raises(ConfigurationError, match="'channel_max' must be a number"):
        conn.connect()


def test_a_memory_connection_never_sends_heartbeats(conn: MemoryConnection) -> None:
    assert conn.heartbeat == 0.0


def test_waiting_for_a_confirm_never_asked_for_fails_at_once(
    channel: MemoryChannel,
) -> None:
    channel.confirm_select()
    declare(channel)
    tag = channel.basic_publish(b"x", PLAIN, "", "q")
    channel.wait_for_confirm(tag, timeout=None)

    # Settled already, or never published: the memory broker knows no
    # confirm will come, so it does not wait for the timeout.
    for unknown in (tag, tag + 1):
        with pytest.raises(ConfirmTimeout, match="unknown delivery tag"):
            channel.wait_for_confirm(unknown, timeout=None)


# -- reset -----------------------------------------------------------------------------


def test_reset_drops_every_queue_exchange_and_message(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.exchange_declare("x", "topic")
    publish(channel, b"m")
    broker.reset()
    assert broker.queues() == []
    assert [e.name for e in broker.exchanges()] == [
        "",
        "amq.direct",
        "amq.fanout",
        "amq.topic",
        "amq.headers",
        "amq.match",
    ]
    assert broker.statistics().published == 0


def test_reset_breaks_open_connections(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    broker.reset()
    with pytest.raises(ConnectionLost, match="reset") as info:
        declare(channel)
    assert info.value.reply_code == 320
    assert not conn.is_connected


def test_reset_keeps_virtual_hosts_and_users(clock: FakeClock) -> None:
    broker = Broker(users={"app": "secret"}, clock=clock)
    broker.add_vhost("tenant")
    broker.reset()
    params = dataclasses.replace(
        PARAMS, userid="app", password="secret", virtual_host="tenant"
    )
    MemoryTransport(broker).connect(params).close()
    with pytest.raises(AccessRefused):
        MemoryTransport(broker).connect(PARAMS)


def test_reset_starts_a_stopped_broker(broker: Broker, connect: Connect) -> None:
    broker.stop()
    broker.reset()
    assert broker.is_running
    assert connect().is_connected


# -- stop, start, close_all_connections ------------------------------------------------


def test_stop_breaks_every_call_of_an_open_connection(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    broker.stop()
    for call in (lambda: declare(channel), conn.channel, lambda: conn.drain_events(0)):
        with pytest.raises(ConnectionLost, match="shutdown") as info:
            call()
        assert info.value.reply_code == 320


def test_a_broken_connection_looks_open_until_a_call_finds_out(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    broker.close_all_connections()
    assert (conn.is_connected, channel.is_open) == (True, True)
    with pytest.raises(ConnectionLost):
        channel.basic_get("q")
    assert (conn.is_connected, channel.is_open) == (False, False)


def test_a_stopped_broker_refuses_connections(broker: Broker, connect: Connect) -> None:
    broker.stop()
    with pytest.raises(OperationalError, match="connection refused") as info:
        connect()
    assert not isinstance(info.value, ConnectionLost)
    assert info.value.recoverable


PERSISTENT = BasicProperties(delivery_mode=2)
TRANSIENT = BasicProperties(delivery_mode=1)


def restart(broker: Broker) -> None:
    broker.stop()
    broker.start()


def test_start_accepts_connections_again_with_persistent_messages_kept(
    broker: Broker, channel: MemoryChannel, connect: Connect
) -> None:
    channel.queue_declare("q", durable=True)
    publish(channel, b"kept", properties=PERSISTENT)
    restart(broker)
    delivery = connect().channel().basic_get("q")
    assert delivery is not None
    assert delivery.body == b"kept"


def test_a_restart_drops_transient_queues_and_their_messages(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.queue_declare("transient", durable=False)
    publish(channel, b"lost", "transient", properties=PERSISTENT)
    restart(broker)
    assert [queue.name for queue in broker.queues()] == []


def test_a_restart_keeps_only_the_persistent_messages_of_a_durable_queue(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.queue_declare("q", durable=True)
    publish(channel, b"one", properties=PERSISTENT)
    publish(channel, b"two", properties=TRANSIENT)
    publish(channel, b"three")  # no delivery_mode: transient
    publish(channel, b"four", properties=PERSISTENT)
    restart(broker)
    assert bodies(broker) == [b"one", b"four"]
    assert broker.statistics().messages_ready == 2


def test_a_restart_keeps_unacked_persistent_messages_as_redelivered(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.queue_declare("q", durable=True)
    publish(channel, b"held", properties=PERSISTENT)
    publish(channel, b"held too", properties=TRANSIENT)
    assert channel.basic_get("q") is not None
    assert channel.basic_get("q") is not None
    restart(broker)
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"held", True)
    ]


def test_a_restart_drops_transient_exchanges_and_keeps_durable_ones(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.exchange_declare("kept", "direct", durable=True)
    channel.exchange_declare("lost", "fanout", durable=False)
    restart(broker)
    names = {exchange.name for exchange in broker.exchanges()}
    assert "kept" in names
    assert "lost" not in names
    assert {"", "amq.direct", "amq.fanout", "amq.topic", "amq.headers"} <= names


def test_a_restart_keeps_only_bindings_between_durable_entities(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.exchange_declare("durable-x", "direct", durable=True)
    channel.exchange_declare("transient-x", "direct", durable=False)
    channel.queue_declare("durable-q", durable=True)
    channel.queue_declare("transient-q", durable=False)
    channel.queue_bind("durable-q", "durable-x", "a")
    channel.queue_bind("transient-q", "durable-x", "b")
    channel.queue_bind("durable-q", "transient-x", "c")
    channel.exchange_bind("transient-x", "durable-x", "d")
    channel.exchange_bind("durable-x", "transient-x", "e")
    channel.exchange_bind("durable-x", "amq.direct", "f")
    restart(broker)
    assert sorted(
        (b.source, b.destination, b.routing_key) for b in broker.bindings()
    ) == [("amq.direct", "durable-x", "f"), ("durable-x", "durable-q", "a")]


def test_surviving_bindings_still_route_after_a_restart(
    broker: Broker, channel: MemoryChannel, connect: Connect
) -> None:
    channel.exchange_declare("x", "direct", durable=True)
    channel.queue_declare("q", durable=True)
    channel.queue_declare("gone", durable=False)
    channel.queue_bind("q", "x", "k")
    channel.queue_bind("gone", "x", "k")
    restart(broker)
    publish(connect().channel(), b"routed", "k", "x", PERSISTENT)
    assert bodies(broker) == [b"routed"]
    assert broker.statistics().queues == 1


def test_a_transient_queue_can_be_declared_again_after_a_restart(
    broker: Broker, channel: MemoryChannel, connect: Connect
) -> None:
    channel.queue_declare("q", durable=False)
    restart(broker)
    # Declared as durable now: no inequivalence with the queue that is gone.
    assert connect().channel().queue_declare("q", durable=True).message_count == 0


def test_start_on_a_running_broker_drops_nothing(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    publish(channel, b"kept", properties=TRANSIENT)
    broker.start()
    assert bodies(broker) == [b"kept"]


def test_a_stopped_broker_shows_its_state_until_it_starts(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    publish(channel, b"until start")
    broker.stop()
    assert bodies(broker) == [b"until start"]
    broker.start()
    assert broker.queues() == []


def test_stop_requeues_unacknowledged_messages(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    publish(channel, b"held")
    assert channel.basic_get("q") is not None
    broker.stop()
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"held", True)
    ]


def test_stop_wakes_a_thread_waiting_in_drain_events(
    broker: Broker, conn: MemoryConnection
) -> None:
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            conn.drain_events()
        except ConnectionLost as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    # Whether the thread is already waiting or not, it must end with the error.
    broker.stop()
    waiter.join(5)
    assert len(errors) == 1


def test_close_all_connections_breaks_them_with_reply_code_320(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel, connect: Connect
) -> None:
    broker.close_all_connections("maintenance")
    with pytest.raises(ConnectionLost, match="CONNECTION_FORCED - maintenance") as info:
        declare(channel)
    assert info.value.reply_code == 320
    assert connect().channel().queue_declare("", exclusive=True).queue


def test_close_all_connections_deletes_their_exclusive_queues(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.queue_declare("mine", exclusive=True)
    broker.close_all_connections()
    assert broker.queues() == []


# -- max_message_size --------------------------------------------------------------


def test_the_default_max_message_size_is_rabbitmqs_128_mib() -> None:
    assert Broker().max_message_size == 128 * 1024 * 1024


def test_a_body_over_max_message_size_is_refused_by_size_and_closes_the_channel(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    broker.set_max_message_size(10)
    with pytest.raises(
        PreconditionFailed,
        match=r"^PRECONDITION_FAILED - message size 11 is larger than configured "
        r"max size 10$",
    ) as info:
        publish(channel, b"x" * 11)
    assert (info.value.reply_code, info.value.method) == (406, "basic.publish")
    assert bodies(broker) == []
    assert broker.statistics().published == 0
    with pytest.raises(ChannelClosed, match="message size 11"):
        publish(channel, b"small")


def test_a_body_of_exactly_max_message_size_is_accepted(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    broker.set_max_message_size(10)
    publish(channel, b"x" * 10)
    assert bodies(broker) == [b"x" * 10]


def test_the_size_is_checked_before_the_exchange(
    broker: Broker, channel: MemoryChannel
) -> None:
    broker.set_max_message_size(1)
    with pytest.raises(PreconditionFailed, match="message size 2"):
        publish(channel, b"xx", exchange="missing")


def test_a_producer_goes_on_after_an_oversize_message(clock: FakeClock) -> None:
    broker = Broker(clock=clock, max_message_size=64 * 1024)
    conn = Connection(transport=MemoryTransport(broker), confirm_publish=True)
    queue = Queue("q", Exchange(""), routing_key="q")
    producer = conn.Producer(routing_key="q")
    producer.publish(b"small", serializer="raw", declare=[queue])

    with pytest.raises(PreconditionFailed, match="size"):
        producer.publish(b"z" * 100_000, serializer="raw", retry=True)
    producer.publish(b"small again", serializer="raw")

    assert bodies(broker) == [b"small", b"small again"]
    conn.release()


def test_reset_restores_the_constructor_max_message_size(clock: FakeClock) -> None:
    broker = Broker(clock=clock, max_message_size=1000)
    broker.set_max_message_size(10)
    broker.reset()
    assert broker.max_message_size == 1000


def test_set_max_message_size_none_restores_the_constructor_value() -> None:
    broker = Broker(max_message_size=1000)
    broker.set_max_message_size(10)
    broker.set_max_message_size(None)
    assert broker.max_message_size == 1000


@pytest.mark.parametrize("size", [-1, 512 * 1024 * 1024 + 1, True, 1.5, "10"])
def test_a_max_message_size_rabbitmq_would_not_take_is_a_configuration_error(
    size: object,
) -> None:
    with pytest.raises(ConfigurationError, match="max_message_size"):
        Broker().set_max_message_size(size)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_message_size"):
        Broker(max_message_size=size)  # type: ignore[arg-type]


# -- logins and virtual hosts ----------------------------------------------------------


def test_a_wrong_password_is_refused_without_showing_it(clock: FakeClock) -> None:
    broker = Broker(users={"app": "secret"}, clock=clock)
    bad = dataclasses.replace(PARAMS, userid="app", password="hunter2")
    with pytest.raises(AccessRefused, match="user 'app'") as info:
        MemoryTransport(broker).connect(bad)
    assert "hunter2" not in str(info.value)
    assert "secret" not in str(info.value)


def test_an_unknown_user_is_refused(clock: FakeClock) -> None:
    broker = Broker(users={"app": "secret"}, clock=clock)
    with pytest.raises(AccessRefused):
        MemoryTransport(broker).connect(PARAMS)


def test_the_right_password_is_accepted(clock: FakeClock) -> None:
    broker = Broker(users={"app": "secret"}, clock=clock)
    good = dataclasses.replace(PARAMS, userid="app", password="secret")
    assert MemoryTransport(broker).connect(good).is_connected


def test_an_added_virtual_host_accepts_connections(
    broker: Broker, connect: Connect
) -> None:
    with pytest.raises(NotAllowed, match="vhost tenant not found"):
        connect(virtual_host="tenant")
    broker.add_vhost("tenant")
    broker.add_vhost("tenant")
    assert connect(virtual_host="tenant").is_connected


def test_virtual_hosts_are_isolated(broker: Broker, connect: Connect) -> None:
    broker.add_vhost("tenant")
    declare(connect(virtual_host="tenant").channel(), "only-there")
    assert [q.name for q in broker.queues("tenant")] == ["only-there"]
    assert broker.queues("/") == []


# -- connections and channels ----------------------------------------------------------


def test_connection_reports_the_memory_broker(conn: MemoryConnection) -> None:
    assert conn.server_properties["product"] == "kombu_lite memory broker"
    assert "open" in repr(conn)


def test_channel_numbers_reuse_the_lowest_free_one(conn: MemoryConnection) -> None:
    first, second = conn.channel(), conn.channel()
    first.close()
    assert [second.channel_id, conn.channel().channel_id] == [2, 1]


def test_a_closed_connection_refuses_further_use(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    conn.close()
    assert not channel.is_open
    with pytest.raises(ConnectionLost, match="closed"):
        conn.channel()
    with pytest.raises(ConnectionLost):
        conn.drain_events(timeout=0)
    with pytest.raises(ConnectionLost):
        declare(channel)


def test_a_closed_channel_names_itself(channel: MemoryChannel) -> None:
    channel.close()
    with pytest.raises(ChannelClosed, match="channel 1 is closed"):
        declare(channel)
    assert "closed" in repr(channel)


def test_a_channel_closed_by_an_error_names_the_first_reason(
    channel: MemoryChannel,
) -> None:
    with pytest.raises(NotFound):
        channel.queue_purge("missing")
    with pytest.raises(
        ChannelClosed, match=r"after queue\.purge failed: NOT_FOUND"
    ) as info:
        declare(channel)
    assert (info.value.reply_code, info.value.method) == (404, "queue.declare")


def test_a_connection_error_breaks_the_connection_for_later_calls(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    with pytest.raises(ProtocolError, match="invalid exchange type 'fancy'") as info:
        channel.exchange_declare("x", "fancy")
    assert info.value.reply_code == 503
    with pytest.raises(ConnectionLost, match="COMMAND_INVALID"):
        conn.channel()


def test_recover_without_requeue_is_not_implemented(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    with pytest.raises(OperationalError, match="NOT_IMPLEMENTED") as info:
        channel.basic_recover(requeue=False)
    assert info.value.reply_code == 540
    assert not conn.is_connected


# -- inspection ------------------------------------------------------------------------


def test_queue_messages_is_a_snapshot_in_delivery_order(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-max-priority": 9})
    channel.queue_bind("q", "amq.topic", "a.*")
    publish(channel, b"low", "a.b", "amq.topic", BasicProperties(headers={"k": [1]}))
    publish(channel, b"high", "q", "", BasicProperties(priority=7))
    snapshot = broker.queue_messages("q")
    assert channel.basic_get("q", no_ack=True) is not None
    assert [(m.body, m.exchange, m.routing_key, m.priority) for m in snapshot] == [
        (b"high", "", "q", 7),
        (b"low", "amq.topic", "a.b", 0),
    ]
    headers = snapshot[1].properties.headers
    assert isinstance(headers, dict)
    headers["k"] = "changed"
    assert broker.queue_messages("q")[0].properties.headers == {"k": [1]}


def test_inspecting_a_missing_queue_or_vhost_raises_not_found(broker: Broker) -> None:
    with pytest.raises(NotFound, match="no queue 'nope'"):
        broker.queue_messages("nope")
    with pytest.raises(NotFound, match="no vhost 'nope'"):
        broker.queues("nope")


def test_queues_reports_settings_and_counts(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-max-length": 10})
    channel.queue_declare("mine", exclusive=True, auto_delete=True)
    for body in (b"1", b"2", b"3"):
        publish(channel, body)
    channel.basic_get("q")
    channel.basic_consume("q", print)
    info = {q.name: q for q in broker.queues()}
    assert (info["q"].messages_ready, info["q"].messages_unacknowledged) == (0, 3)
    assert (info["q"].consumers, info["q"].durable, info["q"].exclusive) == (
        1,
        False,
        False,
    )
    assert dict(info["q"].arguments) == {"x-max-length": 10}
    assert (info["mine"].exclusive, info["mine"].auto_delete) == (True, True)


def test_exchanges_reports_declared_exchanges(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.exchange_declare(
        "ex", "headers", durable=False, auto_delete=True, arguments={"a": 1}
    )
    ex = broker.exchanges()[-1]
    assert (ex.name, ex.type, ex.durable, ex.auto_delete, ex.internal) == (
        "ex",
        "headers",
        False,
        True,
        False,
    )
    assert dict(ex.arguments) == {"a": 1}


def test_bindings_lists_queue_and_exchange_bindings(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.queue_bind("q", "amq.headers", "", {"x-match": "any", "a": 1})
    channel.exchange_bind("amq.fanout", "amq.direct", "k")
    assert [
        (b.source, b.destination, b.destination_type, b.routing_key, dict(b.arguments))
        for b in broker.bindings()
    ] == [
        ("amq.direct", "amq.fanout", "exchange", "k", {}),
        ("amq.headers", "q", "queue", "", {"x-match": "any", "a": 1}),
    ]


def test_statistics_count_what_happened(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    for body in (b"1", b"2", b"3"):
        publish(channel, body)
    publish(channel, b"lost", "nowhere", mandatory=True)
    first = channel.basic_get("q")
    second = channel.basic_get("q")
    assert first is not None
    assert second is not None
    channel.basic_ack(first.delivery_tag)
    channel.basic_reject(second.delivery_tag, requeue=False)
    stats = broker.statistics()
    assert (stats.connections, stats.channels, stats.queues) == (1, 1, 1)
    assert (stats.messages_ready, stats.messages_unacknowledged) == (1, 0)
    assert (stats.published, stats.unroutable, stats.returned) == (4, 1, 1)
    assert (stats.delivered, stats.acknowledged, stats.dropped) == (2, 1, 1)
    assert stats.running
    assert "running" in repr(broker)


# -- message TTL, driven by the injected clock -----------------------------------------


def test_queue_ttl_expires_messages_as_the_clock_moves(
    broker: Broker, channel: MemoryChannel, clock: FakeClock
) -> None:
    declare(channel, "q", **{"x-message-ttl": 1000})
    publish(channel, b"old")
    clock.advance(0.5)
    publish(channel, b"young")
    clock.advance(0.5)
    assert bodies(broker) == [b"young"]
    assert broker.statistics().expired == 1


def test_the_shorter_of_message_and_queue_ttl_wins(
    broker: Broker, channel: MemoryChannel, clock: FakeClock
) -> None:
    declare(channel, "q", **{"x-message-ttl": 1000})
    publish(channel, b"short", properties=BasicProperties(expiration="100"))
    publish(channel, b"long", properties=BasicProperties(expiration="5000"))
    clock.advance(0.2)
    assert bodies(broker) == [b"long"]
    clock.advance(1)
    assert channel.basic_get("q") is None


def test_expired_messages_wait_behind_a_live_head(
    broker: Broker, channel: MemoryChannel, clock: FakeClock
) -> None:
    declare(channel)
    publish(channel, b"head", properties=BasicProperties(expiration="10000"))
    publish(channel, b"stale", properties=BasicProperties(expiration="10"))
    clock.advance(1)
    assert bodies(broker) == [b"head", b"stale"]
    assert [d.body for d in (channel.basic_get("q", no_ack=True),) if d] == [b"head"]
    assert channel.basic_get("q") is None


def test_a_requeued_message_keeps_its_expiry(
    broker: Broker, channel: MemoryChannel, clock: FakeClock
) -> None:
    declare(channel)
    publish(channel, b"m", properties=BasicProperties(expiration="1000"))
    delivery = channel.basic_get("q")
    assert delivery is not None
    clock.advance(2)
    channel.basic_reject(delivery.delivery_tag, requeue=True)
    assert channel.basic_get("q") is None


@pytest.mark.parametrize(
    ("expiration", "reason"),
    [
        ("-5", "{value_negative,-5}"),
        ("1.5", '{leftover_string,".5"}'),
        ("", "no_integer"),
    ],
)
def test_invalid_expirations_are_refused_with_rabbitmqs_reason(
    channel: MemoryChannel, expiration: str, reason: str
) -> None:
    declare(channel)
    with pytest.raises(PreconditionFailed, match=reason):
        publish(channel, b"m", properties=BasicProperties(expiration=expiration))


# -- consumers -------------------------------------------------------------------------


def collect(
    channel: MemoryChannel, queue: str = "q", **options: object
) -> list[Delivery]:
    received: list[Delivery] = []
    channel.basic_consume(queue, received.append, **options)  # type: ignore[arg-type]
    return received


def drain_all(conn: MemoryConnection) -> None:
    while True:
        try:
            conn.drain_events(timeout=0)
        except TimeoutError:
            return


def test_consumers_of_a_queue_take_turns(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    first, second = collect(channel), collect(channel)
    for body in (b"1", b"2", b"3", b"4"):
        publish(channel, body)
    drain_all(conn)
    assert ([d.body for d in first], [d.body for d in second]) == (
        [b"1", b"3"],
        [b"2", b"4"],
    )


def test_global_prefetch_is_shared_by_the_channels_consumers(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel, "a")
    declare(channel, "b")
    channel.basic_qos(prefetch_count=1, apply_global=True)
    from_a, from_b = collect(channel, "a"), collect(channel, "b")
    publish(channel, b"1", "a")
    publish(channel, b"2", "b")
    drain_all(conn)
    assert (len(from_a), len(from_b)) == (1, 0)
    channel.basic_qos(prefetch_count=2, apply_global=True)
    drain_all(conn)
    assert (len(from_a), len(from_b)) == (1, 1)
    channel.basic_ack(from_b[0].delivery_tag)
    publish(channel, b"3", "b")
    drain_all(conn)
    assert [d.body for d in from_b] == [b"2", b"3"]


def test_a_new_prefetch_count_applies_only_to_later_consumers(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    unlimited = collect(channel)
    channel.basic_qos(prefetch_count=1)
    for body in (b"1", b"2", b"3"):
        publish(channel, body)
    drain_all(conn)
    assert len(unlimited) == 3


def test_cancelling_takes_back_deliveries_not_yet_received(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    received = collect(channel, consumer_tag="c")
    ack_free = collect(channel, consumer_tag="n", no_ack=True)
    for body in (b"1", b"2"):
        publish(channel, body)
    channel.basic_cancel("c")
    channel.basic_cancel("n")
    channel.basic_cancel("unknown")
    drain_all(conn)
    assert (received, ack_free) == ([], [])
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"1", False),
        (b"2", False),
    ]
    assert broker.statistics().delivered == 0


def test_recover_withdraws_deliveries_not_yet_received(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    received = collect(channel)
    publish(channel, b"once")
    channel.basic_recover()
    drain_all(conn)
    assert [(d.body, d.redelivered, d.delivery_tag) for d in received] == [
        (b"once", True, 2)
    ]


def test_cancelling_after_an_early_ack_takes_nothing_back(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    received = collect(channel, consumer_tag="c")
    publish(channel, b"m")
    channel.basic_ack(1)  # a guessed tag: the delivery is settled while pending
    channel.basic_cancel("c")
    drain_all(conn)
    assert received == []


def test_drain_events_waits_for_a_publish_from_another_thread(
    conn: MemoryConnection, channel: MemoryChannel, connect: Connect
) -> None:
    declare(channel)
    received = collect(channel)
    publisher = connect().channel()
    thread = threading.Thread(target=publish, args=(publisher, b"later"))
    thread.start()
    conn.drain_events()
    thread.join()
    assert [d.body for d in received] == [b"later"]


def test_a_callback_may_call_back_into_the_broker(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.basic_consume("q", lambda d: channel.basic_ack(d.delivery_tag))
    publish(channel, b"m")
    conn.drain_events(timeout=1)
    assert broker.statistics().acknowledged == 1


def test_a_return_without_handler_is_not_an_event(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    publish(channel, b"m", "nowhere", mandatory=True)
    with pytest.raises(TimeoutError):
        conn.drain_events(timeout=0)


def test_returned_message_carries_the_message(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    returned: list[ReturnedMessage] = []
    channel.set_return_handler(returned.append)
    properties = BasicProperties(message_id="m1")
    publish(channel, b"m", "nowhere", "amq.topic", properties, mandatory=True)
    conn.drain_events(timeout=0)
    assert [(r.body, r.properties, r.exchange) for r in returned] == [
        (b"m", properties, "amq.topic")
    ]


def test_closing_a_channel_loses_pending_no_ack_deliveries(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    consuming = conn.channel()
    received = collect(consuming, no_ack=True)
    acked = collect(consuming)
    for body in (b"1", b"2"):
        publish(channel, body)
    consuming.close()
    drain_all(conn)
    assert (received, acked) == ([], [])
    assert [(m.body, m.redelivered) for m in broker.queue_messages("q")] == [
        (b"2", True)
    ]


def test_deleting_a_queue_notifies_consumers_on_other_connections(
    conn: MemoryConnection, channel: MemoryChannel, connect: Connect
) -> None:
    declare(channel)
    cancelled: list[str] = []
    channel.basic_consume("q", print, consumer_tag="c", on_cancel=cancelled.append)
    channel.basic_consume("q", print, consumer_tag="quiet")
    publish(channel, b"m")
    connect().channel().queue_delete("q")
    drain_all(conn)
    assert cancelled == ["c"]
    channel.basic_ack(1)


def test_max_length_zero_still_feeds_a_ready_consumer(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-max-length": 0})
    received = collect(channel)
    publish(channel, b"direct")
    publish(channel, b"dropped")
    drain_all(conn)
    assert [d.body for d in received] == [b"direct", b"dropped"]


def test_ack_multiple_with_tag_zero_acknowledges_everything(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    for body in (b"1", b"2"):
        publish(channel, body)
    channel.basic_get("q")
    channel.basic_get("q")
    channel.basic_ack(0, multiple=True)
    assert broker.queues()[0].messages_unacknowledged == 0


def test_requeued_messages_keep_their_priority_position(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-max-priority": 2})
    for body, priority in ((b"a", 1), (b"b", 1), (b"c", 2)):
        publish(channel, body, properties=BasicProperties(priority=priority))
    tags = [
        d.delivery_tag for d in (channel.basic_get("q"), channel.basic_get("q")) if d
    ]
    channel.basic_reject(tags[1], requeue=True)
    channel.basic_reject(tags[0], requeue=True)
    assert bodies(broker) == [b"c", b"a", b"b"]


# -- message isolation -----------------------------------------------------------------


def test_changing_headers_after_publishing_changes_nothing(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    headers: dict[str, object] = {"list": [1, (2, 3)], "table": {"k": "v"}}
    body = bytearray(b"body")  # any bytes-like body is copied to bytes
    publish(channel, body, properties=BasicProperties(headers=headers))  # type: ignore[arg-type]
    headers["table"] = "changed"
    delivery = channel.basic_get("q")
    assert delivery is not None
    assert delivery.body == b"body"
    assert type(delivery.body) is bytes
    assert delivery.properties.headers == {"list": [1, [2, 3]], "table": {"k": "v"}}


def test_each_consumer_gets_its_own_headers(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    for name in ("a", "b"):
        declare(channel, name)
        channel.queue_bind(name, "amq.fanout")
    first, second = collect(channel, "a"), collect(channel, "b")
    publish(channel, b"m", "", "amq.fanout", BasicProperties(headers={"n": {"x": 1}}))
    drain_all(conn)
    headers = first[0].properties.headers
    assert isinstance(headers, dict)
    headers["n"] = 2
    assert second[0].properties.headers == {"n": {"x": 1}}


# -- RabbitMQ rules py-amqp cannot exercise --------------------------------------------


def test_publishing_to_an_internal_exchange_is_refused(channel: MemoryChannel) -> None:
    channel.exchange_declare("inner", "fanout", internal=True)
    with pytest.raises(AccessRefused, match="cannot publish to internal exchange"):
        publish(channel, b"m", "k", "inner")


def test_an_internal_exchange_still_routes_from_another_exchange(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.exchange_declare("inner", "fanout", internal=True)
    channel.queue_bind("q", "inner")
    channel.exchange_bind("inner", "amq.direct", "k")
    publish(channel, b"m", "k", "amq.direct")
    assert bodies(broker) == [b"m"]


def test_redeclaring_with_another_internal_flag_is_refused(
    channel: MemoryChannel,
) -> None:
    channel.exchange_declare("x", "direct")
    with pytest.raises(PreconditionFailed, match="inequivalent arg 'internal'"):
        channel.exchange_declare("x", "direct", internal=True)


def test_standard_exchanges_cannot_be_deleted(channel: MemoryChannel) -> None:
    with pytest.raises(
        AccessRefused, match=r"deletion of system exchange 'amq\.topic'"
    ):
        channel.exchange_delete("amq.topic")


def test_standard_exchanges_can_be_redeclared_as_they_are(
    channel: MemoryChannel,
) -> None:
    channel.exchange_declare("amq.match", "headers", durable=True)
    assert channel.is_open


def test_alternate_exchange_argument_must_match_on_redeclare(
    channel: MemoryChannel,
) -> None:
    channel.exchange_declare("x", "direct", arguments={"alternate-exchange": "a"})
    channel.exchange_declare(
        "x", "direct", arguments={"alternate-exchange": "a", "o": 1}
    )
    with pytest.raises(PreconditionFailed, match="received 'b' but current is 'a'"):
        channel.exchange_declare("x", "direct", arguments={"alternate-exchange": "b"})


def test_an_alternate_exchange_that_does_not_exist_drops_the_message(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.exchange_declare("x", "direct", arguments={"alternate-exchange": "gone"})
    publish(channel, b"m", "k", "x")
    assert broker.statistics().unroutable == 1


def test_an_exchange_cycle_delivers_each_message_once(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.exchange_declare("left", "fanout")
    channel.exchange_declare("right", "fanout")
    channel.exchange_bind("right", "left")
    channel.exchange_bind("left", "right")
    channel.queue_bind("q", "right")
    publish(channel, b"m", "", "left")
    assert bodies(broker) == [b"m"]


def test_deleting_an_exchange_removes_bindings_towards_it(
    broker: Broker, channel: MemoryChannel
) -> None:
    channel.exchange_declare("src", "direct", auto_delete=True)
    channel.exchange_declare("dst", "fanout")
    channel.exchange_bind("dst", "src", "k")
    channel.exchange_delete("dst")
    assert "src" not in [e.name for e in broker.exchanges()]
    assert broker.bindings() == []


def test_deleting_an_exchange_removes_its_queue_bindings(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.exchange_declare("x", "topic")
    channel.queue_bind("q", "x", "#")
    channel.exchange_delete("x", if_unused=False)
    assert broker.bindings() == []
    publish(channel, b"still routable by name")
    assert len(bodies(broker)) == 1


def test_unknown_queue_arguments_may_differ_between_declarations(
    channel: MemoryChannel,
) -> None:
    declare(channel, "q", custom=1)
    assert (
        channel.queue_declare("q", durable=False, arguments={"custom": 2}).queue == "q"
    )


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"x-max-length": "a"}, '"expected integer, got longstr"'),
        ({"x-max-length": True}, '"expected integer, got bool"'),
        ({"x-message-ttl": 1.5}, '"expected integer, got double"'),
        ({"x-expires": 0}, "{value_zero,0}"),
        ({"x-max-priority": 256}, "{max_value_exceeded,256}"),
        ({"x-overflow": "nope"}, "invalid_overflow"),
        ({"x-dead-letter-exchange": 5}, "invalid type 'signedint' for arg"),
        ({"x-queue-type": "stream"}, "not supported by the memory broker"),
    ],
)
def test_invalid_queue_arguments_are_refused(
    channel: MemoryChannel, arguments: dict[str, object], problem: str
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        channel.queue_declare("q", arguments=arguments)
    assert f"'{next(iter(arguments))}'" in str(info.value)
    assert problem in str(info.value)


def test_durable_quorum_queues_are_accepted(channel: MemoryChannel) -> None:
    channel.queue_declare(
        "q", durable=True, arguments={"x-queue-type": "quorum", "x-expires": 60000}
    )
    assert channel.is_open


@pytest.mark.parametrize(
    ("first", "second", "detail"),
    [
        (
            {},
            {"x-max-length": 5},
            "received the value '5' of type 'signedint' but current is none",
        ),
        ({"x-max-length": 5}, {}, "received none but current is the value '5' of type"),
    ],
)
def test_a_queue_argument_added_or_removed_is_described(
    channel: MemoryChannel,
    first: dict[str, object],
    second: dict[str, object],
    detail: str,
) -> None:
    channel.queue_declare("q", arguments=first)
    with pytest.raises(PreconditionFailed) as info:
        channel.queue_declare("q", arguments=second)
    assert detail in str(info.value)


def test_the_default_exchange_cannot_be_bound_or_deleted(
    conn: MemoryConnection,
) -> None:
    actions: list[Callable[[MemoryChannel], None]] = [
        lambda ch: ch.queue_bind("q", "", "q"),
        lambda ch: ch.queue_unbind("q", "", "q"),
        lambda ch: ch.exchange_bind("", "amq.direct"),
        lambda ch: ch.exchange_unbind("amq.direct", ""),
        lambda ch: ch.exchange_delete(""),
        lambda ch: ch.exchange_declare("", "direct", passive=True),
    ]
    for action in actions:
        with pytest.raises(AccessRefused, match="default exchange"):
            action(conn.channel())


def test_binding_to_a_missing_exchange_raises_not_found(channel: MemoryChannel) -> None:
    declare(channel)
    with pytest.raises(NotFound, match="no exchange 'nope'"):
        channel.queue_bind("q", "nope")


def test_exchange_binding_to_a_missing_destination_raises_not_found(
    channel: MemoryChannel,
) -> None:
    with pytest.raises(NotFound, match="no exchange 'nope'"):
        channel.exchange_bind("nope", "amq.direct")


def test_passive_declare_ignores_the_exchange_type(channel: MemoryChannel) -> None:
    channel.exchange_declare("amq.topic", "no-such-type", passive=True)
    assert channel.is_open


# -- routing indexes and corner cases ----------------------------------------------


def test_publishing_on_a_closed_channel_raises_channel_closed(
    channel: MemoryChannel,
) -> None:
    channel.close()
    with pytest.raises(ChannelClosed):
        publish(channel, b"m")


def test_ack_multiple_with_the_latest_tag_acknowledges_all(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    for body in (b"1", b"2"):
        publish(channel, body)
    channel.basic_get("q")
    latest = channel.basic_get("q")
    assert latest is not None
    channel.basic_ack(latest.delivery_tag, multiple=True)
    assert broker.queues()[0].messages_unacknowledged == 0


def test_binding_arguments_with_nested_values_bind_once(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    arguments = {"t": {"k": [1, {"n": 2}]}, "raw": bytearray(b"x")}
    channel.queue_bind("q", "amq.direct", "k", arguments)
    channel.queue_bind("q", "amq.direct", "k", dict(reversed(arguments.items())))
    assert len(broker.bindings()) == 1


def test_a_direct_key_keeps_routing_while_one_binding_remains(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "a")
    declare(channel, "b")
    channel.queue_bind("a", "amq.direct", "k")
    channel.queue_bind("b", "amq.direct", "k")
    channel.queue_bind("b", "amq.direct", "k", {"variant": 1})
    channel.queue_unbind("a", "amq.direct", "k")
    channel.queue_unbind("b", "amq.direct", "k")
    publish(channel, b"m", "k", "amq.direct")
    assert (bodies(broker, "a"), bodies(broker, "b")) == ([], [b"m"])


def test_a_fanout_destination_bound_twice_gets_one_copy_until_both_go(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.queue_bind("q", "amq.fanout", "one")
    channel.queue_bind("q", "amq.fanout", "two")
    publish(channel, b"1", "", "amq.fanout")
    channel.queue_unbind("q", "amq.fanout", "one")
    publish(channel, b"2", "", "amq.fanout")
    channel.queue_unbind("q", "amq.fanout", "two")
    publish(channel, b"3", "", "amq.fanout")
    assert bodies(broker) == [b"1", b"2"]


def test_topic_routing_stays_right_past_the_cache_size(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.queue_bind("q", "amq.topic", "keep.#")
    for number in range(4100):
        publish(channel, b"x", f"drop.{number}", "amq.topic")
    publish(channel, b"kept", "keep.it", "amq.topic")
    publish(channel, b"cached", "keep.it", "amq.topic")
    assert bodies(broker) == [b"kept", b"cached"]


def test_unbinding_from_a_missing_exchange_is_allowed(channel: MemoryChannel) -> None:
    channel.queue_unbind("q", "nope", "k")
    channel.exchange_unbind("amq.direct", "nope", "k")
    assert channel.is_open


def test_passive_queue_declare_reports_the_counts(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    publish(channel, b"m")
    channel.basic_consume("q", print, no_ack=True)
    publish(channel, b"n")
    assert tuple(channel.queue_declare("q", passive=True)) == ("q", 0, 1)


def test_rejecting_into_a_deleted_queue_drops_the_message(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel)
    publish(channel, b"m")
    delivery = channel.basic_get("q")
    assert delivery is not None
    channel.queue_delete("q")
    channel.basic_reject(delivery.delivery_tag, requeue=True)
    assert broker.queues() == []


def test_closing_a_channel_after_its_auto_delete_queue_went(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel
) -> None:
    channel.queue_declare("q", auto_delete=True)
    consuming = conn.channel()
    consuming.basic_consume("q", print)
    publish(channel, b"m")
    channel.queue_delete("q")
    consuming.close()
    assert broker.queues() == []


def test_a_consumer_at_its_prefetch_limit_is_skipped(
    conn: MemoryConnection, channel: MemoryChannel
) -> None:
    declare(channel)
    channel.basic_qos(prefetch_count=1)
    received = collect(channel)
    for body in (b"1", b"2", b"3"):
        publish(channel, body)
    getter = conn.channel()
    fetched = getter.basic_get("q")
    assert fetched is not None
    getter.basic_ack(fetched.delivery_tag)
    drain_all(conn)
    assert [d.body for d in received] == [b"1"]


def test_a_new_consumer_gets_no_expired_messages(
    broker: Broker, conn: MemoryConnection, channel: MemoryChannel, clock: FakeClock
) -> None:
    declare(channel, "q", **{"x-message-ttl": 10})
    publish(channel, b"stale")
    clock.advance(1)
    received = collect(channel)
    drain_all(conn)
    assert received == []
    assert broker.statistics().expired == 1


def test_inequivalent_string_arguments_are_quoted_as_text(
    channel: MemoryChannel,
) -> None:
    channel.queue_declare("q", arguments={"x-dead-letter-exchange": b"a"})
    with pytest.raises(PreconditionFailed, match="received 'b' but current is 'a'"):
        channel.queue_declare("q", arguments={"x-dead-letter-exchange": b"b"})
