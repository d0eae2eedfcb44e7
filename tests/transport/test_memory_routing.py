"""Properties of the memory broker's topic and headers matchers.

The topic matcher is checked against a direct recursive reading of the AMQP
rule (``*`` one word, ``#`` zero or more); the headers matcher against the
``x-match`` rules.  The example tables pin the edge cases that were checked
against RabbitMQ 3.10.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kombu_lite.transport.memory.routing import (
    X_MATCH_MODES,
    headers_match,
    split_topic,
    topic_matches,
    x_match_error,
)

# Small alphabets make collisions (and so matches) likely.
literal_words = st.sampled_from(["a", "b", "c", ""])
pattern_words = st.sampled_from(["a", "b", "c", "", "*", "#"])
routing_keys = st.lists(literal_words, max_size=6).map(".".join)
binding_keys = st.lists(pattern_words, max_size=6).map(".".join)


@cache
def reference_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    """The AMQP topic rule, read literally."""
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return reference_match(rest, words) or (
            bool(words) and reference_match(pattern, words[1:])
        )
    if not words:
        return False
    return head in ("*", words[0]) and reference_match(rest, words[1:])


# -- topic ----------------------------------------------------------------------


@given(binding_keys, routing_keys)
def test_topic_matching_agrees_with_the_amqp_rule(binding: str, key: str) -> None:
    assert topic_matches(binding, key) == reference_match(
        split_topic(binding), split_topic(key)
    )


@given(routing_keys, routing_keys)
def test_a_binding_without_wildcards_matches_only_the_same_key(
    binding: str, key: str
) -> None:
    assert topic_matches(binding, key) == (binding == key)


@given(routing_keys)
def test_hash_alone_matches_every_key(key: str) -> None:
    assert topic_matches("#", key)


@given(routing_keys.filter(bool), st.data())
def test_replacing_one_word_with_a_star_still_matches(
    key: str, data: st.DataObject
) -> None:
    words = split_topic(key)
    index = data.draw(st.integers(0, len(words) - 1))
    pattern = [*words[:index], "*", *words[index + 1 :]]
    assert topic_matches(".".join(pattern), key)


@given(routing_keys, st.data())
def test_replacing_any_run_of_words_with_a_hash_still_matches(
    key: str, data: st.DataObject
) -> None:
    words = split_topic(key)
    start = data.draw(st.integers(0, len(words)))
    end = data.draw(st.integers(start, len(words)))
    pattern = [*words[:start], "#", *words[end:]]
    assert topic_matches(".".join(pattern), key)


@given(st.integers(1, 5), st.lists(literal_words, max_size=6))
def test_stars_match_exactly_that_many_words(stars: int, words: list[str]) -> None:
    key = ".".join(words)
    assert topic_matches(".".join(["*"] * stars), key) == (
        len(split_topic(key)) == stars
    )


@given(routing_keys)
def test_splitting_a_key_into_words_loses_nothing(key: str) -> None:
    assert ".".join(split_topic(key)) == key


@pytest.mark.parametrize(
    ("binding", "key", "expected"),
    [
        ("a.#", "a", True),
        ("#", "", True),
        ("*", "", False),
        ("*", ".", False),
        ("*.*", ".", True),
        ("", "", True),
        ("a.*", "a.", True),
        ("a.*.#", "a", False),
        ("#.a", "a", True),
        ("a.#.b", "a.b", True),
        ("a#", "a", False),
        ("a#", "a#", True),
        ("a*", "ab", False),
        ("a.*", "a.*", True),
    ],
)
def test_topic_edge_cases_match_as_on_rabbitmq(
    binding: str, key: str, expected: bool
) -> None:
    assert topic_matches(binding, key) is expected


# -- headers --------------------------------------------------------------------

header_names = st.sampled_from(["a", "b", "c", "d"])
# Values from one type each side of the match, so equality is plain ==.
header_values = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y"]))
header_tables = st.dictionaries(header_names, header_values, max_size=4)


@given(header_tables, header_tables)
def test_all_matches_when_every_bound_header_is_present_and_equal(
    binding: dict[str, object], headers: dict[str, object]
) -> None:
    expected = all(key in headers and headers[key] == binding[key] for key in binding)
    assert headers_match(binding, headers) == expected


@given(header_tables, header_tables)
def test_any_matches_when_one_bound_header_is_present_and_equal(
    binding: dict[str, object], headers: dict[str, object]
) -> None:
    expected = any(key in headers and headers[key] == binding[key] for key in binding)
    assert headers_match({"x-match": "any", **binding}, headers) == expected


@given(st.sampled_from(["all", "any"]), header_tables, header_tables, header_tables)
def test_headers_the_binding_does_not_name_never_matter(
    mode: str,
    binding: dict[str, object],
    headers: dict[str, object],
    extra: dict[str, object],
) -> None:
    unnamed = {key: value for key, value in extra.items() if key not in binding}
    arguments = {"x-match": mode, **binding}
    assert headers_match(arguments, headers | unnamed) == headers_match(
        arguments, headers
    )


@given(
    st.sampled_from(["all", "any"]),
    header_tables,
    header_tables,
    st.dictionaries(st.sampled_from(["x-a", "x-b"]), header_values, max_size=2),
)
def test_x_prefixed_binding_keys_are_ignored_without_with_x(
    mode: str,
    binding: dict[str, object],
    headers: dict[str, object],
    extra: dict[str, object],
) -> None:
    plain = {"x-match": mode, **binding}
    assert headers_match(plain | extra, headers) == headers_match(plain, headers)


@given(st.sampled_from(["all", "any"]), header_tables, header_tables)
def test_binding_key_order_does_not_matter(
    mode: str, binding: dict[str, object], headers: dict[str, object]
) -> None:
    reordered = dict(reversed(list(binding.items())))
    assert headers_match({"x-match": mode, **binding}, headers) == headers_match(
        {"x-match": mode, **reordered}, headers
    )


@given(header_names, header_values)
def test_a_void_binding_value_only_asks_for_presence(name: str, value: object) -> None:
    assert headers_match({name: None}, {name: value})
    assert not headers_match({name: None}, {})


@given(st.sampled_from(sorted(X_MATCH_MODES)))
def test_every_rabbitmq_x_match_mode_is_valid(mode: str) -> None:
    assert x_match_error({"x-match": mode}) is None


@pytest.mark.parametrize(
    ("binding", "headers", "expected"),
    [
        ({}, {}, True),
        ({}, None, True),
        ({"x-match": "any"}, {"a": 1}, False),
        ({"a": 1}, {"a": True}, False),
        ({"a": True}, {"a": 1}, False),
        ({"a": 0}, {"a": False}, False),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1.0}, {"a": 1}, True),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": 1}, {"a": None}, False),
        ({"a": "v"}, {"a": b"v"}, True),
        ({"a": 1}, {"a": Decimal(1)}, False),
        ({"a": Decimal("1.0")}, {"a": Decimal("1.0")}, True),
        ({"a": {"n": 1}}, {"a": {"n": 1.0}}, False),
        ({"a": {"n": 1, "m": 2}}, {"a": {"m": 2, "n": 1}}, False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": [1]}, {"a": (1,)}, True),
        ({"x-match": "all-with-x", "x-foo": 2}, {"x-foo": 2}, True),
        ({"x-match": "all-with-x", "x-foo": 2}, {}, False),
        ({"x-match": "any-with-x", "x-foo": 2}, {"x-foo": 2}, True),
        ({"x-match": "any", "x-foo": 2}, {"x-foo": 2}, False),
        ({"x-match": b"any", "a": 1}, {"a": 1}, True),
    ],
)
def test_header_edge_cases_match_as_on_rabbitmq(
    binding: dict[str, object], headers: dict[str, object] | None, expected: bool
) -> None:
    assert headers_match(binding, headers) is expected


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"x-match": "some"}, 'Invalid x-match field value <<"some">>'),
        ({"x-match": b"some"}, 'Invalid x-match field value <<"some">>'),
        ({"x-match": 5}, "Invalid x-match field type signedint (value 5)"),
        ({"x-match": True}, "Invalid x-match field type bool (value true)"),
    ],
)
def test_an_invalid_x_match_is_described_as_rabbitmq_does(
    arguments: dict[str, object], problem: str
) -> None:
    error = x_match_error(arguments)
    assert error is not None
    assert error.startswith(problem)


@pytest.mark.parametrize("arguments", [None, {}, {"color": "red"}])
def test_bindings_without_x_match_are_valid(
    arguments: dict[str, object] | None,
) -> None:
    assert x_match_error(arguments) is None


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (None, "void"),
        (2**40, "long"),
        (1.5, "double"),
        (Decimal("1.5"), "decimal"),
        (datetime(2024, 1, 1, tzinfo=UTC), "timestamp"),
        ({"k": "v"}, "table"),
        (["v"], "array"),
        ({1, 2}, "set"),
    ],
)
def test_an_x_match_of_the_wrong_type_names_the_field_type(
    value: object, type_name: str
) -> None:
    error = x_match_error({"x-match": value})
    assert error is not None
    assert error.startswith(f"Invalid x-match field type {type_name} ")


def test_timestamps_match_by_the_second() -> None:
    moment = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = moment.replace(microsecond=500)
    assert headers_match({"at": moment}, {"at": later})
    assert not headers_match({"at": moment}, {"at": moment.replace(second=1)})
