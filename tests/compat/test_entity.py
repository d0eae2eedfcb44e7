"""``kombu.entity``: Exchange, Queue and binding as kombu code uses them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Lib


@pytest.fixture
def entity(lib: Lib) -> Any:
    return lib.module("entity")


def test_a_queue_without_an_exchange_has_the_default_exchange(entity: Any) -> None:
    queue = entity.Queue("q")

    assert queue.exchange == entity.Exchange("")
    assert queue.exchange.name == ""


def test_bindings_may_be_the_second_positional_argument(entity: Any) -> None:
    exchange = entity.Exchange("ex", "topic")
    first, second = entity.binding(exchange, "a.#"), entity.binding(exchange, "b.#")

    queue = entity.Queue("q", [first, second])

    assert set(queue.bindings) == {first, second}


def test_a_queue_with_bindings_keeps_its_exchange(lib: Lib, entity: Any) -> None:
    queue = entity.Queue("q", [entity.binding(entity.Exchange("ex"), "rk")])

    if lib.is_kombu:
        assert queue.exchange is None  # kombu drops it (a difference)
    else:
        assert queue.exchange == entity.Exchange("")


def test_exclusive_implies_auto_delete(entity: Any) -> None:
    assert entity.Queue("q", exclusive=True).auto_delete is True


def test_from_dict_builds_celerys_task_queues_entry(entity: Any) -> None:
    queue = entity.Queue.from_dict(
        "tasks", exchange="tasks", exchange_type="topic", routing_key="tasks.#"
    )

    assert queue.name == "tasks"
    assert queue.exchange.name == "tasks"
    assert queue.exchange.type == "topic"
    assert queue.routing_key == "tasks.#"
    assert queue.durable is True
    assert queue.exchange.durable is True


def test_from_dict_splits_shared_and_specific_flags(entity: Any) -> None:
    queue = entity.Queue.from_dict(
        "q",
        exchange="ex",
        routing_key="rk",
        binding_key="bk",
        durable=False,
        exchange_durable=True,
        auto_delete=True,
        queue_auto_delete=False,
    )

    assert queue.routing_key == "bk"
    assert (queue.durable, queue.exchange.durable) == (False, True)
    assert (queue.auto_delete, queue.exchange.auto_delete) == (False, True)


def test_from_dict_forwards_the_other_queue_options(entity: Any) -> None:
    queue = entity.Queue.from_dict(
        "q",
        exchange="ex",
        max_priority=5,
        expires=30.0,
        queue_arguments={"x-queue-mode": "lazy"},
    )

    assert queue.max_priority == 5
    assert queue.expires == 30.0
    assert queue.queue_arguments == {"x-queue-mode": "lazy"}


KOMBU_QUEUE_KEYS = {
    "name",
    "exchange",
    "routing_key",
    "queue_arguments",
    "binding_arguments",
    "consumer_arguments",
    "durable",
    "exclusive",
    "auto_delete",
    "no_ack",
    "alias",
    "bindings",
    "no_declare",
    "expires",
    "message_ttl",
    "max_length",
    "max_length_bytes",
    "max_priority",
}


def test_as_dict_has_kombus_keys(entity: Any) -> None:
    exchange = entity.Exchange("ex", "topic")
    settings = entity.Queue("q", exchange, "rk", max_priority=3).as_dict()

    assert set(settings) == KOMBU_QUEUE_KEYS
    assert settings["exchange"] is exchange
    assert (settings["name"], settings["routing_key"]) == ("q", "rk")
    assert settings["max_priority"] == 3


def test_as_dict_recurse_makes_the_exchange_a_dict(entity: Any) -> None:
    settings = entity.Queue("q", entity.Exchange("ex", "topic")).as_dict(recurse=True)

    assert settings["exchange"]["name"] == "ex"
    assert settings["exchange"]["type"] == "topic"


def test_from_dict_of_as_dict_round_trips(lib: Lib, entity: Any) -> None:
    queue = entity.Queue("q", entity.Exchange("ex", "topic"), "rk", max_priority=3)

    again = entity.Queue.from_dict(queue.name, **queue.as_dict())

    assert again.max_priority == 3
    if lib.is_kombu:
        # kombu wraps the Exchange object as a new exchange's name.
        assert again.exchange.name is queue.exchange
    else:
        assert again == queue


def test_content_disallowed_is_on_queue_and_consumer(lib: Lib) -> None:
    error = lib.attr("exceptions", "ContentDisallowed")

    assert lib.module("entity").Queue.ContentDisallowed is error
    assert lib.module("messaging").Consumer.ContentDisallowed is error


def test_exchange_repr_and_str(entity: Any) -> None:
    assert repr(entity.Exchange("ex", "topic")) == "<unbound Exchange ex(topic)>"
    assert str(entity.Exchange("ex")) == "Exchange ex(direct)"
    assert repr(entity.Exchange("")) == "<unbound Exchange ''(direct)>"


def test_queue_repr(entity: Any) -> None:
    queue = entity.Queue("q", entity.Exchange("ex"), "rk")

    assert repr(queue) == "<unbound Queue q -> <unbound Exchange ex(direct)> -> rk>"
    assert repr(entity.Queue("q")) == (
        "<unbound Queue q -> <unbound Exchange ''(direct)> -> >"
    )


def test_queue_repr_with_bindings(entity: Any) -> None:
    queue = entity.Queue("q", [entity.binding(entity.Exchange("ex"), "rk")])

    assert repr(queue) == "<unbound Queue q -> [ex->rk]>"


def test_bound_repr_names_the_channel(lib: Lib) -> None:
    with lib.top.Connection("memory://") as conn:
        channel = conn.channel()
        bound = lib.top.Exchange("ex")(channel)

        expected = f"<Exchange ex(direct) bound to chan:{channel.channel_id}>"
        assert repr(bound) == expected


@pytest.fixture
def memory_conn(lib: Lib) -> Iterator[Any]:
    with lib.top.Connection("memory://") as conn:
        yield conn


def test_queue_consume_and_cancel(lib: Lib, memory_conn: Any) -> None:
    channel = memory_conn.channel()
    queue = lib.top.Queue("q", lib.top.Exchange("ex"), "rk")(channel)
    queue.declare()
    lib.top.Producer(channel).publish(
        {"a": 1}, exchange="ex", routing_key="rk", serializer="json"
    )
    received: list[Any] = []

    queue.consume("tag1", callback=received.append, no_ack=True)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        memory_conn.drain_events(timeout=1)
    queue.cancel("tag1")

    assert channel.message_to_python(received[0]).payload == {"a": 1}
