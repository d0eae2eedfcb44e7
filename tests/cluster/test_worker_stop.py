"""Long-running workers (``kombu_lite.mixins``) on a cluster whose nodes stop.

A :class:`~kombu_lite.mixins.ConsumerMixin` worker runs in a thread
(``run()``, stopped with ``should_stop``) on a quorum queue, through a
failover list over the three nodes, with a prefetch count and manual acks,
while a producer on another node publishes messages each with a unique
``message_id``.  A node is stopped (``stop_app``) mid-stream and started
again: the worker's own node (it reconnects elsewhere), or the queue's
leader (the worker is on it, or on a follower that keeps consuming).  The
worker must consume every message; a message may come twice only when its
first delivery was on a connection or a subscription that then died (its
ack may never have reached the broker), and the second delivery must carry
``redelivered=True``.

A :class:`~kombu_lite.mixins.ConsumerProducerMixin` worker answers requests
on its producer connection while its node stops: every request gets its
reply at least once.

A worker whose callback outlasts the ``consumer_timeout`` (lowered to 2 s
on kl1 for the test) loses its channel, not its connection (RabbitMQ 3.10
repeats the channel.close; answering each would close the connection),
reconnects, and gets the message again with ``redelivered=True``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Message, Queue
from kombu_lite.mixins import ConsumerMixin, ConsumerProducerMixin

from .harness import (
    Progress,
    Record,
    delete_queues,
    failover_url,
    leader_of,
    load_thread,
    quorum_queue,
    report,
    stop_under_load,
    take_all,
)
from .nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.cluster]

COUNT = 2000
ACCEPT = ["application/data"]
#: A little work per message, so the stream outlasts the stop.
WORK_SECONDS = 0.002

#: The producer's retries (a leader election can delay or fail a confirm).
RETRY_POLICY: dict[str, Any] = {
    "max_retries": 20,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "timeout": 20,
}


@dataclass(frozen=True)
class Delivery:
    """One message as a worker's callback got it."""

    message_id: str
    redelivered: bool
    #: Which connection or subscription it came on (counts revives and cancels).
    episode: int


class Reconnects(logging.Handler):
    """Counts the mixin's WARNING lines about reconnecting, and marks the load."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.WARNING)
        self.progress = progress
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "reconnecting" in message:
            self.lines.append(message)
            self.progress.failed()


@contextlib.contextmanager
def counting_reconnects(progress: Progress) -> Iterator[Reconnects]:
    handler = Reconnects(progress)
    logger = logging.getLogger("kombu_lite.mixins")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class Worker(ConsumerMixin):
    """Consumes ``queue``, records each delivery, acks it."""

    # Reconnect at once, then by short steps: the test's time is bounded.
    reconnect_interval_start = 0
    reconnect_interval_step = 0.2
    reconnect_interval_max = 0.5
    connect_max_retries = 40

    def __init__(
        self,
        url: str,
        queue: Queue,
        progress: Progress,
        *,
        confirm_publish: bool = False,
    ) -> None:
        self.connection = Connection(
            url, heartbeat=0, connect_timeout=5, confirm_publish=confirm_publish
        )
        self.queue = queue
        self.progress = progress
        self.deliveries: list[Delivery] = []
        self.revived = 0
        self.revived_at: list[float] = []
        self.cancels = 0
        self.hosts: list[int] = []
        self._seen: set[str] = set()

    @property
    def episode(self) -> int:
        return self.revived + self.cancels

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Consumer]:  # noqa: N803
        return [
            Consumer(
                queues=[self.queue],
                callbacks=[self.on_message],
                prefetch_count=50,
                accept=ACCEPT,
            )
        ]

    def on_connection_revived(self) -> None:
        self.revived += 1
        self.revived_at.append(time.monotonic())

    def on_consume_ready(
        self, connection: Connection, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        port = connection.port
        assert port is not None
        self.hosts.append(port)

    def on_cancel(self, consumer: Consumer, queue: Queue) -> None:
        self.cancels += 1
        self.progress.failed()
        super().on_cancel(consumer, queue)

    def on_message(self, body: bytes, message: Message) -> None:
        message_id = str(message.properties["message_id"])
        self.deliveries.append(Delivery(message_id, message.redelivered, self.episode))
        self.handle(body, message)
        message.ack()
        if message_id not in self._seen:
            self._seen.add(message_id)
            self.progress.succeeded()

    def handle(self, body: bytes, message: Message) -> None:
        time.sleep(WORK_SECONDS)


@contextlib.contextmanager
def running(worker: ConsumerMixin) -> Iterator[None]:
    """Run ``worker.run()`` in a thread; on the way out stop and join it."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:  # noqa: BLE001 - raised by the main thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        worker.should_stop = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "the worker did not stop within 15 s"
    if errors:
        raise errors[0]


def declare_on(node: PrivateNode, *queues: Queue) -> None:
    """Declare ``queues`` through ``node`` (a quorum queue's leader is there)."""
    with Connection(node.url) as conn:
        for queue in queues:
            queue.declare(channel=conn.default_channel)


def publish_requests(
    node: PrivateNode,
    routing_key: str,
    prefix: str,
    count: int,
    finish: threading.Event,
    **properties: Any,
) -> list[str]:
    """Publish ``count`` confirmed messages ``prefix-N`` through ``node``."""
    published: list[str] = []
    with Connection(node.url, confirm_publish=True) as conn:
        producer = conn.Producer()
        for number in range(count):
            if finish.is_set():
                break
            message_id = f"{prefix}-{number}"
            producer.publish(
                message_id.encode(),
                serializer="raw",
                routing_key=routing_key,
                message_id=message_id,
                retry=True,
                retry_policy=RETRY_POLICY,
                **properties,
            )
            published.append(message_id)
    return published


@contextlib.contextmanager
def producing(
    node: PrivateNode, queue_name: str, **properties: Any
) -> Iterator[list[str]]:
    """Publish COUNT messages through ``node`` in a thread, for the block."""
    published: list[str] = []

    def publish(progress: Progress, finish: threading.Event) -> None:
        published.extend(
            publish_requests(node, queue_name, queue_name, COUNT, finish, **properties)
        )

    with load_thread(publish, "producer"):
        yield published


def assess(worker: Worker, published: list[str]) -> dict[str, int]:
    """Lost and duplicate counts; fail on a duplicate the stop cannot explain."""
    counts = Counter(delivery.message_id for delivery in worker.deliveries)
    first: dict[str, Delivery] = {}
    duplicates = 0
    for delivery in worker.deliveries:
        earlier = first.setdefault(delivery.message_id, delivery)
        if earlier is delivery:
            continue
        duplicates += 1
        assert delivery.redelivered, f"{delivery} came again without redelivered"
        # Acked on a connection or subscription that died: that ack may be lost.
        assert earlier.episode < delivery.episode, (
            f"{delivery} came twice on the same connection"
        )
    return {
        "messages": len(published),
        "lost": len(set(published) - set(counts)),
        "unexpected": len(set(counts) - set(published)),
        "duplicates": duplicates,
    }


def run_stop_test(
    cluster: list[PrivateNode],
    queue_name: str,
    hosts: list[PrivateNode],
    stop: PrivateNode,
    producer_node: PrivateNode,
    record_property: Record,
) -> Worker:
    queue = quorum_queue(queue_name)
    progress = Progress()
    worker = Worker(failover_url(hosts), queue, progress)
    with counting_reconnects(progress) as reconnects:
        with running(worker), producing(producer_node, queue_name) as published:
            stop_under_load(stop, progress, 500, 500, 200, total=COUNT)
            progress.wait_for(COUNT, timeout=20)
        figures = assess(worker, published)
    report(
        record_property,
        **figures,
        stops=1,
        **timings(progress, worker),
        reconnects=len(reconnects.lines),
        revives=worker.revived,
        cancels=worker.cancels,
        redelivered=sum(1 for d in worker.deliveries if d.redelivered),
        hosts="->".join(str(port) for port in worker.hosts),
    )
    assert len(published) == COUNT
    assert figures["lost"] == 0
    assert figures["unexpected"] == 0
    return worker


def timings(progress: Progress, worker: Worker) -> dict[str, float | None]:
    """Seconds from the stop until it was noticed, and until the reconnect."""
    stop_at = progress.stop_at
    assert stop_at is not None
    noticed = progress.first_failure
    revived = [at for at in worker.revived_at if at > stop_at]
    return {
        "noticed_seconds": None if noticed is None else round(noticed - stop_at, 3),
        "revived_seconds": round(revived[0] - stop_at, 3) if revived else None,
        "resume_seconds": progress.resume_seconds,
    }


def leader_node(cluster: list[PrivateNode], queue_name: str) -> PrivateNode:
    name = leader_of(cluster[0], queue_name)
    return next(node for node in cluster if node.name == name)


def test_a_worker_moves_to_another_node_when_its_node_stops(
    cluster: list[PrivateNode], queue_name: str, record_property: Record
) -> None:
    declare_on(cluster[1], quorum_queue(queue_name))
    leader = leader_node(cluster, queue_name)
    # The worker's node is not the leader's: only the connection dies.
    own, other = (node for node in cluster if node is not leader)
    worker = run_stop_test(
        cluster, queue_name, [own, other, leader], own, leader, record_property
    )
    assert worker.revived >= 2, "the worker never reconnected"
    assert worker.hosts[0] == own.port
    assert worker.hosts[-1] != own.port


@pytest.mark.parametrize("connected_to", ["leader", "follower"])
def test_a_worker_resumes_when_the_queue_leader_moves(
    cluster: list[PrivateNode],
    queue_name: str,
    connected_to: str,
    record_property: Record,
) -> None:
    declare_on(cluster[0], quorum_queue(queue_name))
    leader = leader_node(cluster, queue_name)
    others = [node for node in cluster if node is not leader]
    hosts = [leader, *others] if connected_to == "leader" else others
    worker = run_stop_test(
        cluster, queue_name, hosts, leader, others[-1], record_property
    )
    new_leader = leader_of(others[0], queue_name)
    record_property("report:new_leader", new_leader)
    if connected_to == "leader":
        assert worker.revived + worker.cancels >= 2, "the stop went unnoticed"


class Responder(ConsumerProducerMixin, Worker):
    """Answers each request on its producer connection, then acks it.

    Built with ``confirm_publish=True``: the reply's publish returns once
    the broker has stored it, so the request's ack always follows a stored
    reply.  Unconfirmed, a reply written just before the node stopped can
    die with the node after its request's ack got through (one run in
    about eight lost one that way).
    """

    replies: int = 0
    publish_retries: int = 0

    def _retrying(self, exc: BaseException, interval: float) -> None:
        self.publish_retries += 1

    def handle(self, body: bytes, message: Message) -> None:
        self.producer.publish(
            b"re:" + body,
            serializer="raw",
            routing_key=str(message.properties["reply_to"]),
            correlation_id=message.properties["message_id"],
            retry=True,
            retry_policy={**RETRY_POLICY, "errback": self._retrying},
        )
        self.replies += 1


def test_a_consumer_producer_worker_answers_every_request_across_its_node_stop(
    cluster: list[PrivateNode], queue_name: str, record_property: Record
) -> None:
    replies_name = f"{queue_name}-replies"
    requests, replies = quorum_queue(queue_name), quorum_queue(replies_name)
    try:
        declare_on(cluster[1], requests, replies)
        leader = leader_node(cluster, queue_name)
        own, other = (node for node in cluster if node is not leader)
        progress = Progress()
        worker = Responder(
            failover_url([own, other, leader]), requests, progress, confirm_publish=True
        )
        with counting_reconnects(progress) as reconnects:
            with (
                running(worker),
                producing(leader, queue_name, reply_to=replies_name) as published,
            ):
                stop_under_load(own, progress, 500, 500, 200, total=COUNT)
                progress.wait_for(COUNT, timeout=20)
            figures = assess(worker, published)
        answered = Counter(
            message.properties.get("correlation_id")
            for message in take_all(leader, replies_name, ACCEPT)
        )
        unanswered = set(published) - set(answered)
        report(
            record_property,
            requests=figures["messages"],
            stops=1,
            lost=figures["lost"],
            duplicates=figures["duplicates"],
            replies=sum(answered.values()),
            unanswered=len(unanswered),
            duplicate_replies=sum(n - 1 for n in answered.values()),
            publish_retries=worker.publish_retries,
            **timings(progress, worker),
            reconnects=len(reconnects.lines),
            revives=worker.revived,
            redelivered=sum(1 for d in worker.deliveries if d.redelivered),
            hosts="->".join(str(port) for port in worker.hosts),
        )
        assert len(published) == COUNT
        assert figures["lost"] == 0
        assert not unanswered, f"requests without a reply: {sorted(unanswered)[:10]}"
        assert worker.revived >= 2, "the worker never reconnected"
    finally:
        delete_queues(cluster, [replies_name])


@contextlib.contextmanager
def app_env(node: PrivateNode, **settings: int) -> Iterator[None]:
    """Set ``rabbit`` application settings on ``node``; restore them afterwards.

    Channels opened meanwhile take the new values; the old ones come back
    on the way out, even when the block raised.
    """
    saved: dict[str, str] = {}
    for key in settings:
        current = node.ctl("eval", f"application:get_env(rabbit, {key}).").strip()
        assert current.startswith("{ok,"), f"{key}: {current}"
        saved[key] = current.removeprefix("{ok,").removesuffix("}")
    try:
        for key, new in settings.items():
            node.ctl("eval", f"application:set_env(rabbit, {key}, {new}).")
        yield
    finally:
        for key, old in saved.items():
            node.ctl("eval", f"application:set_env(rabbit, {key}, {old}).")


class Stuck(Worker):
    """Takes longer than the consumer_timeout over one message, the first time."""

    STUCK_ID = ""

    def handle(self, body: bytes, message: Message) -> None:
        if message.properties["message_id"] == self.STUCK_ID and self.revived == 1:
            self.progress.stopping()  # the timeout's clock: resume is measured
            time.sleep(4)  # the broker closes the channel meanwhile
        else:
            super().handle(body, message)


def test_a_worker_recovers_from_a_consumer_timeout(
    cluster: list[PrivateNode], queue_name: str, record_property: Record
) -> None:
    kl1 = cluster[0]
    count = 200
    queue = quorum_queue(queue_name)
    declare_on(kl1, queue)
    progress = Progress()
    worker = Stuck(failover_url(cluster), queue, progress)
    worker.STUCK_ID = f"{queue_name}-50"
    finish = threading.Event()
    # Channels of kl1 check their consumers' unacked messages each second.
    with (
        app_env(kl1, consumer_timeout=2000, channel_tick_interval=1000),
        counting_reconnects(progress) as reconnects,
    ):
        published = publish_requests(kl1, queue_name, queue_name, count, finish)
        with running(worker):
            progress.wait_for(count, timeout=20)
    figures = assess(worker, published)
    # "failed (ChannelClosed: the broker closed channel 1 ...); reconnecting"
    reasons = [line.split(" failed (", 1)[1].split(":")[0] for line in reconnects.lines]
    report(
        record_property,
        **figures,
        timeouts=1,
        resume_seconds=progress.resume_seconds,
        reconnects=len(reconnects.lines),
        revives=worker.revived,
        redelivered=sum(1 for d in worker.deliveries if d.redelivered),
        reasons=", ".join(reasons),
    )
    assert figures["lost"] == 0
    assert worker.revived == 2, "the channel close did not make the worker reconnect"
    # Only the channel was closed: the connection outlived the timeout.
    assert reasons == ["ChannelClosed"]
    stuck = [d for d in worker.deliveries if d.message_id == worker.STUCK_ID]
    assert [d.redelivered for d in stuck] == [False, True]
