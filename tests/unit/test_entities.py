"""Exchange, Queue and Binding as values: validation, equality, pickling."""

from __future__ import annotations

import pickle

import pytest

from kombu_lite import Connection, Exchange, Queue, binding
from kombu_lite.entity import maybe_delivery_mode
from kombu_lite.exceptions import ConfigurationError, NotBoundError


def test_exchange_defaults_match_kombu() -> None:
    ex = Exchange("x")

    assert (ex.name, ex.type, ex.durable, ex.auto_delete) == (
        "x",
        "direct",
        True,
        False,
    )
    assert (ex.delivery_mode, ex.arguments, ex.passive, ex.internal) == (
        None,
        None,
        False,
        False,
    )


def test_exchange_typo_keyword_is_an_error() -> None:
    with pytest.raises(TypeError, match="durible"):
        Exchange("x", durible=False)  # type: ignore[call-arg]


def test_queue_typo_keyword_is_an_error() -> None:
    with pytest.raises(TypeError, match="max_lenght"):
        Queue("q", max_lenght=10)  # type: ignore[call-arg]


def test_unknown_exchange_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="drect"):
        Exchange("x", type="drect")


def test_plugin_exchange_types_are_allowed() -> None:
    assert Exchange("x", type="x-delayed-message").type == "x-delayed-message"


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, None), (1, 1), (2, 2), ("transient", 1), ("persistent", 2)],
)
def test_delivery_modes(value: object, mode: int | None) -> None:
    assert maybe_delivery_mode(value) == mode  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 3, True, "durable"])
def test_bad_delivery_modes_are_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="delivery_mode"):
        maybe_delivery_mode(value)  # type: ignore[arg-type]


def test_exchange_name_must_be_a_str() -> None:
    with pytest.raises(ConfigurationError, match="name"):
        Exchange(5)  # type: ignore[arg-type]


def test_overlong_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="255"):
        Queue("q" * 256)


def test_exchange_equality_covers_the_declared_settings() -> None:
    assert Exchange("x", "topic") == Exchange("x", "topic")
    assert Exchange("x", "topic") != Exchange("x", "direct")
    assert Exchange("x", arguments={"a": [1]}) != Exchange("x", arguments={"a": [2]})
    assert Exchange("x") != "x"


def test_equal_exchanges_hash_alike() -> None:
    assert (
        len({Exchange("x", arguments={"a": [1]}), Exchange("x", arguments={"a": [1]})})
        == 1
    )


def test_exchange_repr_and_str() -> None:
    assert repr(Exchange("x", "topic")) == "<unbound Exchange x(topic)>"
    assert str(Exchange("x", "topic")) == "Exchange x(topic)"


def test_bound_copy_leaves_the_original_unbound() -> None:
    conn = Connection("memory://")
    ex = Exchange("x")

    bound = ex(conn)

    assert bound.is_bound
    assert not ex.is_bound
    assert bound == ex
    assert "bound to" in repr(bound)


def test_maybe_bind_binds_in_place_once() -> None:
    first, second = Connection("memory://"), Connection("memory://")
    ex = Exchange("x")

    assert ex.maybe_bind(first) is ex
    ex.maybe_bind(second)

    assert ex._channel is first


def test_unbound_entity_method_raises_not_bound() -> None:
    with pytest.raises(NotBoundError, match="not bound"):
        Exchange("x").declare()


def test_exchange_pickles_without_its_channel() -> None:
    ex = Exchange(
        "x",
        "fanout",
        durable=False,
        delivery_mode="transient",
        arguments={"alternate-exchange": "ae"},
    )(Connection("memory://"))

    copy = pickle.loads(pickle.dumps(ex))

    assert copy == ex
    assert not copy.is_bound


def test_queue_str_exchange_becomes_an_exchange() -> None:
    assert Queue("q", "ex", "rk").exchange == Exchange("ex")


def test_queue_bad_exchange_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="exchange"):
        Queue("q", exchange=5)  # type: ignore[arg-type]


def test_queue_routing_key_must_be_a_str() -> None:
    with pytest.raises(ConfigurationError, match="routing_key"):
        Queue("q", routing_key=None)  # type: ignore[arg-type]


def test_queue_bindings_must_be_bindings() -> None:
    with pytest.raises(ConfigurationError, match="Binding"):
        Queue("q", bindings=["x"])  # type: ignore[list-item]


def test_queue_shorthand_arguments_become_x_arguments() -> None:
    queue = Queue(
        "q",
        expires=10,
        message_ttl=1.5,
        max_length=5,
        max_length_bytes=1000,
        max_priority=9,
        queue_arguments={"x-queue-mode": "lazy"},
    )

    assert queue.declare_arguments == {
        "x-queue-mode": "lazy",
        "x-expires": 10000,
        "x-message-ttl": 1500,
        "x-max-length": 5,
        "x-max-length-bytes": 1000,
        "x-max-priority": 9,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expires": 0},
        {"message_ttl": -1},
        {"max_length": -1},
        {"max_priority": 256},
        {"max_length": 1.5},
        {"expires": "soon"},
    ],
)
def test_queue_bad_shorthand_values_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Queue("q", **kwargs)  # type: ignore[arg-type]


def test_queue_equality_includes_the_binding() -> None:
    ex = Exchange("ex")
    assert Queue("q", ex, "k1") == Queue("q", ex, "k1")
    assert Queue("q", ex, "k1") != Queue("q", ex, "k2")
    assert Queue("q", ex, "k1").declare_key != Queue("q", ex, "k2").declare_key
    assert Queue("q") != "q"


def test_queue_pickles() -> None:
    queue = Queue(
        "q",
        Exchange("ex", "topic"),
        "a.#",
        max_priority=5,
        bindings=[binding(Exchange("other"), "k")],
    )

    copy = pickle.loads(pickle.dumps(queue))

    assert copy == queue
    assert hash(copy) == hash(queue)


def test_queue_repr_names_exchange_and_key() -> None:
    text = repr(Queue("q", Exchange("ex"), "rk"))
    assert text == "<unbound Queue q -> <unbound Exchange ex(direct)> -> rk>"


@pytest.mark.parametrize(
    ("queue", "cacheable"),
    [
        (Queue("q"), True),
        (Queue(""), False),
        (Queue("q", auto_delete=True), False),
        (Queue("q", exclusive=True), False),
        (Queue("q", expires=5), False),
    ],
)
def test_which_queues_the_declare_cache_may_skip(queue: Queue, cacheable: bool) -> None:
    assert queue.can_cache_declaration is cacheable


def test_auto_delete_exchange_is_not_cached() -> None:
    assert Exchange("x").can_cache_declaration
    assert not Exchange("x", auto_delete=True).can_cache_declaration


def test_binding_values() -> None:
    ex = Exchange("ex")
    b = binding(ex, "rk", arguments={"x-match": "any"})

    assert b == binding(ex, "rk", arguments={"x-match": "any"})
    assert b != binding(ex, "other")
    assert b != "ex->rk"
    assert str(b) == "ex->rk"
    assert repr(b) == "<binding: ex->rk>"
    assert hash(b) == hash(binding(ex, "rk", arguments={"x-match": "any"}))
    assert str(binding()) == "->"


def test_binding_needs_an_exchange_object() -> None:
    with pytest.raises(ConfigurationError, match="Exchange"):
        binding("ex")  # type: ignore[arg-type]


def test_queue_without_exchange_cannot_bind() -> None:
    conn = Connection("memory://")
    with pytest.raises(ConfigurationError, match="no exchange"):
        Queue("q")(conn).queue_bind()
    with pytest.raises(ConfigurationError, match="no exchange"):
        Queue("q")(conn).queue_unbind()


def test_exchange_message_is_persistent_by_default() -> None:
    message = Exchange("x").Message(b"body")

    assert message.properties.delivery_mode == 2


def test_exchange_message_takes_a_delivery_mode_given_in_properties() -> None:
    message = Exchange("x").Message(b"body", properties={"delivery_mode": "transient"})

    assert message.properties.delivery_mode == 1


def test_exchange_message_refuses_a_bad_delivery_mode_in_properties() -> None:
    with pytest.raises(ConfigurationError, match="delivery_mode"):
        Exchange("x").Message(b"body", properties={"delivery_mode": 3})


def test_queue_declare_key_follows_a_binding_edited_in_place() -> None:
    bound = binding(Exchange("ex"), "k1")
    queue = Queue("q", bindings=[bound])
    before = queue.declare_key

    bound.routing_key = "k2"

    assert queue.declare_key != before
    assert (
        queue.declare_key
        == Queue("q", bindings=[binding(Exchange("ex"), "k2")]).declare_key
    )
