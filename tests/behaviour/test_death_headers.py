"""Malformed dead-lettering headers never stop a consumer.

Any publisher may set ``x-death`` or ``x-delivery-count``; a consumer reading
:attr:`Message.death` and :attr:`Message.delivery_count` in its callback
goes on consuming whatever they hold (the malformed parts are left out and
logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from kombu_lite import Connection, Exchange, Message, Queue

Cleanup = Callable[[Exchange | Queue], None]


def test_a_consumer_reads_malformed_headers_and_goes_on(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = Queue(f"{unique}-q")
    cleanup(queue)
    producer = connection.Producer()
    bad_headers: list[dict[str, object]] = [
        {"x-death": "rejected", "x-delivery-count": "2"},
        {"x-death": [{"queue": 5}, {"queue": "q", "reason": "expired", "count": 1}]},
        {"x-death": [{"queue": "q", "reason": "maxlen", "count": 3, "time": "now"}]},
    ]
    for n, headers in enumerate(bad_headers):
        producer.publish(
            {"n": n}, routing_key=queue.name, headers=headers, declare=[queue]
        )
    seen: list[tuple[object, list[tuple[str, int]], int]] = []

    def handle(body: object, message: Message) -> None:
        deaths = [(d.reason, d.count) for d in message.death]
        seen.append((body, deaths, message.delivery_count))
        message.ack()

    with (
        caplog.at_level(logging.WARNING, logger="kombu_lite.message"),
        connection.Consumer(queue, callbacks=[handle]),
    ):
        for _ in bad_headers:
            connection.drain_events(timeout=2)

    assert seen == [
        ({"n": 0}, [], 0),
        ({"n": 1}, [("expired", 1)], 0),
        ({"n": 2}, [("maxlen", 3)], 0),
    ]
    assert "not a list" in caplog.text
    assert "ignoring x-death entry 0" in caplog.text
