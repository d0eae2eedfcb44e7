"""Cases that need no broker: memory:// round trips and import cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from typing import TYPE_CHECKING, Any

from amqp_cases import BODY

if TYPE_CHECKING:
    from harness import Metrics

#: Messages published before they are all consumed, in each step.
_BATCH = 1000

#: Python's bytecode cache, kept apart from the checkout.  An installed
#: package is imported from bytecode; without a cache (PYTHONDONTWRITEBYTECODE)
#: every import would compile source, which is not what users see.
_PYCACHE = os.path.join(tempfile.gettempdir(), "kombu_lite-bench-pycache")

# Peak RSS from VmHWM: ru_maxrss survives exec on Linux, so a child would
# report its parent's (the benchmark's) peak.
_IMPORT_PROBE = """
import time
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
print(elapsed, peak)
"""


def kombu_lite_memory(count: int) -> Metrics:
    """Publish then consume on kombu_lite's ``memory://``, in batches."""
    from kombu_lite import Connection, Consumer, Queue
    from kombu_lite.transport.memory import default_broker

    queue = Queue(f"bench-{uuid.uuid4().hex[:10]}")
    received = [0]

    def on_body(body: Any, message: Any) -> None:
        received[0] += 1

    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        consumer = Consumer(conn, [queue], callbacks=[on_body], no_ack=True)
        with consumer:
            conn.drain_events(timeout=1)
            received[0] = 0
            elapsed, cpu = _round_trips(count, producer.publish, queue, conn, received)
        queue.delete(channel=conn.default_channel)
    default_broker().reset()
    return {"msg/s": count / elapsed, "CPU us/msg": cpu * 1e6 / count}


def kombu_memory(count: int) -> Metrics:
    """The same with kombu's ``memory://``."""
    from kombu import Connection, Consumer, Queue

    queue = Queue(f"bench-{uuid.uuid4().hex[:10]}")
    received = [0]

    def on_body(body: Any, message: Any) -> None:
        received[0] += 1

    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        consumer = Consumer(conn, [queue], callbacks=[on_body], no_ack=True)
        with consumer:
            conn.drain_events(timeout=1)
            received[0] = 0
            elapsed, cpu = _round_trips(count, producer.publish, queue, conn, received)
        queue(conn.default_channel).delete()
    return {"msg/s": count / elapsed, "CPU us/msg": cpu * 1e6 / count}


def _round_trips(
    count: int, publish: Any, queue: Any, conn: Any, received: list[int]
) -> tuple[float, float]:
    """Seconds, and CPU seconds of this process, for ``count`` round trips.

    The CPU time (``time.process_time``) is what a loaded machine disturbs
    least: other processes take wall time from the case, not CPU time.
    """
    import time

    started = time.perf_counter()
    cpu_started = time.process_time()
    sent = 0
    while sent < count:
        step = min(_BATCH, count - sent)
        for _ in range(step):
            publish(BODY, declare=[queue])
        sent += step
        while received[0] < sent:
            conn.drain_events(timeout=1)
    return time.perf_counter() - started, time.process_time() - cpu_started


#: A burst through one memory:// queue, in a fresh interpreter: ``{count}``
#: messages published then consumed (``burst``), or published and consumed
#: a thousand at a time (``interleaved``), by a ``no_ack`` consumer as in
#: the round trip case.  The peak is the child's own ``VmHWM``: the
#: interpreter and kombu_lite included, the benchmark process not.
_BURST_PROBE = """
import json, time
from kombu_lite import Connection, Consumer, Queue
BODY = json.loads({body!r})
count, interleaved = {count}, {interleaved}
queue = Queue("bench-burst")
received = [0]
def on_body(body, message):
    received[0] += 1
with Connection("memory://") as conn:
    producer = conn.Producer(routing_key=queue.name)
    queue(conn.default_channel).declare()
    publish = producer.publish
    consumer = Consumer(conn, [queue], callbacks=[on_body], no_ack=True)
    started = time.perf_counter()
    if interleaved:
        consumer.consume()
    sent = 0
    while sent < count:
        step = min(1000 if interleaved else count, count - sent)
        for _ in range(step):
            publish(BODY)
        sent += step
        if interleaved:
            while received[0] < sent:
                conn.drain_events(timeout=1)
    if not interleaved:
        consumer.consume()
        while received[0] < count:
            conn.drain_events(timeout=1)
    elapsed = time.perf_counter() - started
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
print(elapsed, peak)
"""


def kombu_lite_burst(*, interleaved: bool) -> Any:
    """A case: ``count`` messages through one memory:// queue, peak RSS.

    Runs in a fresh interpreter, so the figure is what an application
    doing only this would peak at (``VmHWM``), the interpreter included.
    """

    def run(count: int) -> Metrics:
        probe = _BURST_PROBE.format(
            body=json.dumps(BODY), count=count, interleaved=interleaved
        )
        output = subprocess.run(
            [sys.executable, "-c", probe],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        seconds, peak_kib = float(output[0]), float(output[1])
        return {"peak RSS MiB": peak_kib / 1024, "msg/s": count / seconds}

    return run


def _probe(statement: str) -> Metrics:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    output = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE.format(statement=statement)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    seconds, peak_kib = float(output[0]), float(output[1])
    return {"import ms": seconds * 1000, "peak RSS MiB": peak_kib / 1024}


def warm_bytecode_cache() -> None:
    """Compile everything the probes import once, before any is timed."""
    for statement in IMPORTS.values():
        _probe(statement)


#: What each import case runs in a fresh interpreter.
IMPORTS = {
    "import kombu_lite": "import kombu_lite",
    "import kombu": "import kombu",
    "import amqp (py-amqp)": "import amqp",
    "from kombu_lite import (4 names)": (
        "from kombu_lite import Connection, Exchange, Producer, Queue"
    ),
    "from kombu import (4 names)": (
        "from kombu import Connection, Exchange, Producer, Queue"
    ),
}


def import_case(statement: str, repeats: int) -> Any:
    """A case that runs ``statement`` in ``repeats`` fresh interpreters."""

    def run(count: int) -> Metrics:
        del count
        samples = [_probe(statement) for _ in range(repeats)]
        return {
            metric: sorted(sample[metric] for sample in samples)[len(samples) // 2]
            for metric in samples[0]
        }

    return run


def dumps_size() -> int:
    """The encoded body's size in bytes, for the header of the report."""
    return len(json.dumps(BODY).encode())
