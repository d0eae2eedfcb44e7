"""Queue's typed keywords reach the broker, declared on both transports.

Each argument is shown to be on the broker by declaring the queue again
without it (or with another value): RabbitMQ, and memory:// like it, refuse
the redeclare with a 406 naming the argument.  memory:// refuses streams,
so those run on RabbitMQ only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import ConfigurationError, NotFound, PreconditionFailed

Cleanup = Callable[[Exchange | Queue], None]


def _declared(
    connection: Connection, cleanup: Cleanup, name: str, **keywords: Any
) -> Queue:
    queue = Queue(name, **keywords)
    cleanup(queue)
    dlx = queue.dead_letter_exchange
    if isinstance(dlx, Exchange):
        cleanup(dlx)
    queue.declare(channel=connection.channel())
    return queue


@pytest.mark.parametrize(
    ("keywords", "redeclared", "argument"),
    [
        pytest.param({"queue_type": "quorum"}, {}, "x-queue-type", id="quorum"),
        pytest.param(
            {"queue_type": "classic"},
            {"queue_type": "quorum"},
            "x-queue-type",
            id="classic",
        ),
        pytest.param(
            {"queue_type": "quorum", "delivery_limit": 3},
            {"queue_type": "quorum", "delivery_limit": 4},
            "x-delivery-limit",
            id="quorum-delivery-limit",
        ),
        pytest.param(
            {"queue_type": "quorum", "overflow": "reject-publish-dlx"},
            {"queue_type": "quorum", "overflow": "reject-publish"},
            "x-overflow",
            id="quorum-reject-publish-dlx",
        ),
        pytest.param(
            {"queue_type": "quorum", "single_active_consumer": True},
            {"queue_type": "quorum"},
            "x-single-active-consumer",
            id="quorum-single-active-consumer",
        ),
        pytest.param(
            {"dead_letter_exchange": "", "dead_letter_routing_key": "dead"},
            {"dead_letter_exchange": "", "dead_letter_routing_key": "other"},
            "x-dead-letter-routing-key",
            id="classic-dead-letter-routing-key",
        ),
        pytest.param(
            {"overflow": "drop-head", "max_length": 2},
            {"overflow": "reject-publish", "max_length": 2},
            "x-overflow",
            id="classic-overflow",
        ),
        pytest.param(
            {"single_active_consumer": True, "max_priority": 5},
            {"max_priority": 5},
            "x-single-active-consumer",
            id="classic-single-active-consumer",
        ),
    ],
)
def test_each_typed_keyword_is_declared(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    keywords: dict[str, Any],
    redeclared: dict[str, Any],
    argument: str,
) -> None:
    name = f"{unique}-q"
    _declared(connection, cleanup, name, **keywords)

    with pytest.raises(PreconditionFailed, match=f"inequivalent arg '{argument}'"):
        Queue(name, **redeclared).declare(channel=connection.channel())


def test_redeclaring_with_the_same_keywords_is_accepted(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    keywords: dict[str, Any] = {
        "queue_type": "quorum",
        "dead_letter_exchange": "",
        "dead_letter_routing_key": "dead",
        "delivery_limit": 2,
        "overflow": "reject-publish",
        "single_active_consumer": True,
    }
    queue = _declared(connection, cleanup, f"{unique}-q", **keywords)

    again = Queue(queue.name, **keywords)
    assert again.declare(channel=connection.channel()) == queue.name


def test_the_queue_type_is_the_one_declared(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = _declared(connection, cleanup, f"{unique}-q", queue_type="quorum")

    with pytest.raises(PreconditionFailed, match="current is 'quorum'"):
        Queue(queue.name, queue_type="classic").declare(channel=connection.channel())


def test_declare_declares_a_dead_letter_exchange(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dlx = Exchange(f"{unique}-dlx", "fanout")
    _declared(connection, cleanup, f"{unique}-q", dead_letter_exchange=dlx)

    # A passive declare raises NotFound for a missing exchange.
    Exchange(dlx.name, "fanout", passive=True).declare(channel=connection.channel())


def test_a_dead_letter_exchange_name_is_not_declared(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    _declared(connection, cleanup, f"{unique}-q", dead_letter_exchange=f"{unique}-dlx")

    with pytest.raises(NotFound):
        Exchange(f"{unique}-dlx", passive=True).declare(channel=connection.channel())


@pytest.mark.broker
def test_a_stream_is_declared_on_rabbitmq(rabbitmq: str, unique: str) -> None:
    stream = Queue(f"{unique}-s", queue_type="stream", max_length_bytes=1_000_000)
    with Connection(rabbitmq) as connection:
        try:
            stream.declare(channel=connection.channel())
            with pytest.raises(PreconditionFailed, match="current is 'stream'"):
                Queue(
                    stream.name, queue_type="classic", max_length_bytes=1_000_000
                ).declare(channel=connection.channel())
        finally:
            stream.delete(channel=connection.channel())


@pytest.mark.broker
@pytest.mark.parametrize(
    ("keywords", "exclusive", "arguments", "text"),
    [
        (
            {"queue_type": "quorum", "exclusive": True},
            True,
            {"x-queue-type": "quorum"},
            "invalid property 'exclusive-owner'",
        ),
        (
            {"queue_type": "quorum", "max_priority": 5},
            False,
            {"x-queue-type": "quorum", "x-max-priority": 5},
            "invalid arg 'x-max-priority'",
        ),
        (
            {"delivery_limit": 3},
            False,
            {"x-delivery-limit": 3},
            "invalid arg 'x-delivery-limit'",
        ),
        (
            {"queue_type": "stream", "message_ttl": 1},
            False,
            {"x-queue-type": "stream", "x-message-ttl": 1000},
            "invalid arg 'x-message-ttl'",
        ),
    ],
)
def test_what_queue_refuses_rabbitmq_refuses(
    rabbitmq: str,
    unique: str,
    keywords: dict[str, Any],
    exclusive: bool,
    arguments: dict[str, object],
    text: str,
) -> None:
    name = f"{unique}-q"
    with pytest.raises(ConfigurationError):
        Queue(name, **keywords)
    # The same declare sent raw: RabbitMQ 3.10 answers 406 (closing the
    # channel), so refusing it before sending loses nothing.
    with Connection(rabbitmq) as connection:
        try:
            with pytest.raises(PreconditionFailed, match=text):
                connection.channel().queue_declare(
                    name,
                    durable=True,
                    exclusive=exclusive,
                    auto_delete=False,
                    arguments=arguments,
                )
        finally:
            connection.channel().queue_delete(name)
