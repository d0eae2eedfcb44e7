"""Publish throughput: kombu_lite against raw py-amqp and kombu, in one run.

Peers alternate within each round so machine noise hits them alike; the
figures are medians (with min and max) over the rounds, and each ratio is
computed round by round before taking its median.

    python bench/publish.py                 # memory:// and RabbitMQ
    python bench/publish.py --smoke         # a few messages, proves it runs
    python bench/publish.py --json out.json

RabbitMQ must listen on 127.0.0.1:5672 (guest/guest) for the amqp rows;
without it those rows are left out.  kombu is optional.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import uuid
from collections.abc import Callable

BODY = {
    "id": "3b0c5e52-6f6c-4d0c-9d2e-6f1f3c0f8a11",
    "task": "orders.process",
    "args": [12345, "express"],
    "kwargs": {"priority": 5, "retries": 0, "eta": None},
    "origin": "web-1",
}
URL = "amqp://guest:guest@127.0.0.1:5672//"

Bench = Callable[[int], float]


def _rate(count: int, fun: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fun()
    return count / (time.perf_counter() - started)


def kombu_lite_memory(count: int) -> float:
    from kombu_lite import Connection, Queue
    from kombu_lite.transport.memory import default_broker

    queue = Queue(f"bench-{uuid.uuid4().hex[:8]}")
    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        rate = _rate(count, lambda: producer.publish(BODY, declare=[queue]))
    default_broker().reset()
    return rate


def kombu_memory(count: int) -> float:
    from kombu import Connection, Queue

    queue = Queue(f"bench-{uuid.uuid4().hex[:8]}")
    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        rate = _rate(count, lambda: producer.publish(BODY, declare=[queue]))
        queue(conn.default_channel).delete()
    return rate


def raw_pyamqp(count: int) -> float:
    import amqp

    name = f"bench-{uuid.uuid4().hex[:8]}"
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    channel = conn.channel()
    channel.queue_declare(name, auto_delete=False)

    def publish() -> None:
        message = amqp.Message(
            json.dumps(BODY),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
        channel.basic_publish(message, exchange="", routing_key=name)

    rate = _rate(count, publish)
    channel.queue_delete(name)
    conn.close()
    return rate


def kombu_lite_amqp(count: int) -> float:
    from kombu_lite import Connection, Queue

    queue = Queue(f"bench-{uuid.uuid4().hex[:8]}")
    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        rate = _rate(count, lambda: producer.publish(BODY, declare=[queue]))
        queue.delete(channel=conn.default_channel)
    return rate


def kombu_amqp(count: int) -> float:
    from kombu import Connection, Queue

    queue = Queue(f"bench-{uuid.uuid4().hex[:8]}")
    with Connection(URL) as conn:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(BODY, declare=[queue])
        rate = _rate(count, lambda: producer.publish(BODY, declare=[queue]))
        queue(conn.default_channel).delete()
    return rate


def _broker_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        return False
    return True


def _have_kombu() -> bool:
    try:
        import kombu  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Run the rounds and print a table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    count, rounds = (50, 1) if args.smoke else (args.count, args.rounds)

    groups: dict[str, list[tuple[str, Bench]]] = {
        "memory": [("kombu_lite", kombu_lite_memory)],
    }
    if _have_kombu():
        groups["memory"].append(("kombu", kombu_memory))
    if _broker_up():
        groups["amqp"] = [("raw py-amqp", raw_pyamqp), ("kombu_lite", kombu_lite_amqp)]
        if _have_kombu():
            groups["amqp"].append(("kombu", kombu_amqp))

    results: dict[str, dict[str, list[float]]] = {}
    for group, peers in groups.items():
        samples: dict[str, list[float]] = {name: [] for name, _ in peers}
        for _ in range(rounds):
            for name, bench in peers:
                samples[name].append(bench(count))
        results[group] = samples

    report: dict[str, object] = {"count": count, "rounds": rounds, "groups": {}}
    print(f"publish throughput, {count} msgs x {rounds} rounds (msgs/s)")
    for group, samples in results.items():
        base_name = next(iter(samples))
        print(f"\n[{group}]  ratios against {base_name}")
        print(f"{'peer':<14}{'median':>10}{'min':>10}{'max':>10}{'ratio':>8}")
        rows = {}
        for name, values in samples.items():
            ratios = [v / b for v, b in zip(values, samples[base_name], strict=True)]
            row = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "ratio": statistics.median(ratios),
            }
            rows[name] = row
            print(
                f"{name:<14}{row['median']:>10.0f}{row['min']:>10.0f}"
                f"{row['max']:>10.0f}{row['ratio']:>8.2f}"
            )
        report["groups"][group] = rows  # type: ignore[index]
    print("\n" + json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
