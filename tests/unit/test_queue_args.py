"""Queue's typed x- argument keywords: mapping, validation, value semantics.

The refused combinations are those RabbitMQ 3.10.8 refused with a 406 when
declared on the broker on 5672 (tests/behaviour/test_queue_types.py declares
the accepted ones there).
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from kombu_lite import Exchange, Queue
from kombu_lite.exceptions import ConfigurationError


def test_typed_keywords_become_x_arguments() -> None:
    queue = Queue(
        "q",
        queue_type="quorum",
        dead_letter_exchange=Exchange("dlx"),
        dead_letter_routing_key="dead",
        delivery_limit=5,
        overflow="reject-publish-dlx",
        single_active_consumer=True,
    )

    assert queue.declare_arguments == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "dlx",
        "x-dead-letter-routing-key": "dead",
        "x-delivery-limit": 5,
        "x-overflow": "reject-publish-dlx",
        "x-single-active-consumer": True,
    }


def test_unset_typed_keywords_add_no_arguments() -> None:
    assert Queue("q").declare_arguments is None
    assert Queue("q", single_active_consumer=False).declare_arguments is None


def test_dead_letter_exchange_may_be_a_name_or_the_default_exchange() -> None:
    assert Queue("q", dead_letter_exchange="dlx").declare_arguments == {
        "x-dead-letter-exchange": "dlx"
    }
    default = Queue("q", dead_letter_exchange="", dead_letter_routing_key="dead")
    assert default.declare_arguments == {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "dead",
    }


def test_typed_and_kombu_keywords_merge_with_queue_arguments() -> None:
    queue = Queue(
        "q",
        queue_type="classic",
        message_ttl=1.5,
        max_length=10,
        queue_arguments={"x-queue-mode": "lazy"},
    )

    assert queue.declare_arguments == {
        "x-queue-mode": "lazy",
        "x-queue-type": "classic",
        "x-message-ttl": 1500,
        "x-max-length": 10,
    }


@pytest.mark.parametrize(
    ("keywords", "key"),
    [
        (
            {"queue_type": "quorum", "queue_arguments": {"x-queue-type": "classic"}},
            "x-queue-type",
        ),
        (
            {"message_ttl": 1, "queue_arguments": {"x-message-ttl": 2000}},
            "x-message-ttl",
        ),
        ({"max_length": 1, "queue_arguments": {"x-max-length": 2}}, "x-max-length"),
        (
            {
                "single_active_consumer": True,
                "queue_arguments": {"x-single-active-consumer": 1},
            },
            "x-single-active-consumer",
        ),
        (
            {
                "dead_letter_exchange": Exchange("a"),
                "queue_arguments": {"x-dead-letter-exchange": "b"},
            },
            "x-dead-letter-exchange",
        ),
    ],
)
def test_a_keyword_conflicting_with_queue_arguments_is_refused(
    keywords: dict[str, Any], key: str
) -> None:
    with pytest.raises(
        ConfigurationError, match=f"sets {key} to .* but queue_arguments has {key}="
    ):
        Queue("q", **keywords)


def test_a_keyword_repeating_queue_arguments_is_accepted() -> None:
    queue = Queue(
        "q",
        queue_type="quorum",
        message_ttl=2,
        queue_arguments={"x-queue-type": "quorum", "x-message-ttl": 2000},
    )

    assert queue.declare_arguments == {"x-queue-type": "quorum", "x-message-ttl": 2000}


@pytest.mark.parametrize(
    ("keywords", "problem"),
    [
        (
            {"queue_type": "lazy"},
            "queue_type must be one of 'classic', 'quorum', 'stream'",
        ),
        ({"queue_type": 1}, "queue_type must be one of"),
        ({"overflow": "drop-tail"}, "overflow must be one of 'drop-head'"),
        (
            {"delivery_limit": -1, "queue_type": "quorum"},
            "delivery_limit must be an int >= 0",
        ),
        (
            {"delivery_limit": True, "queue_type": "quorum"},
            "delivery_limit must be an int",
        ),
        (
            {"delivery_limit": "3", "queue_type": "quorum"},
            "delivery_limit must be an int",
        ),
        ({"single_active_consumer": 1}, "single_active_consumer must be True or False"),
        ({"dead_letter_exchange": 5}, "dead_letter_exchange must be an Exchange or"),
        (
            {"dead_letter_exchange": "d", "dead_letter_routing_key": b"k"},
            "dead_letter_routing_key must be a str",
        ),
    ],
)
def test_bad_typed_values_are_refused(keywords: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Queue("q", **keywords)


@pytest.mark.parametrize("queue_type", ["quorum", "stream"])
@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"durable": False}, "must be durable"),
        ({"exclusive": True}, "cannot be exclusive"),
        ({"auto_delete": True}, "cannot be auto-delete"),
    ],
)
def test_replicated_queues_refuse_what_rabbitmq_refuses(
    queue_type: str, flags: dict[str, bool], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"a {queue_type} queue {problem}"):
        Queue("q", queue_type=queue_type, **flags)  # type: ignore[arg-type]


def test_a_quorum_queue_needs_a_name() -> None:
    with pytest.raises(ConfigurationError, match="needs a name"):
        Queue("", queue_type="quorum")


def test_the_rules_apply_to_a_type_given_in_queue_arguments() -> None:
    with pytest.raises(ConfigurationError, match="a quorum queue cannot be exclusive"):
        Queue("q", exclusive=True, queue_arguments={"x-queue-type": "quorum"})


@pytest.mark.parametrize(
    ("keywords", "problem"),
    [
        (
            {"queue_type": "quorum", "max_priority": 5},
            r"x-max-priority \(max_priority\) on a quorum queue",
        ),
        (
            {"queue_type": "quorum", "queue_arguments": {"x-queue-mode": "lazy"}},
            "x-queue-mode on a quorum",
        ),
        (
            {"delivery_limit": 3},
            r"x-delivery-limit \(delivery_limit\) on a classic queue \(one without",
        ),
        ({"queue_type": "classic", "delivery_limit": 3}, "set queue_type='quorum'"),
        (
            {"queue_type": "stream", "message_ttl": 1},
            "x-message-ttl .* on a stream queue",
        ),
        ({"queue_type": "stream", "expires": 10}, "x-expires .* on a stream queue"),
        ({"queue_type": "stream", "max_length": 10}, "x-max-length .* on a stream"),
        (
            {"queue_type": "stream", "dead_letter_exchange": "d"},
            "x-dead-letter-exchange .* on a stream",
        ),
        (
            {"queue_type": "stream", "overflow": "drop-head"},
            "x-overflow .* on a stream",
        ),
        (
            {"queue_type": "stream", "single_active_consumer": True},
            "x-single-active-consumer .* on a stream",
        ),
        (
            {"queue_type": "stream", "delivery_limit": 1},
            "x-delivery-limit .* on a stream",
        ),
    ],
)
def test_arguments_rabbitmq_refuses_on_a_queue_type_are_refused(
    keywords: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Queue("q", **keywords)


def test_a_dead_letter_routing_key_needs_a_dead_letter_exchange() -> None:
    with pytest.raises(ConfigurationError, match="routing_key_but_no_dlx_defined"):
        Queue("q", dead_letter_routing_key="dead")


def test_a_dead_letter_exchange_in_queue_arguments_serves_the_routing_key() -> None:
    queue = Queue(
        "q",
        dead_letter_routing_key="dead",
        queue_arguments={"x-dead-letter-exchange": ""},
    )

    assert queue.declare_arguments == {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "dead",
    }


@pytest.mark.parametrize(
    "keywords",
    [
        {"queue_type": "quorum", "overflow": "reject-publish-dlx", "delivery_limit": 0},
        {"queue_type": "quorum", "single_active_consumer": True, "expires": 60},
        {"queue_type": "stream", "max_length_bytes": 10_000},
        {"queue_type": "classic", "max_priority": 5, "overflow": "reject-publish-dlx"},
        {"queue_arguments": {"x-queue-type": "x-plugin-type"}, "exclusive": True},
    ],
)
def test_combinations_rabbitmq_accepts_are_accepted(keywords: dict[str, Any]) -> None:
    assert Queue("q", **keywords).declare_arguments


def test_typed_keywords_take_part_in_equality() -> None:
    assert Queue("q", queue_type="quorum") == Queue(
        "q", queue_arguments={"x-queue-type": "quorum"}
    )
    assert Queue("q", queue_type="quorum") != Queue("q", queue_type="classic")
    # An Exchange is declared with the queue, a name is not.
    assert Queue("q", dead_letter_exchange=Exchange("d")) != Queue(
        "q", dead_letter_exchange="d"
    )
    assert hash(Queue("q", dead_letter_exchange=Exchange("d"))) == hash(
        Queue("q", dead_letter_exchange=Exchange("d"))
    )


def _full_queue() -> Queue:
    return Queue(
        "q",
        Exchange("ex", "topic"),
        "rk",
        queue_type="quorum",
        dead_letter_exchange=Exchange("dlx", "fanout"),
        dead_letter_routing_key="dead",
        delivery_limit=3,
        overflow="reject-publish",
        single_active_consumer=True,
    )


def test_typed_keywords_pickle() -> None:
    queue = _full_queue()
    copy = pickle.loads(pickle.dumps(queue))

    assert copy == queue
    assert copy.dead_letter_exchange == Exchange("dlx", "fanout")
    assert (copy.delivery_limit, copy.overflow, copy.single_active_consumer) == (
        3,
        "reject-publish",
        True,
    )


@pytest.mark.parametrize("recurse", [False, True])
def test_typed_keywords_go_through_as_dict_and_from_dict(recurse: bool) -> None:
    queue = _full_queue()
    options = queue.as_dict(recurse=recurse)

    assert options["queue_type"] == "quorum"
    assert options["dead_letter_exchange"] == (
        Exchange("dlx", "fanout").as_dict(recurse=True)
        if recurse
        else Exchange("dlx", "fanout")
    )
    options.pop("name")
    rebuilt = Queue.from_dict("q", **options)
    assert rebuilt == queue
    assert rebuilt.as_dict(recurse=recurse) == queue.as_dict(recurse=recurse)


def test_from_dict_takes_a_dead_letter_exchange_name() -> None:
    queue = Queue.from_dict("q", dead_letter_exchange="dlx", queue_type="classic")

    assert queue.dead_letter_exchange == "dlx"
    assert queue.declare_arguments == {
        "x-dead-letter-exchange": "dlx",
        "x-queue-type": "classic",
    }


def test_repr_shows_the_typed_keywords() -> None:
    assert repr(_full_queue()) == (
        "<unbound Queue q -> <unbound Exchange ex(topic)> -> rk [quorum, "
        "dead-letter -> 'dlx'/'dead', delivery_limit=3, overflow=reject-publish, "
        "single-active-consumer]>"
    )


def test_repr_of_a_queue_without_typed_keywords_is_kombus() -> None:
    assert repr(Queue("q", Exchange("ex"), "rk", max_length=3)) == (
        "<unbound Queue q -> <unbound Exchange ex(direct)> -> rk>"
    )


def test_repr_with_bindings_shows_the_typed_keywords() -> None:
    from kombu_lite import binding

    queue = Queue("q", [binding(Exchange("ex"), "a")], dead_letter_exchange="")

    assert repr(queue).endswith("[dead-letter -> '']>")


def test_as_dict_leaves_out_unset_typed_keywords() -> None:
    options = Queue("q", queue_type="classic").as_dict()

    assert options["queue_type"] == "classic"
    assert not {
        "dead_letter_exchange",
        "dead_letter_routing_key",
        "delivery_limit",
        "overflow",
        "single_active_consumer",
    } & set(options)


def test_as_dict_keeps_a_default_exchange_dead_letter_target() -> None:
    options = Queue("q", dead_letter_exchange="").as_dict()

    assert options["dead_letter_exchange"] == ""
    assert Queue.from_dict("q", **{**options, "name": None}) == Queue(
        "q", dead_letter_exchange=""
    )
