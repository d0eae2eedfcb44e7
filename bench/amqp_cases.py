"""Cases measured against RabbitMQ on 127.0.0.1:5672.

Each function opens its own connection and queue, times only the section's
work, then deletes the queue and closes.  Unconfirmed publishes end their
timing with one synchronous call on the same channel (a passive
``queue.declare``): the broker handles a channel's frames in order, so the
clock stops once the broker has taken every message, not when the last
bytes reached the kernel's buffer.

Every peer publishes persistent messages (delivery mode 2) to a durable
queue, as kombu_lite's and kombu's defaults do: with confirms, RabbitMQ
acks those only once they are on disk, for every peer alike.  The
unconfirmed publish cases also run with transient messages to a
non-durable queue (``persistent=False``), where the broker's own ceiling
is several times higher, so the figure shows what the client costs rather
than what the broker's message store takes.  They report the client's CPU
time per message too (``time.process_time`` over the timed part).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness import Metrics

HOST = "127.0.0.1"
PORT = 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}//"

#: The message body: a JSON object of about 150 bytes once encoded.
BODY = {
    "id": "3b0c5e52-6f6c-4d0c-9d2e-6f1f3c0f8a11",
    "task": "orders.process",
    "args": [12345, "express"],
    "kwargs": {"priority": 5, "retries": 0, "eta": None},
    "origin": "web-1",
}
#: Batch size of the captured-frames ceiling.
CEILING_BATCH = 1000


#: Every queue name handed out in this process, for :func:`drop_leftovers`.
NAMES: list[str] = []


def _name() -> str:
    NAMES.append(f"bench-{uuid.uuid4().hex[:10]}")
    return NAMES[-1]


def drop_leftovers() -> int:
    """Delete, on a fresh connection, any queue of this run still there.

    A case cleans up in its own ``finally``, on its own connection; when
    that connection was lost (a broker close under load), this is the net.
    Returns how many queues it found and deleted.
    """
    import amqp

    dropped = 0
    conn = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    conn.connect()
    try:
        for name in NAMES:
            channel = conn.channel()
            try:
                channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:
                continue
            channel.queue_delete(name)
            channel.close()
            dropped += 1
    finally:
        conn.close()
    return dropped


def _rate(count: int, seconds: float) -> Metrics:
    return {"msg/s": count / seconds}


class _Clock:
    """Wall time and this process's CPU time over a ``with`` block."""

    wall = 0.0
    cpu = 0.0

    def __enter__(self) -> _Clock:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def publish_metrics(self, count: int) -> Metrics:
        return {
            "msg/s": count / self.wall,
            "client CPU us/msg": self.cpu / count * 1e6,
        }


def _mode(persistent: bool) -> int:
    return 2 if persistent else 1


# -- raw py-amqp -----------------------------------------------------------------------


def _amqp_channel() -> tuple[Any, Any]:
    import amqp

    conn = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    conn.connect()
    return conn, conn.channel()


def _amqp_message(persistent: bool = True) -> Any:
    import amqp

    return amqp.Message(
        json.dumps(BODY),
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=_mode(persistent),
    )


def raw_publish(count: int, persistent: bool = True) -> Metrics:
    """py-amqp ``basic_publish`` of a freshly encoded message."""
    import amqp

    conn, channel = _amqp_channel()
    name = _name()
    mode = _mode(persistent)
    channel.queue_declare(name, durable=persistent, auto_delete=False)
    try:
        publish = channel.basic_publish
        with _Clock() as clock:
            for _ in range(count):
                message = amqp.Message(
                    json.dumps(BODY),
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=mode,
                )
                publish(message, exchange="", routing_key=name)
            channel.queue_declare(name, passive=True)
    finally:
        channel.queue_delete(name)
        conn.close()
    return clock.publish_metrics(count)


def captured_publish(conn: Any, channel: Any, queue: str, persistent: bool) -> bytes:
    """The bytes py-amqp writes for one publish of the bench's message.

    The same body, properties and delivery mode as every peer sends, so a
    ceiling built from them measures the same messages.
    """
    from amqp import spec
    from amqp.method_framing import frame_writer
    from amqp.serialization import dumps

    class Sink:
        frame_max = conn.frame_max
        bytes_sent = 0
        data = b""

        def write(self, data: bytes | memoryview) -> None:
            self.data += bytes(data)

    sink = Sink()
    args = dumps("Bssbb", (0, "", queue, False, False))
    message = _amqp_message(persistent)
    frame_writer(sink, sink)(1, channel.channel_id, spec.Basic.Publish, args, message)
    return sink.data


def wire_ceiling(count: int, persistent: bool = True) -> Metrics:
    """The bytes of one py-amqp publish, captured, written in big batches.

    Same message count, queue (durable or not) and delivery mode as the
    section's other peers.
    """
    conn, channel = _amqp_channel()
    name = _name()
    channel.queue_declare(name, durable=persistent, auto_delete=False)
    frame = captured_publish(conn, channel, name, persistent)
    batch = frame * CEILING_BATCH
    write = conn.transport.write
    batches, rest = divmod(count, CEILING_BATCH)
    try:
        with _Clock() as clock:
            for _ in range(batches):
                write(batch)
            if rest:
                write(frame * rest)
            channel.queue_declare(name, passive=True)
    finally:
        channel.queue_delete(name)
        conn.close()
    return clock.publish_metrics(count)


def raw_confirm_each(count: int) -> Metrics:
    """py-amqp ``basic_publish_confirm``: each message waits for its ack."""
    conn, channel = _amqp_channel()
    name = _name()
    channel.queue_declare(name, durable=True, auto_delete=False)
    try:
        publish = channel.basic_publish_confirm
        started = time.perf_counter()
        for _ in range(count):
            publish(_amqp_message(), exchange="", routing_key=name)
        elapsed = time.perf_counter() - started
    finally:
        channel.queue_delete(name)
        conn.close()
    return _rate(count, elapsed)


def raw_pipelined(count: int) -> Metrics:
    """py-amqp by hand: publish everything, then read acks until all came."""
    conn, channel = _amqp_channel()
    name = _name()
    channel.queue_declare(name, durable=True, auto_delete=False)
    channel.confirm_select()
    acked = [0]

    def on_ack(delivery_tag: int, multiple: bool) -> None:
        acked[0] = delivery_tag

    channel.events["basic_ack"].add(on_ack)
    try:
        publish = channel.basic_publish
        started = time.perf_counter()
        for _ in range(count):
            publish(_amqp_message(), exchange="", routing_key=name)
        while acked[0] < count:
            conn.drain_events(timeout=10)
        elapsed = time.perf_counter() - started
    finally:
        channel.queue_delete(name)
        conn.close()
    return _rate(count, elapsed)


def _fill(name: str, count: int) -> None:
    """Put ``count`` JSON messages in queue ``name`` (not timed)."""
    from kombu_lite import Connection

    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=name)
        for _ in range(count):
            producer.publish(BODY)
        channel = conn.default_channel
        while channel.queue_declare(name, passive=True).message_count < count:
            time.sleep(0.01)


# -- kombu_lite ------------------------------------------------------------------------


def kombu_lite_publish(count: int, persistent: bool = True) -> Metrics:
    """``Producer.publish(body, declare=[queue])``, json, no confirms."""
    from kombu_lite import Connection, Queue

    queue = Queue(_name(), durable=persistent)
    mode = _mode(persistent)
    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue], delivery_mode=mode)
        publish = producer.publish
        wire = conn.default_channel
        try:
            with _Clock() as clock:
                for _ in range(count):
                    publish(BODY, declare=[queue], delivery_mode=mode)
                wire.queue_declare(queue.name, passive=True)
        finally:
            queue.delete(channel=conn.default_channel)
    return clock.publish_metrics(count)


def kombu_lite_confirm_each(count: int) -> Metrics:
    """``Producer.publish`` with ``confirm_publish=True``."""
    from kombu_lite import Connection, Queue

    queue = Queue(_name())
    with Connection(URL, confirm_publish=True) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        publish = producer.publish
        try:
            started = time.perf_counter()
            for _ in range(count):
                publish(BODY, declare=[queue])
            elapsed = time.perf_counter() - started
        finally:
            queue.delete(channel=conn.default_channel)
    return _rate(count, elapsed)


def kombu_lite_publish_many(count: int) -> Metrics:
    """``Producer.publish_many``: every message confirmed, 1000 in flight."""
    from kombu_lite import Connection, Queue

    queue = Queue(_name())
    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish_many([BODY], declare=[queue])
        bodies = [BODY] * count
        try:
            started = time.perf_counter()
            outcomes = producer.publish_many(bodies, declare=[queue], window=1000)
            elapsed = time.perf_counter() - started
        finally:
            queue.delete(channel=conn.default_channel)
    failed = sum(not outcome.ok for outcome in outcomes)
    if failed:
        raise RuntimeError(f"{failed} of {count} messages not confirmed")
    return _rate(count, elapsed)


# -- kombu -----------------------------------------------------------------------------


def kombu_publish(count: int, persistent: bool = True) -> Metrics:
    """kombu's ``Producer.publish(body, declare=[queue])``."""
    from kombu import Connection, Queue

    queue = Queue(_name(), durable=persistent)
    mode = _mode(persistent)
    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue], delivery_mode=mode)
        publish = producer.publish
        bound = queue(conn.default_channel)
        try:
            with _Clock() as clock:
                for _ in range(count):
                    publish(BODY, declare=[queue], delivery_mode=mode)
                bound.queue_declare(passive=True)
        finally:
            bound.delete()
    return clock.publish_metrics(count)


def kombu_confirm_each(count: int) -> Metrics:
    """kombu with ``confirm_publish``."""
    from kombu import Connection, Queue

    queue = Queue(_name())
    with Connection(URL, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        publish = producer.publish
        try:
            started = time.perf_counter()
            for _ in range(count):
                publish(BODY, declare=[queue])
            elapsed = time.perf_counter() - started
        finally:
            queue(conn.default_channel).delete()
    return _rate(count, elapsed)


# -- pika ------------------------------------------------------------------------------


def _pika_channel(confirm: bool = False) -> tuple[Any, Any]:
    import pika

    conn = pika.BlockingConnection(
        pika.ConnectionParameters(
            HOST, PORT, credentials=pika.PlainCredentials("guest", "guest")
        )
    )
    channel = conn.channel()
    if confirm:
        channel.confirm_delivery()
    return conn, channel


def _pika_publish(count: int, confirm: bool, persistent: bool = True) -> Metrics:
    import pika

    conn, channel = _pika_channel(confirm)
    name = _name()
    mode = _mode(persistent)
    channel.queue_declare(name, durable=persistent)
    try:
        publish = channel.basic_publish
        with _Clock() as clock:
            for _ in range(count):
                properties = pika.BasicProperties(
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=mode,
                )
                publish("", name, json.dumps(BODY).encode(), properties)
            channel.queue_declare(name, passive=True)
    finally:
        channel.queue_delete(name)
        conn.close()
    if confirm:
        return _rate(count, clock.wall)
    return clock.publish_metrics(count)


def pika_publish(count: int, persistent: bool = True) -> Metrics:
    """pika ``BlockingChannel.basic_publish``, no confirms."""
    return _pika_publish(count, confirm=False, persistent=persistent)


def pika_confirm_each(count: int) -> Metrics:
    """pika with ``confirm_delivery()``: each publish waits for its ack."""
    return _pika_publish(count, confirm=True)
