"""kombu_lite's native delayed delivery on ``memory://``: the topology, the checks.

The memory broker takes the declarations and bindings (here they are
inspected through :class:`~kombu_lite.transport.memory.Broker`), but it
does not dead-letter, so the delay itself runs on RabbitMQ only
(tests/interop/test_native_delayed_delivery.py).
"""

from __future__ import annotations

import contextlib
import logging
import time

import pytest

from kombu_lite import Connection, Exchange, Message, Queue, binding
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport import native_delayed_delivery as ndd
from kombu_lite.transport.memory import default_broker


class _NoChannel:
    """A connection that fails the test if anything is declared through it."""

    def channel(self) -> ndd.DelayedDeliveryChannel:
        raise AssertionError("a channel was opened before the arguments were checked")


def _bindings() -> set[tuple[str, str, str, str]]:
    return {
        (b.source, b.destination, b.destination_type, b.routing_key)
        for b in default_broker().bindings()
        if b.source  # the default exchange's implicit bindings
    }


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_each_level_has_a_queue_that_dead_letters_to_the_level_below(
    queue_type: str,
) -> None:
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, queue_type)
    queues = {q.name: q for q in default_broker().queues()}
    assert set(queues) == {f"celery_delayed_{level}" for level in range(28)}
    for level in range(28):
        queue = queues[f"celery_delayed_{level}"]
        expected: dict[str, object] = {
            "x-queue-type": queue_type,
            "x-overflow": "reject-publish",
            "x-message-ttl": 2**level * 1000,
            "x-dead-letter-exchange": (
                f"celery_delayed_{level - 1}" if level else "celery_delayed_delivery"
            ),
        }
        if queue_type == "quorum":
            expected["x-dead-letter-strategy"] = "at-least-once"
        assert dict(queue.arguments) == expected
        assert queue.durable
        assert not queue.auto_delete


def test_each_level_routes_on_its_own_bit() -> None:
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "classic", "p")
    exchanges = {e.name: e for e in default_broker().exchanges()}
    for level in range(28):
        assert exchanges[f"p_celery_delayed_{level}"].type == "topic"
        assert exchanges[f"p_celery_delayed_{level}"].durable
    assert exchanges["p_celery_delayed_delivery"].type == "topic"
    stars = "*." * 27
    assert ("p_celery_delayed_27", "p_celery_delayed_27", "queue", "1.#") in _bindings()
    assert ("p_celery_delayed_27", "p_celery_delayed_26", "exchange", "0.#") in (
        _bindings()
    )
    assert ("p_celery_delayed_0", "p_celery_delayed_0", "queue", stars + "1.#") in (
        _bindings()
    )
    assert (
        "p_celery_delayed_0",
        "p_celery_delayed_delivery",
        "exchange",
        stars + "0.#",
    ) in _bindings()
    assert len(_bindings()) == 28 + 27 + 1


def test_declaring_twice_changes_nothing() -> None:
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "quorum")
        before = _bindings()
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "quorum")
    assert _bindings() == before


def test_the_channel_is_closed_afterwards() -> None:
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "classic")
        assert default_broker().statistics().channels == 0


def test_a_queue_is_bound_through_its_exchange_to_the_delivery_exchange() -> None:
    exchange = Exchange("ndd-tasks", type="topic")
    queue = Queue("ndd-tasks", exchange, routing_key="tasks.run")
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "classic")
        queue.declare(channel=conn)
        ndd.bind_queue_to_native_delayed_delivery_exchange(conn, queue)
    assert {
        ("celery_delayed_delivery", "ndd-tasks", "exchange", "#.tasks.run"),
        ("ndd-tasks", "ndd-tasks", "queue", "#.tasks.run"),
    } <= _bindings()


def test_each_binding_of_a_queue_is_bound_and_a_hash_key_kept() -> None:
    first = Exchange("ndd-a", type="topic")
    second = Exchange("ndd-b", type="fanout")
    queue = Queue("ndd-multi", bindings=[binding(first, "#.a"), binding(second, "b")])
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "classic", "x")
        queue.declare(channel=conn)
        ndd.bind_queue_to_native_delayed_delivery_exchange(conn, queue, "x")
    assert {
        ("x_celery_delayed_delivery", "ndd-a", "exchange", "#.a"),
        ("ndd-a", "ndd-multi", "queue", "#.a"),
        ("x_celery_delayed_delivery", "ndd-b", "exchange", "#.b"),
        ("ndd-b", "ndd-multi", "queue", "#.b"),
    } <= _bindings()


def test_a_queue_on_the_default_exchange_binds_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "kombu_lite"):
        ndd.bind_queue_to_native_delayed_delivery_exchange(
            _NoChannel(), Queue("ndd-plain")
        )
    assert "direct exchange" in caplog.text


@pytest.mark.parametrize(
    ("queue_type", "prefix", "message"),
    [
        ("stream", None, "classic or quorum, not 'stream'"),
        (None, None, "classic or quorum, not None"),
        ("classic", 5, "prefix must be a str or None"),
        ("classic", "p" * 232, "255-byte limit"),
    ],
)
def test_bad_declare_arguments_are_refused_before_any_channel(
    queue_type: object, prefix: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ndd.declare_native_delayed_delivery_exchanges_and_queues(
            _NoChannel(),
            queue_type,  # type: ignore[arg-type]
            prefix,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        (Queue("", Exchange("x", type="topic")), "must have a name"),
        (Queue("q", bindings=[binding(None, "k")]), "has no exchange"),
        (
            Queue("q", bindings=[binding(Exchange("x", type="topic"), 5)]),  # type: ignore[arg-type]
            "routing_key must be a str, not int",
        ),
        (Queue("q", Exchange("x", type="topic"), "k" * 254), "longer than 255"),
    ],
)
def test_bad_queues_are_refused_before_any_channel(queue: Queue, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ndd.bind_queue_to_native_delayed_delivery_exchange(_NoChannel(), queue)


def test_a_missing_delivery_exchange_is_not_found() -> None:
    from kombu_lite.exceptions import NotFound

    queue = Queue("ndd-early", Exchange("ndd-early", type="topic"), "k")
    with Connection("memory://") as conn:
        queue.declare(channel=conn)
        with pytest.raises(NotFound):
            ndd.bind_queue_to_native_delayed_delivery_exchange(conn, queue)


def test_a_delayed_message_arrives_after_its_countdown_on_memory() -> None:
    received: list[tuple[float, object]] = []
    with Connection("memory://") as conn:
        ndd.declare_native_delayed_delivery_exchanges_and_queues(conn, "classic")
        queue = Queue("tasks", Exchange("tasks", type="topic"), routing_key="tasks.run")
        queue.declare(channel=conn.default_channel)
        ndd.bind_queue_to_native_delayed_delivery_exchange(conn, queue)

        def on_message(body: object, message: Message) -> None:
            received.append((time.monotonic(), body))
            message.ack()

        with conn.Consumer([queue], callbacks=[on_message], accept=["json"]):
            sent = time.monotonic()
            conn.Producer().publish(
                {"job": 1},
                exchange=ndd.level_name(ndd.MAX_LEVEL),
                routing_key=ndd.calculate_routing_key(2, "tasks.run"),
                serializer="json",
            )
            while not received and time.monotonic() < sent + 6:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.2)

    assert [body for _, body in received] == [{"job": 1}]
    assert 2 - 0.05 <= received[0][0] - sent < 4
