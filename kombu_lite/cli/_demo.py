"""``kombu-lite demo``: the producers guide, run against a broker.

It declares, publishes with and without retry, uses the anon exchange and
pickle, reads every message back and deletes what it made, reporting each
step through a ``say`` callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.messaging import Producer

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["run_demo"]

_PREFIX = "kombu_lite.demo"


def run_demo(url: str, say: Callable[[str], object] = print) -> None:
    """Walk through the producers guide against ``url``, reporting with ``say``."""
    with Connection(url) as connection:
        say(f"kombu_lite demo on {connection.as_uri()}")
        exchange = Exchange(_PREFIX, type="direct", durable=False)
        rk_queue = Queue(f"{_PREFIX}.rk", exchange, routing_key="rk", durable=False)
        task_queue = Queue(
            f"{_PREFIX}.tasks",
            Exchange(f"{_PREFIX}.tasks", durable=False),
            routing_key="tasks",
            durable=False,
        )
        try:
            with connection.channel() as channel:
                producer = Producer(channel)
                rk_queue.declare(channel=channel)
                say(f"declared exchange {exchange.name!r} and queue {rk_queue.name!r}")

                producer.publish(
                    {"hello": "world"},
                    exchange=exchange,
                    routing_key="rk",
                    declare=[exchange],
                )
                say(
                    f"published {{'hello': 'world'}} to {exchange.name!r} with key 'rk'"
                )

                producer.publish(
                    {"hello": "world", "attempt": "with retry"},
                    exchange=exchange,
                    routing_key="rk",
                    retry=True,
                    retry_policy={
                        "interval_start": 0,
                        "interval_step": 2,
                        "interval_max": 30,
                        "max_retries": 30,
                    },
                )
                say("published again with retry=True and a retry policy")

                producer.publish(
                    {"hello": "world", "to": "tasks"},
                    retry=True,
                    exchange=task_queue.exchange,
                    routing_key=task_queue.routing_key,
                    declare=[task_queue],
                )
                say(f"published to {task_queue.name!r}, declared with its exchange")

                producer.publish(
                    {"hello": "world", "via": "anon exchange"},
                    exchange="",
                    routing_key=task_queue.name,
                )
                say(f"published through the anon exchange to {task_queue.name!r}")

                producer.publish(
                    {"hello": "world", "serializer": "pickle"},
                    serializer="pickle",
                    exchange="",
                    routing_key=task_queue.name,
                )
                say("published with serializer='pickle'")

                for queue in (rk_queue, task_queue):
                    while (
                        message := queue.get(channel=channel, accept=["json", "pickle"])
                    ) is not None:
                        say(
                            f"read back from {queue.name!r}: {message.decode()!r} "
                            f"({message.content_type})"
                        )
                        message.ack()
        finally:
            with connection.channel() as channel:
                for queue in (rk_queue, task_queue):
                    queue.delete(channel=channel)
                    if queue.exchange.name:
                        queue.exchange.delete(channel=channel)
