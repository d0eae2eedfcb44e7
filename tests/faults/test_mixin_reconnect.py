"""A ConsumerMixin worker across failures: lost connections, broker stops,
cuts, dead failover hosts and a consumer_timeout channel close.

Each test counts what the worker consumed: every message arrives, and the
only duplicates are messages delivered but not acked when the failure came,
redelivered by the broker with ``redelivered=True``.  Nothing here touches
the broker on 5672 itself: its connections are cut in the fault proxy.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import amqp
import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConnectionLost, OperationalError
from kombu_lite.message import Message
from kombu_lite.messaging.consumer import Consumer
from kombu_lite.mixins import ConsumerMixin
from kombu_lite.transport.memory import default_broker
from tests.behaviour.test_mixins import running, wait_for
from tests.scripted_peer import (
    BASIC_ACK,
    BASIC_CONSUME,
    BASIC_CONSUME_OK,
    CHANNEL_CLOSE,
    CHANNEL_CLOSE_OK,
    QUEUE_DECLARE,
    QUEUE_DECLARE_OK,
    PeerSession,
    ScriptedPeer,
)

from .proxy import FaultProxy


class Recorder(ConsumerMixin):
    """Records ``(body, redelivered)`` per connection; acks unless holding.

    ``on_message(worker, message)``, when set, runs first and may return
    True to leave the message unacked.
    """

    def __init__(
        self,
        connection: Connection,
        queue: Queue,
        *,
        total: int,
        prefetch_count: int | None = None,
        on_message: Callable[[Recorder, Message], bool] | None = None,
    ) -> None:
        self.connection = connection
        self.queue = queue
        self.total = total
        self.prefetch_count = prefetch_count
        self.hook = on_message
        self.generation = 0
        self.seen: list[tuple[Any, bool, int]] = []
        self.acked: set[Any] = set()
        self.errors_seen: list[tuple[str, float]] = []
        self.reconnect_interval_start = 0.05
        self.reconnect_interval_step = 0.05
        self.reconnect_interval_max = 0.2

    def reconnect_jitter(self, interval: float) -> float:
        return interval  # the tests want exact sleeps

    def on_connection_revived(self) -> None:
        self.generation += 1

    def on_connection_error(self, exc: BaseException, interval: float) -> None:
        self.errors_seen.append((type(exc).__name__, interval))
        super().on_connection_error(exc, interval)

    def get_consumers(self, Consumer: Any, channel: Channel) -> list[Consumer]:  # noqa: N803
        return [
            Consumer(
                queues=[self.queue],
                on_message=self.on_message,
                prefetch_count=self.prefetch_count,
            )
        ]

    def on_message(self, message: Message) -> None:
        body = message.decode()
        self.seen.append(
            (body, bool(message.delivery_info["redelivered"]), self.generation)
        )
        if self.hook is not None and self.hook(self, message):
            return
        message.ack()
        self.acked.add(body)
        if len(self.acked) >= self.total:
            self.should_stop = True


def check_no_loss(worker: Recorder, total: int) -> None:
    """Every body acked once; a body seen twice was redelivered the 2nd time."""
    assert worker.acked == set(range(total))
    firsts: set[Any] = set()
    for body, redelivered, _ in worker.seen:
        if body in firsts:
            assert redelivered, f"{body} came twice without redelivered=True"
        firsts.add(body)


def publish(connection: Connection, queue: Queue, total: int, **kwargs: Any) -> None:
    producer = Producer(connection)
    for n in range(total):
        producer.publish(n, routing_key=queue.name, declare=[queue], **kwargs)


# -- memory:// -----------------------------------------------------------------


@pytest.fixture
def memory_queue(unique: str) -> Queue:
    name = f"klmix-{unique}"
    return Queue(name, Exchange(""), routing_key=name, durable=True)


def test_a_forced_close_reconnects_keeps_prefetch_and_redelivers_the_unacked(
    memory_queue: Queue,
) -> None:
    total = 30
    held: list[Message] = []
    hold = threading.Event()

    def on_message(worker: Recorder, message: Message) -> bool:
        if worker.generation == 1 and len(worker.seen) == 5:
            default_broker().close_all_connections()
            return True  # the 5th stays unacked: redelivered later
        if hold.is_set() and worker.generation == 2:
            held.append(message)
            return True
        return False

    with Connection("memory://") as conn:
        publish(conn, memory_queue, total)
    worker = Recorder(
        Connection("memory://"),
        memory_queue,
        total=total,
        prefetch_count=2,
        on_message=on_message,
    )
    hold.set()
    with running(worker) as errors:
        wait_for(lambda: worker.generation == 2 and len(held) == 2)
        time.sleep(0.3)
        # prefetch_count=2 was applied again: two in flight, no more.
        info = {q.name: q for q in default_broker().queues()}[memory_queue.name]
        assert info.messages_unacknowledged == 2
        assert len(held) == 2
        hold.clear()
        for message in held:
            message.ack()
            worker.acked.add(message.decode())
    assert errors == []
    check_no_loss(worker, total)
    redelivered = [body for body, again, gen in worker.seen if again]
    assert 4 in redelivered  # the 5th message (body 4) came back
    assert all(gen == 2 for _, again, gen in worker.seen if again)


def test_a_stopped_broker_is_waited_for_with_backoff_and_consuming_resumes(
    memory_queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    total = 20
    broker = default_broker()

    def on_message(worker: Recorder, message: Message) -> bool:
        if worker.generation == 1 and len(worker.seen) == 8:
            broker.stop()
            # Back after the first restart (one a second) has failed.
            threading.Timer(1.5, broker.start).start()
            return True
        return False

    with Connection("memory://") as conn:
        publish(conn, memory_queue, total, delivery_mode=2)  # survive the stop
    worker = Recorder(
        Connection("memory://"), memory_queue, total=total, on_message=on_message
    )
    with caplog.at_level("WARNING", "kombu_lite.mixins"), running(worker) as errors:
        pass
    assert errors == []
    check_no_loss(worker, total)
    assert worker.generation == 2
    # While the broker was down: sleeps by the backoff, capped at its max.
    intervals = [interval for _, interval in worker.errors_seen]
    assert intervals
    assert intervals[:3] == pytest.approx([0.05, 0.1, 0.15][: len(intervals[:3])])
    assert max(intervals) <= 0.2
    assert "consuming from memory:// failed (ConnectionLost" in caplog.text
    assert "cannot connect to memory://" in caplog.text


def test_connect_max_retries_running_out_stops_run_with_the_error(
    memory_queue: Queue,
) -> None:
    default_broker().stop()
    worker = Recorder(Connection("memory://"), memory_queue, total=1)
    worker.connect_max_retries = 2
    started = time.monotonic()
    with pytest.raises(OperationalError):
        worker.run()
    assert len(worker.errors_seen) == 2
    assert time.monotonic() - started < 5


def test_should_stop_ends_run_while_it_waits_for_a_stopped_broker(
    memory_queue: Queue,
) -> None:
    default_broker().stop()
    worker = Recorder(Connection("memory://"), memory_queue, total=1)
    worker.reconnect_interval_start = worker.reconnect_interval_max = 30
    with running(worker, limit=0.5) as errors:
        wait_for(lambda: len(worker.errors_seen) == 1)
        started = time.monotonic()
    assert time.monotonic() - started < 3.0
    assert errors == []


def test_heartbeat_check_raises_only_on_a_dead_connection() -> None:
    conn = Connection("memory://")
    conn.heartbeat_check()  # never connected: nothing to check, no connect
    assert not conn.connected
    conn.connect()
    conn.heartbeat_check(rate=2)
    default_broker().close_all_connections()
    with pytest.raises(ConnectionLost):
        conn.drain_events(timeout=0)  # as a socket, found broken on use
    with pytest.raises(ConnectionLost):
        conn.heartbeat_check()
    conn.release()


# -- RabbitMQ through the fault proxy ------------------------------------------


@pytest.fixture
def amqp_queue(unique: str, admin: amqp.Channel) -> Iterator[Queue]:
    name = f"klmix-{unique}"
    yield Queue(name, Exchange(""), routing_key=name, durable=False)
    admin.queue_delete(name)


@pytest.mark.broker
def test_a_cut_connection_reconnects_and_nothing_is_lost(
    proxy: FaultProxy,
    rabbitmq: str,
    amqp_queue: Queue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    total = 40

    def on_message(worker: Recorder, message: Message) -> bool:
        if worker.generation == 1 and len(worker.seen) == 10:
            proxy.cut()
            return True
        return False

    with Connection(rabbitmq) as conn:
        publish(conn, amqp_queue, total)
    worker = Recorder(
        Connection(proxy.url, heartbeat=0),
        amqp_queue,
        total=total,
        prefetch_count=5,
        on_message=on_message,
    )
    with caplog.at_level("WARNING", "kombu_lite.mixins"), running(worker) as errors:
        pass
    assert errors == []
    check_no_loss(worker, total)
    assert worker.generation == 2
    assert any(again and body == 9 for body, again, _ in worker.seen)
    lost = [r.getMessage() for r in caplog.records if "reconnecting" in r.getMessage()]
    assert len(lost) == 1
    assert f"guest:**@127.0.0.1:{proxy.port}" in lost[0]
    assert "guest:guest" not in caplog.text


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.broker
def test_a_worker_given_a_failover_list_skips_a_dead_host(
    proxy: FaultProxy, rabbitmq: str, amqp_queue: Queue
) -> None:
    total = 10

    def on_message(worker: Recorder, message: Message) -> bool:
        if worker.generation == 1 and len(worker.seen) == 3:
            proxy.cut()
            return True
        return False

    with Connection(rabbitmq) as conn:
        publish(conn, amqp_queue, total)
    dead = f"amqp://guest:guest@127.0.0.1:{_dead_port()}//"
    worker = Recorder(
        Connection([dead, proxy.url], heartbeat=0),
        amqp_queue,
        total=total,
        on_message=on_message,
    )
    with running(worker) as errors:
        pass
    assert errors == []
    check_no_loss(worker, total)
    assert worker.generation == 2
    assert worker.errors_seen == []  # the dead host never cost a retry


# -- a consumer_timeout, played by the scripted peer -----------------------------

BASIC_CANCEL = (60, 30)
BASIC_CANCEL_OK = (60, 31)
CONSUMER_TIMEOUT = (
    "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. "
    "Timeout value used: 1800000 ms. This timeout value can be configured, see "
    "consumers doc guide to learn more"
)


def test_a_consumer_timeout_channel_close_is_recovered() -> None:
    acked: list[int] = []

    def script(peer: PeerSession) -> None:
        first = len(peer._peer.sessions) == 1
        peer.expect(QUEUE_DECLARE)
        peer.send_method(1, QUEUE_DECLARE_OK, "sll", ("klmix-q", 1, 0))
        tag = peer.expect(BASIC_CONSUME).arguments("Bss")[2]  # named by the client
        peer.send_method(1, BASIC_CONSUME_OK, "s", (tag,))
        peer.send_message(
            1,
            (60, 60),
            "sLbss",
            (tag, 1, not first, "", "klmix-q"),
            b"7",
            {"content_type": "application/json", "content_encoding": "utf-8"},
        )
        if first:
            # The worker did not ack in time: RabbitMQ closes the channel.
            peer.idle(0.5)
            peer.send_method(1, CHANNEL_CLOSE, "BsBB", (406, CONSUMER_TIMEOUT, 0, 0))
            peer.expect(CHANNEL_CLOSE_OK)
        else:
            frame = peer.expect(BASIC_ACK)
            acked.append(frame.arguments("Lb")[0])
            # The worker stops: it cancels its consumer, then hangs up.
            cancel = peer.expect(BASIC_CANCEL)
            peer.send_method(1, BASIC_CANCEL_OK, "s", (cancel.arguments("sb")[0],))
        peer.answer_until_closed(10)

    class Slow(Recorder):
        def on_message(self, message: Message) -> None:
            if self.generation == 1:
                self.seen.append((message.decode(), False, 1))
                return  # never acked: the broker's consumer_timeout fires
            super().on_message(message)

    with ScriptedPeer(script) as peer:
        worker = Slow(
            Connection(peer.url, heartbeat=0),
            Queue("klmix-q", durable=False),
            total=1,
        )
        with running(worker) as errors:
            pass
    assert errors == []
    assert worker.generation == 2
    assert worker.seen == [(7, False, 1), (7, True, 2)]
    assert acked == [1]


def test_maybe_conn_error_swallows_connection_and_channel_errors_only(
    memory_queue: Queue,
) -> None:
    worker = Recorder(Connection("memory://"), memory_queue, total=1)

    def lost() -> None:
        raise ConnectionLost("gone")

    assert worker.maybe_conn_error(lost) is None
    assert worker.maybe_conn_error(lambda: 5) == 5
    with pytest.raises(ZeroDivisionError):
        worker.maybe_conn_error(lambda: 1 // 0)


def test_the_default_jitter_sleeps_half_to_all_of_the_backoff() -> None:
    sleeps = [ConsumerMixin.reconnect_jitter(ConsumerMixin(), 2.0) for _ in range(200)]
    assert all(1.0 <= sleep <= 2.0 for sleep in sleeps)
    assert len(set(sleeps)) > 1


def test_a_failure_after_should_stop_ends_run_without_reconnecting(
    memory_queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    def on_message(worker: Recorder, message: Message) -> bool:
        worker.should_stop = True
        default_broker().close_all_connections()
        message.ack()  # raises ConnectionLost: the worker is stopping anyway
        return True

    with Connection("memory://") as conn:
        publish(conn, memory_queue, 1)
    worker = Recorder(
        Connection("memory://"), memory_queue, total=1, on_message=on_message
    )
    with caplog.at_level("WARNING", "kombu_lite.mixins"):
        worker.run()
    assert worker.generation == 1
    assert "reconnecting" not in caplog.text
