"""``kombu.simple``: SimpleQueue with a serializer its accept list leaves out.

kombu code builds such a queue to read only; it must construct.  What
happens to a message the queue cannot decode differs (listed on
docs/migrating.rst): kombu raises ``ContentDisallowed`` out of ``get()``,
kombu_lite hands the message out and raises it from ``payload``.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Lib


@pytest.fixture
def connection(lib: Lib) -> Any:
    connection = lib.top.Connection("memory://")
    yield connection
    connection.release()


def test_a_queue_whose_serializer_accept_leaves_out_constructs(
    connection: Any,
) -> None:
    with connection.SimpleQueue(
        "compat-simple", serializer="pickle", accept=["json"]
    ) as queue:
        queue.put({"n": 1}, serializer="json")
        message = queue.get(timeout=1)
        assert message.payload == {"n": 1}
        message.ack()


def test_the_simple_queue_class_takes_the_same_arguments(
    lib: Lib, connection: Any
) -> None:
    simple_queue = lib.attr("simple", "SimpleQueue")

    queue = simple_queue(
        connection, "compat-simple-class", serializer="pickle", accept=["json"]
    )

    queue.close()


def test_a_pickled_message_is_refused_on_get(lib: Lib, connection: Any) -> None:
    disallowed = lib.attr("exceptions", "ContentDisallowed")
    with connection.SimpleQueue("compat-simple-refused", accept=["json"]) as queue:
        producer = connection.Producer()
        producer.publish(
            {"n": 1}, routing_key="compat-simple-refused", serializer="pickle"
        )

        if lib.is_kombu:
            with pytest.raises(disallowed):
                queue.get(timeout=1)
        else:
            message = queue.get(timeout=1)
            with pytest.raises(disallowed):
                _ = message.payload
            message.reject()


def test_put_with_the_refused_serializer(lib: Lib, connection: Any) -> None:
    with connection.SimpleQueue(
        "compat-simple-put", serializer="pickle", accept=["json"]
    ) as queue:
        if lib.is_kombu:
            queue.put({"n": 1})  # sent; get() would refuse it
        else:
            # Refused before sending: get() could not read it back.
            with pytest.raises(lib.attr("exceptions", "ConfigurationError")):
                queue.put({"n": 1})
