"""DeclaredKeys: a set that counts every call that may remove keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kombu_lite.channel import DeclaredKeys

REMOVING: list[tuple[str, Callable[[DeclaredKeys], object]]] = [
    ("discard", lambda keys: keys.discard("a")),
    ("remove", lambda keys: keys.remove("a")),
    ("pop", lambda keys: keys.pop()),
    ("clear", lambda keys: keys.clear()),
    ("difference_update", lambda keys: keys.difference_update({"a"})),
    ("intersection_update", lambda keys: keys.intersection_update({"b"})),
    (
        "symmetric_difference_update",
        lambda keys: keys.symmetric_difference_update({"a"}),
    ),
    ("-=", lambda keys: keys.__isub__({"a"})),
    ("&=", lambda keys: keys.__iand__({"b"})),
    ("^=", lambda keys: keys.__ixor__({"a"})),
]


def _keys() -> DeclaredKeys:
    keys = DeclaredKeys()
    keys.update({"a", "b"})
    return keys


@pytest.mark.parametrize(("name", "operation"), REMOVING, ids=[n for n, _ in REMOVING])
def test_every_removing_call_is_counted(
    name: str, operation: Callable[[DeclaredKeys], object]
) -> None:
    keys = _keys()
    operation(keys)
    assert keys.removals == 1


@pytest.mark.parametrize(("name", "operation"), REMOVING, ids=[n for n, _ in REMOVING])
def test_a_removing_call_removes_as_a_set_does(
    name: str, operation: Callable[[DeclaredKeys], object]
) -> None:
    keys, plain = _keys(), {"a", "b"}
    operation(keys)
    operation(plain)  # type: ignore[arg-type]  # the same call on a set
    assert set(keys) == plain


def test_augmented_operators_keep_the_same_object() -> None:
    keys = _keys()
    same = keys
    keys -= {"a"}
    keys &= {"b"}
    keys ^= {"c"}
    assert keys is same
    assert keys.removals == 3
    assert keys == {"b", "c"}


def test_additions_are_not_counted() -> None:
    keys = _keys()
    keys.add("c")
    keys.update({"d"})
    keys |= {"e"}
    assert keys.removals == 0


def test_it_is_the_connections_declared_entities() -> None:
    from kombu_lite import Connection

    connection = Connection("memory://")
    assert isinstance(connection.declared_entities, DeclaredKeys)
