"""One connection, many threads: who reads frames, and who runs callbacks.

A consumer loop in one thread must not stop the other threads' synchronous
calls on the same connection, and a consumer callback that publishes with
confirms must not run the next delivery inside its own confirm wait.
The consumer tests run on ``memory://`` and on RabbitMQ; the
``rpc_timeout`` tests run against the scripted peer (a broker that stays
silent on purpose).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Producer, Queue
from kombu_lite.exceptions import ConfigurationError, RpcTimeout
from tests.scripted_peer import (
    CHANNEL_CLOSE,
    CHANNEL_CLOSE_OK,
    CHANNEL_OPEN,
    CHANNEL_OPEN_OK,
    CONNECTION_CLOSE,
    QUEUE_DECLARE,
    QUEUE_DECLARE_OK,
    PeerSession,
    ScriptedPeer,
)


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.broker)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    rabbit: str = request.getfixturevalue("rabbitmq")
    return rabbit


@pytest.fixture
def queues(url: str, unique: str) -> Iterator[Callable[[str], Queue]]:
    """Make queues named after the test; deleted afterwards, even on failure."""
    made: list[Queue] = []

    def make(suffix: str) -> Queue:
        queue = Queue(
            f"{unique}-{suffix}", Exchange(""), routing_key=f"{unique}-{suffix}"
        )
        made.append(queue)
        return queue

    yield make
    with Connection(url) as conn:
        for queue in made:
            with conn.channel() as channel:
                channel.queue_delete(queue.name)


def _timed(
    name: str,
    action: Callable[[], object],
    times: int,
    took: dict[str, float],
    errors: list[BaseException],
) -> Callable[[], None]:
    """Run ``action`` ``times`` times; keep its slowest run in ``took``."""

    def run() -> None:
        worst = 0.0
        try:
            for _ in range(times):
                start = time.monotonic()
                action()
                worst = max(worst, time.monotonic() - start)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            return
        took[name] = worst

    return run


def test_a_consumer_loop_does_not_stall_other_threads_calls(
    url: str,
    queues: Callable[[str], Queue],
    record_property: Callable[[str, object], None],
) -> None:
    consumed = queues("consumed")
    declared = queues("declared")
    published = queues("published")
    conn = Connection(url)
    stopped = threading.Event()
    loop_errors: list[BaseException] = []
    try:
        consumed.declare(channel=conn.default_channel)
        declare_channel = conn.channel()
        publish_channel = conn.channel()
        consumer = Consumer(
            conn.channel(),
            [consumed],
            on_message=lambda message: (message.ack(), stopped.set()),
        )
        consumer.consume()

        def loop() -> None:
            try:
                while not stopped.is_set():
                    conn.drain_events(timeout=None)
            except BaseException as exc:  # noqa: BLE001 - reported below
                loop_errors.append(exc)

        reader = threading.Thread(target=loop, name="consumer-loop", daemon=True)
        reader.start()
        time.sleep(0.2)  # the loop is now blocked reading the socket
        took: dict[str, float] = {}
        errors: list[BaseException] = []
        producer = Producer(publish_channel)
        actions = {
            "channel": lambda: conn.channel().close(),
            "declare": lambda: declared.declare(channel=declare_channel),
            "publish_declare": lambda: producer.publish(
                b"x",
                routing_key=published.name,
                declare=[published],
                serializer="raw",
            ),
        }
        workers = [
            threading.Thread(target=_timed(name, action, 5, took, errors), daemon=True)
            for name, action in actions.items()
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
        for name, worst in sorted(took.items()):
            record_property(f"report:{name}_worst_s", round(worst, 3))
        assert errors == []
        assert sorted(took) == sorted(actions), "a call never returned"
        assert max(took.values()) < 1.0
    finally:
        # Ends the consumer loop (it waits without a timeout).
        with Connection(url) as other:
            Producer(other.default_channel).publish(
                b"stop", routing_key=consumed.name, serializer="raw"
            )
        stopped.wait(10)
        conn.release()
    assert loop_errors == []


def test_a_callback_that_publishes_with_confirms_is_never_nested(
    url: str,
    queues: Callable[[str], Queue],
    record_property: Callable[[str, object], None],
) -> None:
    total = 3000
    source = queues("source")
    target = queues("target")
    with Connection(url) as feeder:
        channel = feeder.default_channel
        source.declare(channel=channel)
        target.declare(channel=channel)
        Producer(channel).publish_many(
            [b"m%d" % n for n in range(total)],
            routing_key=source.name,
            serializer="raw",
        )
        assert channel.queue_declare(source.name, passive=True).message_count == total
    conn = Connection(url, confirm_publish=True)
    depth = 0
    deepest = 0
    forwarded = 0
    try:
        producer = conn.Producer()

        def forward(message: Message) -> None:
            nonlocal depth, deepest, forwarded
            depth += 1
            deepest = max(deepest, depth)
            try:
                producer.publish(
                    message.body, routing_key=target.name, serializer="raw"
                )
                message.ack()
                forwarded += 1
            finally:
                depth -= 1

        # No prefetch limit: deliveries pour in during every confirm wait.
        Consumer(conn.channel(), [source], on_message=forward).consume()
        try:
            while forwarded < total:
                conn.drain_events(timeout=10)
        finally:
            record_property("report:forwarded", forwarded)
            record_property("report:max_callback_depth", deepest)
        assert deepest == 1
        count = conn.default_channel.queue_declare(target.name, passive=True)
        assert count.message_count == total
    finally:
        conn.release()


# -- rpc_timeout, on the scripted peer (no RabbitMQ needed) ----------------------


def _answer_declare(peer: PeerSession) -> None:
    declare = peer.expect(QUEUE_DECLARE)
    name = declare.arguments("Bs")[1]
    peer.send_method(declare.channel, QUEUE_DECLARE_OK, "sll", (name, 0, 0))


def _answer_opens_and_closes(peer: PeerSession, since: int) -> None:
    """Answer the channel opens and closes ``idle`` read (and kept)."""
    for received in peer.received[since:]:
        if received.method == CHANNEL_CLOSE:
            peer.send_method(received.channel, CHANNEL_CLOSE_OK)
        elif received.method == CHANNEL_OPEN:
            peer.send_method(received.channel, CHANNEL_OPEN_OK, "S", ("",))


def test_a_declare_the_broker_never_answers_times_out_and_closes_the_channel(
    record_property: Callable[[str, object], None],
) -> None:
    def script(peer: PeerSession) -> None:
        peer.expect(QUEUE_DECLARE)  # channel.open answered on the way
        # Alive (heartbeats every 0.25 s), but never answering.
        since = len(peer.received)
        peer.idle(1.4, heartbeat=0.25)
        _answer_opens_and_closes(peer, since)
        _answer_declare(peer)  # on a new channel
        peer.answer_until_closed()

    with (
        ScriptedPeer(script, heartbeat=1) as peer,
        Connection(peer.url, rpc_timeout=1.0, heartbeat=1) as conn,
    ):
        channel = conn.channel()
        start = time.monotonic()
        with pytest.raises(RpcTimeout) as raised:
            Queue("never-answered").declare(channel=channel)
        took = time.monotonic() - start
        record_property("report:raised_after_s", round(took, 3))
        assert 1.0 <= took < 1.3
        assert raised.value.method == "queue.declare"
        assert raised.value.channel_id == channel.channel_id
        assert raised.value.recoverable
        assert not channel.is_open
        assert Queue("second").declare(channel=conn.channel()) == "second"
    closes = [f.channel for f in peer.sessions[0].received if f.method == CHANNEL_CLOSE]
    assert channel.channel_id in closes


def test_a_reply_after_the_deadline_is_not_taken_by_the_next_call() -> None:
    def script(peer: PeerSession) -> None:
        first = peer.expect(QUEUE_DECLARE)
        since = len(peer.received)
        peer.idle(1.2)
        # The late answer, then the close-ok for the client's close.
        peer.send_method(first.channel, QUEUE_DECLARE_OK, "sll", ("late", 9, 9))
        _answer_opens_and_closes(peer, since)
        _answer_declare(peer)
        peer.answer_until_closed()

    with (
        ScriptedPeer(script) as peer,
        Connection(peer.url, rpc_timeout=1.0, heartbeat=0) as conn,
    ):
        with pytest.raises(RpcTimeout):
            Queue("first").declare(channel=conn.default_channel)
        channel = conn.default_channel  # re-opened under another number
        declared = channel.queue_declare("second")
        assert declared == ("second", 0, 0)


def test_closing_a_connection_whose_broker_never_answers_is_bounded() -> None:
    def script(peer: PeerSession) -> None:
        peer.expect(CONNECTION_CLOSE)
        peer.idle(3)

    with ScriptedPeer(script) as peer:
        conn = Connection(peer.url, rpc_timeout=0.5, heartbeat=0)
        conn.connect()
        start = time.monotonic()
        conn.release()  # never raises
        assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -1, 0, True, "soon"], ids=repr
)
def test_rpc_timeout_must_be_a_finite_number_of_seconds(value: object) -> None:
    with pytest.raises(ConfigurationError, match="rpc_timeout"):
        Connection("memory://", rpc_timeout=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="rpc_timeout"):
        Connection("memory://", transport_options={"rpc_timeout": value})


def test_rpc_timeout_is_accepted_on_memory_and_kept_by_clone() -> None:
    conn = Connection("memory://", transport_options={"rpc_timeout": 5})
    assert conn.rpc_timeout == 5.0
    assert Connection("memory://", rpc_timeout="2.5").rpc_timeout == 2.5
    with conn.clone() as other:
        assert other.rpc_timeout == 5.0
        assert Queue("q").declare(channel=other.default_channel) == "q"
