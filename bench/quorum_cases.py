"""Confirmed publishing to a quorum queue, against RabbitMQ on 127.0.0.1:5672.

A quorum queue confirms a message once a majority of its replicas wrote
it (here one node: its own log, on disk), so confirms cost more than on a
classic queue.  Three peers, every message persistent and confirmed:

* raw py-amqp ``basic_publish_confirm``: each message waits for its ack.
  Its rate does not depend on the count (one round trip per message), so
  it runs at most :data:`CONFIRM_EACH_LIMIT` messages;
* kombu_lite ``Producer.publish_many`` (1000 messages in flight);
* the *quorum ceiling*: the frames of one publish, captured and written in
  batches of 1000 on a confirming channel, the clock stopped at the last
  ack: as fast as the broker confirms, with no client work per message.
  Same message count, queue type and delivery mode as publish_many.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import amqp_cases as base

if TYPE_CHECKING:
    from harness import Metrics

#: Messages raw py-amqp confirm-each publishes at most.
CONFIRM_EACH_LIMIT = 2000

_QUORUM = {"x-queue-type": "quorum"}


def _declare(channel: Any) -> str:
    name = base._name()
    channel.queue_declare(name, durable=True, auto_delete=False, arguments=_QUORUM)
    return name


def raw_confirm_each(count: int) -> Metrics:
    """py-amqp ``basic_publish_confirm`` to a quorum queue."""
    count = min(count, CONFIRM_EACH_LIMIT)
    conn, channel = base._amqp_channel()
    name = _declare(channel)
    try:
        publish = channel.basic_publish_confirm
        started = time.perf_counter()
        for _ in range(count):
            publish(base._amqp_message(), exchange="", routing_key=name)
        elapsed = time.perf_counter() - started
    finally:
        channel.queue_delete(name)
        conn.close()
    return {"msg/s": count / elapsed}


def kombu_lite_publish_many(count: int) -> Metrics:
    """``Producer.publish_many`` to a quorum queue, 1000 in flight."""
    from kombu_lite import Connection, Queue

    queue = Queue(base._name(), durable=True, queue_arguments=_QUORUM)
    with Connection(base.URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish_many([base.BODY], declare=[queue])
        bodies = [base.BODY] * count
        try:
            with base._Clock() as clock:
                outcomes = producer.publish_many(bodies, declare=[queue], window=1000)
        finally:
            queue.delete(channel=conn.default_channel)
    failed = sum(not outcome.ok for outcome in outcomes)
    if failed:
        raise RuntimeError(f"{failed} of {count} messages not confirmed")
    return clock.publish_metrics(count)


def quorum_ceiling(count: int) -> Metrics:
    """Captured publish frames written in batches; the clock ends at the last ack."""
    conn, channel = base._amqp_channel()
    name = _declare(channel)
    channel.confirm_select()
    acked = [0]

    def on_ack(delivery_tag: int, multiple: bool) -> None:
        acked[0] = max(acked[0], delivery_tag)

    channel.events["basic_ack"].add(on_ack)
    frame = base.captured_publish(conn, channel, name, persistent=True)
    batch = frame * base.CEILING_BATCH
    write = conn.transport.write
    batches, rest = divmod(count, base.CEILING_BATCH)
    try:
        with base._Clock() as clock:
            for _ in range(batches):
                write(batch)
            if rest:
                write(frame * rest)
            while acked[0] < count:
                conn.drain_events(timeout=30)
    finally:
        channel.queue_delete(name)
        conn.close()
    return clock.publish_metrics(count)
