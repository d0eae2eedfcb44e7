"""Pure routing matchers of the memory broker: topic and headers exchanges.

Nothing here touches broker state, so the rules can be property-tested on
their own.  The semantics are RabbitMQ's (checked against RabbitMQ 3.10):

* **topic**: keys are split on ``.`` into words (the empty key has no words,
  ``'a.'`` has the words ``'a'`` and ``''``); in a binding key ``*`` matches
  exactly one word and ``#`` zero or more words, so ``'a.#'`` matches ``'a'``
  and ``'#'`` matches ``''``.  Wildcards only count as whole words: ``'a#'``
  is a literal word.
* **headers**: the binding's ``x-match`` is ``all`` (the default), ``any``,
  ``all-with-x`` or ``any-with-x``.  Binding keys starting with ``x-`` are
  ignored unless the mode ends in ``-with-x``; ``x-match`` itself never takes
  part.  A binding value of ``None`` (AMQP void) only asks for the header to
  be present.  ``all`` with no keys matches every message, ``any`` with no
  keys matches none.

Values are compared the way RabbitMQ compares decoded AMQP field values: at
the top level numbers compare by value (``1`` equals ``1.0``) but a boolean
never equals a number, ``str`` and ``bytes`` compare as their UTF-8 bytes
(both travel as ``longstr``), and nested tables and arrays must match
exactly, key order and field types included.
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from kombu_lite.transport.memory.replies import amqp_type_name, describe_value

__all__ = [
    "X_MATCH_MODES",
    "headers_match",
    "split_topic",
    "topic_matches",
    "x_match_error",
]

#: The values RabbitMQ accepts for a headers binding's ``x-match`` argument.
X_MATCH_MODES: frozenset[str] = frozenset({"all", "any", "all-with-x", "any-with-x"})


def split_topic(key: str) -> tuple[str, ...]:
    """Split a topic routing or binding key into words (``''`` has none)."""
    return () if key == "" else tuple(key.split("."))


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """Return whether ``routing_key`` matches the topic ``binding_key``."""
    return _match_words(split_topic(binding_key), split_topic(routing_key))


def _match_words(pattern: Sequence[str], words: Sequence[str]) -> bool:
    # Glob matching over words with backtracking to the last '#': '#' plays
    # the role of a shell '*' and '*' that of '?'.  Linear in practice and
    # O(len(pattern) * len(words)) at worst, never exponential.
    p = w = 0
    hash_at = -1
    resume_w = 0
    n_pattern, n_words = len(pattern), len(words)
    while w < n_words:
        if p < n_pattern and pattern[p] == "#":
            hash_at, resume_w = p, w
            p += 1
        elif p < n_pattern and (pattern[p] == "*" or pattern[p] == words[w]):
            p += 1
            w += 1
        elif hash_at >= 0:
            # Let the last '#' swallow one more word and retry after it.
            resume_w += 1
            p, w = hash_at + 1, resume_w
        else:
            return False
    while p < n_pattern and pattern[p] == "#":
        p += 1
    return p == n_pattern


def x_match_error(arguments: Mapping[str, object] | None) -> str | None:
    """Return RabbitMQ's complaint about a headers binding, or None if valid.

    RabbitMQ refuses such a binding with 406 PRECONDITION_FAILED.
    """
    if not arguments or "x-match" not in arguments:
        return None
    mode = arguments["x-match"]
    if isinstance(mode, bytes):
        mode = mode.decode("utf-8", "replace")
    if not isinstance(mode, str):
        return (
            f"Invalid x-match field type {amqp_type_name(mode)} "
            f"(value {describe_value(mode)}); expected longstr"
        )
    if mode not in X_MATCH_MODES:
        return (
            f'Invalid x-match field value <<"{mode}">>; expected all, any, '
            "all-with-x, or any-with-x"
        )
    return None


def headers_match(
    binding_arguments: Mapping[str, object] | None,
    headers: Mapping[str, object] | None,
) -> bool:
    """Return whether a message's ``headers`` satisfy a headers binding.

    ``binding_arguments`` must have passed :func:`x_match_error`.
    """
    arguments = binding_arguments or {}
    message_headers = headers or {}
    mode = arguments.get("x-match", "all")
    if isinstance(mode, bytes):
        mode = mode.decode()
    match_all = mode in ("all", "all-with-x")
    with_x = mode in ("all-with-x", "any-with-x")
    for key, expected in arguments.items():
        if key == "x-match" or (not with_x and key.startswith("x-")):
            continue
        if key in message_headers and (
            expected is None or _field_equal(expected, message_headers[key])
        ):
            if not match_all:
                return True
        elif match_all:
            return False
    return match_all


def _field_equal(expected: object, actual: object) -> bool:
    # Erlang's == on decoded field values: numbers by value across int and
    # float, booleans are atoms (never equal to numbers), strings are binaries.
    if _is_number(expected) and _is_number(actual):
        return expected == actual
    return _typed(expected) == _typed(actual)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _typed(value: object) -> object:
    """Return a comparable form of a field value tagged with its AMQP type."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    if isinstance(value, str):
        return ("str", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray | memoryview):
        return ("str", bytes(value))
    if isinstance(value, Decimal):
        # py-amqp sends scale and unscaled value: Decimal('1.0') != Decimal('1').
        return ("decimal", value.as_tuple())
    if isinstance(value, _dt.datetime):
        # As py-amqp encodes it: whole seconds, a naive value taken as UTC.
        return ("timestamp", calendar.timegm(value.utctimetuple()))
    if isinstance(value, Mapping):
        return ("table", tuple((key, _typed(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_typed(item) for item in value))
    return ("other", value)
