"""Retry with backoff through a dead-letter exchange, then park.

The recipe of the reliability guide (docs/guide/reliability.rst);
tests/behaviour/test_dead_lettering.py runs it on RabbitMQ (and on
memory://).  A message whose processing fails is rejected without requeue:
the work queue dead-letters it to the retry exchange, which routes it to
the delay queue; there it waits out the queue's message TTL, and expiring
dead-letters it back to the work queue by name.  After ``max_attempts``
failures the handler parks the message instead, in a queue someone reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kombu_lite import Exchange, Message, Producer, Queue


def retry_topology(name: str, delay: float) -> tuple[Queue, Queue, Queue]:
    """The work queue ``name``, its delay queue and its parking queue."""
    retry = Exchange(f"{name}.retry", "fanout")
    work = Queue(name, dead_letter_exchange=retry)
    delayed = Queue(
        f"{name}.delay",
        retry,
        message_ttl=delay,  # the wait before each new attempt, in seconds
        dead_letter_exchange="",  # then the default exchange...
        dead_letter_routing_key=name,  # ...routes it back to the work queue
    )
    parked = Queue(f"{name}.parked")
    return work, delayed, parked


def failed_attempts(message: Message, queue: str) -> int:
    """How many times ``message`` was rejected from ``queue`` before."""
    return sum(
        death.count
        for death in message.death
        if death.queue == queue and death.reason == "rejected"
    )


class RetryingHandler:
    """A consumer callback: ``process(body)``, retried, then parked.

    ``process`` raising an exception is a failed attempt.  A message is
    acknowledged after it is processed; rejected (to be retried after the
    delay) on a failure; published to ``parked`` and then acknowledged
    after ``max_attempts`` failures, with its headers (``x-death`` says
    what happened).  If that publish raises, the message stays
    unacknowledged and comes back: it may be parked twice.
    """

    def __init__(
        self,
        producer: Producer,
        work: Queue,
        parked: Queue,
        process: Callable[[Any], object],
        max_attempts: int = 3,
    ) -> None:
        self.producer = producer
        self.work = work
        self.parked = parked
        self.process = process
        self.max_attempts = max_attempts

    def __call__(self, body: Any, message: Message) -> None:
        try:
            self.process(body)
        except Exception:  # noqa: BLE001 - any failure is a failed attempt
            if failed_attempts(message, self.work.name) + 1 < self.max_attempts:
                message.reject(requeue=False)  # retried after the delay
                return
            self.producer.publish(
                message.body,
                exchange="",
                routing_key=self.parked.name,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                headers=message.headers,
            )
            message.ack()
        else:
            message.ack()
