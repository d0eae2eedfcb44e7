"""Native delayed delivery shared by kombu and kombu_lite, on RabbitMQ.

The topology's names (``celery_delayed_*``) are shared infrastructure, so
these tests never touch the broker on 5672: each runs in virtual hosts of
its own on the private node kl1, deleted afterwards with everything in
them.  Both libraries must declare the same topology (listed by
``rabbitmqctl`` and compared, then declared again by the other library,
which RabbitMQ refuses with 406 if any argument differs), and a message
delayed by one library must reach the other's consumer after its
countdown, not before.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.cluster.nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.interop]

kombu = pytest.importorskip(
    "kombu", reason="kombu (the interop extra) is not installed"
)

COUNTDOWN = 2
#: The delay measured by the consumer may be this much shorter than the
#: countdown: the two clocks read are the test's, around the publish.
TOLERANCE = 0.05


@contextlib.contextmanager
def _vhost(node: PrivateNode, name: str) -> Iterator[str]:
    node.ctl("add_vhost", name)
    try:
        node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        node.ctl("delete_vhost", name)


def _library(name: str) -> tuple[ModuleType, ModuleType]:
    return (
        importlib.import_module(name),
        importlib.import_module(f"{name}.transport.native_delayed_delivery"),
    )


def _listed(node: PrivateNode, vhost: str, what: str, *fields: str) -> list[Any]:
    out = node.ctl("-p", vhost, "--formatter", "json", f"list_{what}", *fields)
    return sorted(json.loads(out), key=lambda row: json.dumps(row, sort_keys=True))


def _topology(node: PrivateNode, vhost: str) -> dict[str, list[Any]]:
    def arguments_as_dicts(rows: list[Any]) -> list[Any]:
        # rabbitmqctl lists arguments as [key, wire type, value] in storage
        # order; the wire type is compared too.
        for row in rows:
            row["arguments"] = {key: rest for key, *rest in row["arguments"]}
        return rows

    return {
        "queues": arguments_as_dicts(
            _listed(
                node, vhost, "queues", "name", "durable", "auto_delete", "arguments"
            )
        ),
        "exchanges": arguments_as_dicts(
            _listed(
                node,
                vhost,
                "exchanges",
                "name",
                "type",
                "durable",
                "auto_delete",
                "internal",
                "arguments",
            )
        ),
        "bindings": arguments_as_dicts(
            _listed(
                node,
                vhost,
                "bindings",
                "source_name",
                "destination_name",
                "destination_kind",
                "routing_key",
                "arguments",
            )
        ),
    }


@pytest.mark.parametrize(
    ("queue_type", "prefix"), [("classic", None), ("quorum", "app")]
)
def test_both_libraries_declare_the_same_topology(
    private_node: PrivateNode, unique: str, queue_type: str, prefix: str | None
) -> None:
    topologies = {}
    with contextlib.ExitStack() as stack:
        vhosts = {
            name: stack.enter_context(_vhost(private_node, f"{unique}-{name}"))
            for name in ("kombu", "kombu_lite")
        }
        for name, vhost in vhosts.items():
            top, ndd = _library(name)
            with top.Connection(private_node.vhost_url(vhost)) as conn:
                ndd.declare_native_delayed_delivery_exchanges_and_queues(
                    conn, queue_type, prefix
                )
            topologies[name] = _topology(private_node, vhost)
        # Each library declares again what the other declared: RabbitMQ
        # closes the channel (406) on any difference in the arguments.
        for name, other in (("kombu", "kombu_lite"), ("kombu_lite", "kombu")):
            top, ndd = _library(name)
            with top.Connection(private_node.vhost_url(vhosts[other])) as conn:
                ndd.declare_native_delayed_delivery_exchanges_and_queues(
                    conn, queue_type, prefix
                )
            assert _topology(private_node, vhosts[other]) == topologies[other]

    assert topologies["kombu_lite"] == topologies["kombu"]
    assert len(topologies["kombu_lite"]["queues"]) == 28


@pytest.mark.parametrize(
    ("producer_lib", "consumer_lib"),
    [("kombu_lite", "kombu"), ("kombu", "kombu_lite")],
)
def test_a_delayed_message_arrives_after_its_countdown(
    private_node: PrivateNode,
    unique: str,
    producer_lib: str,
    consumer_lib: str,
    record_property: Callable[[str, object], None],
) -> None:
    """The consumer's side sets the topology up (as a Celery worker does),
    the producer's side only computes the key and publishes (as a client)."""
    with _vhost(private_node, f"{unique}-delay") as vhost:
        url = private_node.vhost_url(vhost)
        consumer_top, consumer_ndd = _library(consumer_lib)
        producer_top, producer_ndd = _library(producer_lib)
        received: list[tuple[float, Any]] = []

        def on_message(body: Any, message: Any) -> None:
            received.append((time.monotonic(), body))
            message.ack()

        with consumer_top.Connection(url) as consumer_conn:
            consumer_ndd.declare_native_delayed_delivery_exchanges_and_queues(
                consumer_conn, "classic"
            )
            exchange = consumer_top.Exchange("tasks", type="topic")
            queue = consumer_top.Queue("tasks", exchange, routing_key="tasks.run")
            queue.declare(channel=consumer_conn.default_channel)
            consumer_ndd.bind_queue_to_native_delayed_delivery_exchange(
                consumer_conn, queue
            )
            with consumer_top.Consumer(
                consumer_conn, [queue], callbacks=[on_message], accept=["json"]
            ):
                with producer_top.Connection(url) as producer_conn:
                    producer = producer_top.Producer(producer_conn.default_channel)
                    sent = time.monotonic()
                    producer.publish(
                        {"from": producer_lib},
                        exchange=producer_ndd.level_name(producer_ndd.MAX_LEVEL),
                        routing_key=producer_ndd.calculate_routing_key(
                            COUNTDOWN, "tasks.run"
                        ),
                        serializer="json",
                    )
                deadline = sent + COUNTDOWN + 10
                while not received and time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError):
                        consumer_conn.drain_events(timeout=0.5)

    assert received, f"no message within {COUNTDOWN + 10} s"
    arrived, body = received[0]
    record_property("report:delay_s", round(arrived - sent, 3))
    assert body == {"from": producer_lib}
    assert arrived - sent >= COUNTDOWN - TOLERANCE
    assert arrived - sent < COUNTDOWN + 5
