"""build_publication builds its named tuple with tuple.__new__ (the hot
path), which checks no field count: this keeps the two in step."""

from __future__ import annotations

from kombu_lite import Connection, Producer, Queue
from kombu_lite.messaging.pipeline import build_publication
from kombu_lite.publication import Publication


def test_build_publication_gives_every_field_of_publication() -> None:
    with Connection("memory://") as connection:
        producer = Producer(connection, routing_key="rk")
        queue = Queue("q")
        publication = build_publication(
            producer, {"a": 1}, None, 1, True, False, 5, None, None, None,
            {"h": 1}, None, None, False, [queue], None, 2.0, {},
        )  # fmt: skip
    assert len(publication) == len(Publication._fields)
    assert publication == Publication(
        exchange="",
        routing_key="rk",
        body={"a": 1},
        codec=publication.codec,
        headers={"h": 1},
        delivery_mode=1,
        priority=5,
        properties={},
        mandatory=True,
        declare=(queue,),
        confirm_timeout=2.0,
    )
