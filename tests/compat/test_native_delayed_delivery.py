"""``transport.native_delayed_delivery``: names and routing keys as kombu's.

The same bodies run against kombu 5.5+'s module and kombu_lite's: the
constants, the level names and the routing keys must be equal, since a
producer of one library and a consumer of the other share one topology.
What happens on the broker is in tests/interop/test_native_delayed_delivery.py.
"""

from __future__ import annotations

import logging
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kombu_lite.transport import native_delayed_delivery as lite_ndd

from .conftest import Lib

MODULE = "transport.native_delayed_delivery"

#: Countdowns of interest: each bit alone, its neighbours, the ends.
DELAYS = sorted(
    {1, 2, 3, 5, 59, 60, 61, 3599, 3600, 86400, 604800, 2**28 - 1}
    | {2**bit for bit in range(28)}
    | {2**bit - 1 for bit in range(1, 28)}
    | {2**bit + 1 for bit in range(1, 27)}
)


def _ndd(lib: Lib) -> ModuleType:
    return lib.module(MODULE)


def test_the_constants_are_kombus(lib: Lib) -> None:
    ndd = _ndd(lib)
    assert ndd.MAX_NUMBER_OF_BITS_TO_USE == 28
    assert ndd.MAX_LEVEL == 27
    assert ndd.CELERY_DELAYED_DELIVERY_EXCHANGE == "celery_delayed_delivery"


@pytest.mark.parametrize("prefix", [None, "", "my_prefix"])
def test_level_names_for_every_level(lib: Lib, prefix: str | None) -> None:
    ndd = _ndd(lib)
    head = f"{prefix}_" if prefix else ""
    assert [ndd.level_name(level, prefix) for level in range(28)] == [
        f"{head}celery_delayed_{level}" for level in range(28)
    ]


def test_a_negative_level_is_a_value_error(lib: Lib) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        _ndd(lib).level_name(-1)


def test_a_level_above_the_topology_is_refused_here(lib: Lib) -> None:
    ndd = _ndd(lib)
    if lib.is_kombu:
        # kombu names a level the topology does not have.
        assert ndd.level_name(28) == "celery_delayed_28"
    else:
        with pytest.raises(ValueError, match="from 0 to 27"):
            ndd.level_name(28)


def test_routing_keys_spell_the_countdown_in_28_bits(lib: Lib) -> None:
    ndd = _ndd(lib)
    for delay in DELAYS:
        words = ndd.calculate_routing_key(delay, "tasks.run").split(".")
        assert words[28:] == ["tasks", "run"]
        assert int("".join(words[:28]), 2) == delay


def test_a_routing_key_example(lib: Lib) -> None:
    key = _ndd(lib).calculate_routing_key(5, "destination_route")
    assert key == "0." * 25 + "1.0.1.destination_route"


def test_an_earlier_delay_prefix_is_replaced_not_stacked(lib: Lib) -> None:
    ndd = _ndd(lib)
    once = ndd.calculate_routing_key(30, "work")
    again = ndd.calculate_routing_key(7, once)
    assert again == ndd.calculate_routing_key(7, "work")


@pytest.mark.parametrize("countdown", [0, -1, -3600])
def test_a_countdown_below_one_second_is_a_value_error(
    lib: Lib, countdown: int
) -> None:
    with pytest.raises(ValueError, match="positive"):
        _ndd(lib).calculate_routing_key(countdown, "work")


def test_a_float_countdown_is_a_value_error(lib: Lib) -> None:
    with pytest.raises(ValueError, match="float"):
        _ndd(lib).calculate_routing_key(2.5, "work")


def test_an_empty_routing_key_is_a_value_error(lib: Lib) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        _ndd(lib).calculate_routing_key(5, "")


def test_a_countdown_over_28_bits_is_refused_here(lib: Lib) -> None:
    ndd = _ndd(lib)
    if lib.is_kombu:
        # 29 bits: every level reads the wrong bit, the delay is wrong.
        assert len(ndd.calculate_routing_key(2**28, "work").split(".")) == 30
    else:
        with pytest.raises(ValueError, match="at most 268435455"):
            ndd.calculate_routing_key(2**28, "work")


def test_a_queue_on_a_direct_exchange_is_skipped_with_a_warning(
    lib: Lib, caplog: pytest.LogCaptureFixture
) -> None:
    top = lib.top
    queue = top.Queue("ndd-direct", top.Exchange("ndd-direct"), routing_key="work")
    with top.Connection("memory://") as conn, caplog.at_level(logging.WARNING):
        _ndd(lib).bind_queue_to_native_delayed_delivery_exchange(conn, queue)
    assert "direct exchange" in caplog.text


# -- kombu_lite against kombu's own function -------------------------------------------


@given(
    countdown=st.integers(min_value=1, max_value=2**28 - 1),
    routing_key=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
        min_size=1,
        max_size=40,
    ),
)
def test_every_routing_key_is_kombus(countdown: int, routing_key: str) -> None:
    kombu_ndd = pytest.importorskip("kombu.transport.native_delayed_delivery")
    expected = kombu_ndd.calculate_routing_key(countdown, routing_key)
    assert lite_ndd.calculate_routing_key(countdown, routing_key) == expected


@given(
    countdown=st.integers(min_value=1, max_value=2**28 - 1),
    earlier=st.integers(min_value=1, max_value=2**28 - 1),
)
def test_a_retried_key_is_kombus(countdown: int, earlier: int) -> None:
    kombu_ndd = pytest.importorskip("kombu.transport.native_delayed_delivery")
    retried = kombu_ndd.calculate_routing_key(earlier, "tasks")
    expected = kombu_ndd.calculate_routing_key(countdown, retried)
    assert lite_ndd.calculate_routing_key(countdown, retried) == expected


# -- kombu_lite's checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("countdown", "routing_key", "message"),
    [
        (True, "work", "must be an int, not bool"),
        ("5", "work", "must be an int, not str"),
        (5, b"work", "routing_key must be a str, not bytes"),
        (5, None, "routing_key must be a str, not NoneType"),
        (5, "0." * 28, "non-empty"),
        (5, "w" * 200, "256 bytes"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    countdown: object, routing_key: object, message: str
) -> None:
    from kombu_lite.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        lite_ndd.calculate_routing_key(countdown, routing_key)  # type: ignore[arg-type]


def test_the_longest_routing_key_fits_amqp() -> None:
    key = lite_ndd.calculate_routing_key(lite_ndd.MAX_COUNTDOWN, "w" * 199)
    assert len(key) == 255


@pytest.mark.parametrize(
    ("level", "prefix", "message"),
    [
        (True, None, "must be an int, not bool"),
        (1.0, None, "must be an int, not float"),
        (0, 7, "prefix must be a str or None, not int"),
        (0, "p" * 240, "255-byte limit"),
    ],
)
def test_bad_level_names_are_configuration_errors(
    level: object, prefix: object, message: str
) -> None:
    from kombu_lite.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        lite_ndd.level_name(level, prefix)  # type: ignore[arg-type]
