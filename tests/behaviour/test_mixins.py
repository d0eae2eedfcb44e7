"""ConsumerMixin and ConsumerProducerMixin, on memory:// and on RabbitMQ.

Each worker runs in a thread with a deadline; every test counts what was
consumed and checks that nothing was lost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConsumerCancelled
from kombu_lite.message import Message
from kombu_lite.messaging.consumer import Consumer
from kombu_lite.mixins import ConsumerMixin, ConsumerProducerMixin

Cleanup = Callable[[Exchange | Queue], None]


class Worker(ConsumerMixin):
    """Acks every message, records its body, stops after ``stop_after``."""

    def __init__(
        self,
        connection: Connection,
        queue: Queue | str,
        *,
        stop_after: int | None = None,
        prefetch_count: int | None = None,
    ) -> None:
        self.connection = connection
        self.queue = queue
        self.stop_after = stop_after
        self.prefetch_count = prefetch_count
        self.bodies: list[Any] = []
        self.calls: list[str] = []
        self.cancels: list[str] = []
        self.consumed = threading.Event()
        self.reconnect_interval_start = 0
        self.reconnect_interval_step = 0.05
        self.reconnect_interval_max = 0.1

    def get_consumers(
        self,
        Consumer: Callable[..., Consumer],  # noqa: N803 - kombu's name
        channel: Channel,
    ) -> list[Consumer]:
        self.calls.append("get_consumers")
        return [
            Consumer(
                queues=[self.queue],
                callbacks=[self.on_body],
                prefetch_count=self.prefetch_count,
            )
        ]

    def on_body(self, body: Any, message: Message) -> None:
        self.bodies.append(body)
        message.ack()
        self.consumed.set()
        if self.stop_after is not None and len(self.bodies) >= self.stop_after:
            self.should_stop = True

    def on_cancel(self, consumer: Consumer, queue: Queue) -> None:
        self.cancels.append(queue.name)
        super().on_cancel(consumer, queue)


@contextlib.contextmanager
def running(
    worker: ConsumerMixin, limit: float = 20.0
) -> Iterator[list[BaseException]]:
    """Run ``worker`` in a thread; stop and join it on the way out."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        deadline = time.monotonic() + limit
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
        worker.should_stop = True
        thread.join(5)
        assert not thread.is_alive(), "the worker did not stop"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.fixture
def queue(unique: str, cleanup: Cleanup) -> Queue:
    q = Queue(f"klmix-{unique}", Exchange(""), routing_key=f"klmix-{unique}")
    cleanup(q)
    return q


def publish(connection: Connection, queue: Queue, bodies: list[Any]) -> None:
    producer = Producer(connection)
    for body in bodies:
        producer.publish(body, routing_key=queue.name, declare=[queue])


def test_a_worker_consumes_every_message_and_stops_on_should_stop(
    connection: Connection, url: str, queue: Queue
) -> None:
    publish(connection, queue, list(range(25)))
    worker = Worker(Connection(url), queue, stop_after=25)
    with running(worker) as errors:
        pass
    assert errors == []
    assert sorted(worker.bodies) == list(range(25))
    assert queue.bind(connection.default_channel).queue_declare(passive=True)[1] == 0


def test_should_stop_from_another_thread_stops_run_within_the_safety_interval(
    url: str, queue: Queue
) -> None:
    worker = Worker(Connection(url), queue)
    with running(worker, limit=0) as errors:
        wait_for(lambda: worker.calls == ["get_consumers"])
        time.sleep(0.2)
        started = time.monotonic()
        worker.should_stop = True
    assert time.monotonic() - started < 2.0
    assert errors == []


def test_consume_limit_bounds_the_steps(
    connection: Connection, url: str, queue: Queue
) -> None:
    publish(connection, queue, ["a", "b", "c"])
    worker = Worker(Connection(url), queue)
    events = list(worker.consume(limit=2, safety_interval=0.5))
    assert len(events) == 2
    assert worker.bodies == ["a", "b"]
    # Steps without an event count too: two steps on an empty queue end it.
    worker.bodies.clear()
    publish(connection, queue, [])
    events = list(worker.consume(limit=5, safety_interval=0.2))
    assert worker.bodies == ["c"]
    assert len(events) == 1


def test_consume_timeout_raises_timeout_error_by_its_deadline(
    url: str, queue: Queue
) -> None:
    worker = Worker(Connection(url), queue)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        for _ in worker.consume(timeout=0.3, safety_interval=5):
            pass
    assert 0.25 <= time.monotonic() - started < 2.0


def test_the_hooks_are_called_in_kombus_order(
    connection: Connection, url: str, queue: Queue
) -> None:
    calls: list[str] = []

    class Hooked(Worker):
        def on_connection_revived(self) -> None:
            calls.append("revived")

        def get_consumers(self, Consumer: Any, channel: Channel) -> list[Consumer]:  # noqa: N803
            calls.append("get_consumers")
            return super().get_consumers(Consumer, channel)

        @contextlib.contextmanager
        def extra_context(
            self, connection: Connection, channel: Channel
        ) -> Iterator[None]:
            calls.append("extra_context")
            yield
            calls.append("extra_context exit")

        def on_consume_ready(
            self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
        ) -> None:
            calls.append(f"ready {len(consumers)} {kwargs}")

        def on_iteration(self) -> None:
            if calls[-1] != "iteration":
                calls.append("iteration")

        def on_consume_end(self, connection: Any, channel: Any) -> None:
            calls.append("end")

    publish(connection, queue, ["x"])
    worker = Hooked(Connection(url), queue, stop_after=1)
    worker.run(extra="kw")
    assert calls == [
        "revived",
        "get_consumers",
        "extra_context",
        "ready 1 {'extra': 'kw'}",
        "iteration",
        "extra_context exit",
        "end",
    ]


def test_a_body_that_cannot_be_decoded_goes_to_on_decode_error_and_is_acked(
    connection: Connection,
    url: str,
    queue: Queue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = Producer(connection)
    producer.publish(
        b"{not json",
        routing_key=queue.name,
        declare=[queue],
        content_type="application/json",
        content_encoding="utf-8",
    )
    publish(connection, queue, ["good"])
    worker = Worker(Connection(url), queue, stop_after=1)
    with caplog.at_level("ERROR", "kombu_lite.mixins"):
        worker.run()
    assert worker.bodies == ["good"]
    assert "cannot decode message body" in caplog.text
    # Acked by the default handler: nothing left, nothing redelivered.
    assert queue.bind(connection.default_channel).queue_declare(passive=True)[1] == 0


def test_a_queue_deleted_under_a_running_worker_is_declared_and_consumed_again(
    connection: Connection, url: str, queue: Queue
) -> None:
    publish(connection, queue, ["before"])
    worker = Worker(Connection(url), queue, stop_after=2)
    with running(worker) as errors:
        assert worker.consumed.wait(10)
        queue.bind(connection.channel()).delete()
        wait_for(lambda: worker.cancels == [queue.name])
        # Declared again, with a consumer: a message sent now arrives.
        wait_for(
            lambda: queue.bind(connection.channel()).queue_declare(passive=True)[2] == 1
        )
        publish(connection, queue, ["after"])
    assert errors == []
    assert worker.bodies == ["before", "after"]
    assert worker.calls == ["get_consumers"]  # no reconnect was needed


def test_a_cancelled_queue_that_may_not_be_declared_stops_the_worker(
    connection: Connection, url: str, queue: Queue
) -> None:
    queue.bind(connection.default_channel).declare()
    worker = Worker(Connection(url), queue.name)  # a bare name: never declared
    with running(worker) as errors:
        wait_for(
            lambda: queue.bind(connection.channel()).queue_declare(passive=True)[2] == 1
        )
        queue.bind(connection.channel()).delete()
    assert len(errors) == 1
    assert isinstance(errors[0], ConsumerCancelled)
    assert errors[0].queue == queue.name
    assert "could not be consumed again" in str(errors[0])


class Replier(ConsumerProducerMixin):
    """Answers each request on ``reply_to`` through its producer."""

    def __init__(self, connection: Connection, queue: Queue) -> None:
        self.connection = connection
        self.queue = queue
        self.producer_connections: list[Connection] = []
        self.consuming: list[Connection] = []

    def get_consumers(self, Consumer: Any, channel: Channel) -> list[Consumer]:  # noqa: N803
        self.consuming.append(channel.connection)  # type: ignore[arg-type]
        return [Consumer(queues=[self.queue], on_message=self.on_request)]

    def on_request(self, message: Message) -> None:
        self.producer.publish(
            {"answer": message.decode()["n"] * 2},
            exchange="",
            routing_key=str(message.properties["reply_to"]),
        )
        self.producer_connections.append(self.producer_connection)
        message.ack()
        if len(self.producer_connections) == 3:
            self.should_stop = True


def test_consumer_producer_mixin_replies_on_its_own_connection_and_closes_it(
    connection: Connection, url: str, queue: Queue, unique: str, cleanup: Cleanup
) -> None:
    replies = Queue(
        f"klmix-{unique}-replies", Exchange(""), routing_key=f"klmix-{unique}-replies"
    )
    cleanup(replies)
    replies.bind(connection.default_channel).declare()
    producer = Producer(connection)
    for n in range(3):
        producer.publish(
            {"n": n}, routing_key=queue.name, declare=[queue], reply_to=replies.name
        )
    worker = Replier(Connection(url), queue)
    with running(worker) as errors:
        pass
    assert errors == []
    used = worker.producer_connections
    assert len({id(conn) for conn in used}) == 1
    assert used[0] is not worker.consuming[0]
    assert not used[0].connected  # closed by on_consume_end
    got = []
    with connection.channel() as channel:
        while (message := replies.bind(channel).get(no_ack=True)) is not None:
            got.append(message.decode()["answer"])
    assert sorted(got) == [0, 2, 4]
