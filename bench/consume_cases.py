"""Consume cases measured against RabbitMQ on 127.0.0.1:5672.

Every case fills its own queue with ``count`` JSON messages first (not
timed), then times from the ``basic.qos`` + ``basic.consume`` until the
last message was handed to the application, and deletes the queue.  All
consumers use prefetch 1000.  Each peer decodes every JSON body (the
ceiling excepted), and in the ``ack`` cases acknowledges every message
on its own (``basic.ack`` per message).

The *consume ceiling* is what a client that does nothing but read can
take: py-amqp opens the connection and starts the consumer, then a loop
on the raw socket reads into a buffer, walks the frame boundaries, counts
the ``basic.deliver`` methods and (when acking) sends one
``basic.ack(multiple=True)`` per 100 messages.  No property, argument or
body is parsed.

The ``mixin`` cases run a ``ConsumerMixin`` worker (kombu_lite's and
kombu's) with per-message acks: from ``on_consume_ready`` to the last
message.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amqp_cases import PORT, URL, _amqp_channel, _fill, _name, _pika_channel

if TYPE_CHECKING:
    import cProfile

    from harness import Metrics

PREFETCH = 1000
#: The ceiling acknowledges this many messages at once.
CEILING_ACK_EVERY = 100

_FRAME_HEAD = struct.Struct(">BHI").unpack_from
_DELIVER = b"\x00\x3c\x00\x3c"  # class 60 (basic), method 60 (deliver)


#: Set by ``run.py --profile``: enabled over the timed parts only.
PROFILER: cProfile.Profile | None = None


def _broker_pid() -> int | None:
    """The pid of the process listening on the broker's port, if ``ss`` says."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{PORT}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"pid=(\d+)", out)
    return int(match.group(1)) if match else None


_BROKER_PID = _broker_pid()
_TICKS = os.sysconf("SC_CLK_TCK")


def _broker_cpu() -> float | None:
    """The broker's CPU seconds so far (user + system), if it can be read."""
    if _BROKER_PID is None:
        return None
    try:
        fields = Path(f"/proc/{_BROKER_PID}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return None
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / _TICKS


class _Timed:
    """Wall time of a ``with`` block, this process's CPU time and the broker's.

    Also the profile of the block, when asked (``run.py --profile``).
    """

    elapsed = 0.0
    cpu = 0.0
    broker: float | None = None

    def __enter__(self) -> _Timed:
        if PROFILER is not None:
            PROFILER.enable()
        self.broker = _broker_cpu()
        self.cpu = time.process_time()
        self.elapsed = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.elapsed = time.perf_counter() - self.elapsed
        self.cpu = time.process_time() - self.cpu
        broker = _broker_cpu()
        self.broker = (
            None if broker is None or self.broker is None else (broker - self.broker)
        )
        if PROFILER is not None:
            PROFILER.disable()

    def metrics(self, count: int) -> Metrics:
        """msg/s, and client (and broker) CPU microseconds per message."""
        figures = {
            "msg/s": count / self.elapsed,
            "client CPU us/msg": self.cpu / count * 1e6,
        }
        if self.broker is not None:
            figures["broker CPU us/msg"] = self.broker / count * 1e6
        return figures


def _ack_frame(channel_id: int, delivery_tag: int, multiple: bool) -> bytes:
    """The bytes of ``basic.ack`` on ``channel_id``."""
    payload = struct.pack(">HHQB", 60, 80, delivery_tag, multiple)
    return struct.pack(">BHI", 1, channel_id, len(payload)) + payload + b"\xce"


def _check_received(received: int, count: int) -> None:
    if received != count:
        raise RuntimeError(f"received {received} of {count} messages")


# -- the ceiling -----------------------------------------------------------------------


def consume_ceiling(count: int, ack: bool = False) -> Metrics:
    """Read deliveries on the raw socket: frame boundaries only."""
    conn, channel = _amqp_channel()
    name = _name()
    channel.queue_declare(name, durable=True, auto_delete=False)
    _fill(name, count)
    try:
        timed = _Timed().__enter__()
        channel.basic_qos(0, PREFETCH, False)
        tag = channel.basic_consume(name, no_ack=not ack, callback=lambda m: None)
        sock = conn.transport.sock
        # py-amqp reads exactly the bytes each frame needs: nothing is
        # left buffered past the consume-ok.
        data = bytes(getattr(conn.transport, "_read_buffer", b""))
        channel_id = channel.channel_id
        received = 0
        acked = 0
        pos = 0
        recv = sock.recv
        send = sock.sendall
        while received < count:
            data = data[pos:] + recv(262144)
            pos = 0
            end = len(data)
            while end - pos >= 7:
                _kind, _ch, size = _FRAME_HEAD(data, pos)
                frame_end = pos + size + 8
                if frame_end > end:
                    break
                if data[pos + 7 : pos + 11] == _DELIVER:
                    received += 1
                pos = frame_end
            if ack and received - acked >= CEILING_ACK_EVERY:
                acked = received - received % CEILING_ACK_EVERY
                send(_ack_frame(channel_id, acked, True))
        if ack and acked < received:
            send(_ack_frame(channel_id, received, True))
        timed.__exit__()
        if pos != len(data):
            raise RuntimeError("the ceiling stopped inside a frame")
        _check_received(received, count)
        channel.basic_cancel(tag)
    finally:
        channel.queue_delete(name)
        conn.close()
    return timed.metrics(count)


# -- raw py-amqp -----------------------------------------------------------------------


def raw_consume(count: int, ack: bool = False) -> Metrics:
    """py-amqp ``basic_consume`` and ``drain_events``."""
    conn, channel = _amqp_channel()
    name = _name()
    channel.queue_declare(name, durable=True, auto_delete=False)
    _fill(name, count)
    received = [0]
    basic_ack = channel.basic_ack

    def on_message(message: Any) -> None:
        json.loads(message.body)
        if ack:
            basic_ack(message.delivery_tag)
        received[0] += 1

    try:
        with _Timed() as timed:
            channel.basic_qos(0, PREFETCH, False)
            tag = channel.basic_consume(name, no_ack=not ack, callback=on_message)
            while received[0] < count:
                conn.drain_events(timeout=10)
        # Deleting a queue with a consumer makes the broker cancel it, and
        # py-amqp raises that cancel: stop consuming first.
        channel.basic_cancel(tag)
    finally:
        channel.queue_delete(name)
        conn.close()
    return timed.metrics(count)


# -- kombu_lite and kombu --------------------------------------------------------------


def kombu_lite_consume(
    count: int, ack: bool = False, ack_batch: int = 0, ack_multiple: int = 0
) -> Metrics:
    """``Consumer(callbacks=[...])`` with ``drain_events``; ``message.ack()``.

    With ``ack_multiple``, only every that many messages (and the last) are
    acked, with ``message.ack(multiple=True)``: batching as kombu's API
    allows it.
    """
    from kombu_lite import Connection, Consumer, Queue

    queue = Queue(_name())
    received = [0]

    def on_body(body: Any, message: Any) -> None:
        received[0] += 1
        if ack_multiple:
            if received[0] % ack_multiple == 0 or received[0] == count:
                message.ack(multiple=True)
        elif ack:
            message.ack()

    options: dict[str, Any] = {"ack_batch": ack_batch} if ack_batch else {}
    with Connection(URL) as conn:
        queue.declare(channel=conn.default_channel)
        _fill(queue.name, count)
        try:
            with (
                _Timed() as timed,
                Consumer(
                    conn,
                    [queue],
                    callbacks=[on_body],
                    no_ack=not ack,
                    prefetch_count=PREFETCH,
                    **options,
                ),
            ):
                while received[0] < count:
                    conn.drain_events(timeout=10)
            # Leaving the consumer (inside the timed block) wrote any
            # batched acks.
        finally:
            queue.delete(channel=conn.default_channel)
    return timed.metrics(count)


def kombu_consume(count: int, ack: bool = False) -> Metrics:
    """kombu's ``Consumer`` with ``drain_events``; ``message.ack()``."""
    from kombu import Connection, Consumer, Queue

    queue = Queue(_name())
    received = [0]

    def on_body(body: Any, message: Any) -> None:
        if ack:
            message.ack()
        received[0] += 1

    with Connection(URL) as conn:
        queue(conn.default_channel).declare()
        _fill(queue.name, count)
        try:
            with (
                _Timed() as timed,
                Consumer(
                    conn,
                    [queue],
                    callbacks=[on_body],
                    no_ack=not ack,
                    prefetch_count=PREFETCH,
                ),
            ):
                while received[0] < count:
                    conn.drain_events(timeout=10)
        finally:
            queue(conn.default_channel).delete()
    return timed.metrics(count)


# -- pika ------------------------------------------------------------------------------


def pika_consume(count: int, ack: bool = False) -> Metrics:
    """pika ``basic_consume`` with ``process_data_events``."""
    conn, channel = _pika_channel()
    name = _name()
    channel.queue_declare(name, durable=True)
    _fill(name, count)
    received = [0]

    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        json.loads(body)
        if ack:
            channel.basic_ack(method.delivery_tag)
        received[0] += 1

    try:
        with _Timed() as timed:
            channel.basic_qos(prefetch_count=PREFETCH)
            channel.basic_consume(name, on_message, auto_ack=not ack)
            while received[0] < count:
                conn.process_data_events(time_limit=1)
    finally:
        channel.queue_delete(name)
        conn.close()
    return timed.metrics(count)


# -- ConsumerMixin ---------------------------------------------------------------------


def _mixin_worker(mixin: type, consumer_options: dict[str, Any]) -> Any:
    """A ConsumerMixin subclass that acks each message and stops at ``count``."""

    class Worker(mixin):  # type: ignore[misc,valid-type]
        def __init__(self, connection: Any, queue: Any, count: int) -> None:
            self.connection = connection
            self.queue = queue
            self.count = count
            self.received = 0
            self.timed = _Timed()

        def get_consumers(self, consumer: Any, channel: Any) -> list[Any]:
            return [
                consumer(
                    queues=[self.queue],
                    callbacks=[self.on_task],
                    prefetch_count=PREFETCH,
                    **consumer_options,
                )
            ]

        def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
            self.timed.__enter__()

        def on_task(self, body: Any, message: Any) -> None:
            message.ack()
            self.received += 1
            if self.received == self.count:
                self.timed.__exit__()
                self.should_stop = True

    return Worker


def kombu_lite_mixin(count: int) -> Metrics:
    """kombu_lite's ``ConsumerMixin`` worker, ``message.ack()`` per message."""
    from kombu_lite import Connection, Queue
    from kombu_lite.mixins import ConsumerMixin

    queue = Queue(_name())
    with Connection(URL) as conn:
        queue.declare(channel=conn.default_channel)
        _fill(queue.name, count)
        try:
            worker = _mixin_worker(ConsumerMixin, {})(conn, queue, count)
            worker.run()
        finally:
            queue.delete(channel=conn.default_channel)
    _check_received(worker.received, count)
    return worker.timed.metrics(count)


def kombu_mixin(count: int) -> Metrics:
    """kombu's ``ConsumerMixin`` worker, ``message.ack()`` per message."""
    from kombu import Connection, Queue
    from kombu.mixins import ConsumerMixin

    queue = Queue(_name())
    with Connection(URL) as conn:
        queue(conn.default_channel).declare()
        _fill(queue.name, count)
        try:
            worker = _mixin_worker(ConsumerMixin, {"accept": ["json"]})(
                conn, queue, count
            )
            worker.run()
        finally:
            queue(conn.default_channel).delete()
    _check_received(worker.received, count)
    return worker.timed.metrics(count)
