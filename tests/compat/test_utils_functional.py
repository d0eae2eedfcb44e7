"""``kombu.utils.functional`` and ``kombu.utils.uuid``: kombu's helpers."""

from __future__ import annotations

import copy
import pickle
import threading
import uuid as std_uuid
from itertools import islice
from typing import Any

import pytest

from .conftest import Lib


def _fn(lib: Lib, name: str) -> Any:
    return lib.attr("utils.functional", name)


# -- lists and dicts ------------------------------------------------------------


def test_maybe_list(lib: Lib) -> None:
    maybe_list = _fn(lib, "maybe_list")
    assert maybe_list(None) is None
    assert maybe_list(1) == [1]
    items = [1, 2]
    assert maybe_list(items) is items
    assert maybe_list((1, 2)) == (1, 2)
    assert maybe_list("foo") == ["foo"]
    assert maybe_list({"a": 1}) == [{"a": 1}]
    assert maybe_list("foo", scalars=()) == "foo"


def test_is_list(lib: Lib) -> None:
    is_list = _fn(lib, "is_list")
    assert is_list([1])
    assert is_list((1,))
    assert is_list(iter([1]))
    assert not is_list("str")
    assert not is_list({"a": 1})
    assert not is_list(1)
    assert is_list("str", scalars=None)


def test_dictfilter_drops_none_values(lib: Lib) -> None:
    dictfilter = _fn(lib, "dictfilter")
    assert dictfilter({"a": 1, "b": None}) == {"a": 1}
    assert dictfilter(a=1, b=None) == {"a": 1}
    assert dictfilter({"a": 1, "b": None}, c=None, e=4) == {"a": 1, "e": 4}
    source = {"a": None}
    dictfilter(source)
    assert source == {"a": None}


# -- ranges -----------------------------------------------------------------------


def test_fxrange_counts_up_to_stop(lib: Lib) -> None:
    fxrange = _fn(lib, "fxrange")
    assert list(fxrange(1.0, 3.0, 0.5)) == [1.0, 1.5, 2.0, 2.5, 3.0]


def test_fxrange_repeats_the_last_value_when_asked(lib: Lib) -> None:
    fxrange = _fn(lib, "fxrange")
    assert list(islice(fxrange(1.0, 3.0, 1.0, repeatlast=True), 6)) == [
        1.0,
        2.0,
        3.0,
        3.0,
        3.0,
        3.0,
    ]


def test_fxrange_without_stop_goes_on(lib: Lib) -> None:
    assert list(islice(_fn(lib, "fxrange")(2, step=2), 4)) == [2.0, 4.0, 6.0, 8.0]


def test_fxrangemax_stops_when_the_sum_reaches_max(lib: Lib) -> None:
    fxrangemax = _fn(lib, "fxrangemax")
    assert list(fxrangemax(1.0, 3.0, 1.0, 10.0)) == [1.0, 2.0, 3.0, 3.0]
    assert list(fxrangemax(0.0, None, 1.0, 6.0)) == [0.0, 1.0, 2.0]


# -- lazy ---------------------------------------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, add: int = 0) -> int:
        self.calls += 1
        return self.calls + add


def test_lazy_is_evaluated_on_every_call(lib: Lib) -> None:
    counter = _Counter()
    value = _fn(lib, "lazy")(counter, add=10)
    assert counter.calls == 0
    assert value() == 11
    assert value.evaluate() == 12
    assert str(value) == "13"
    assert repr(value) == "14"
    assert value == 15
    assert value != 15


def test_maybe_evaluate(lib: Lib) -> None:
    maybe_evaluate = _fn(lib, "maybe_evaluate")
    assert maybe_evaluate(_fn(lib, "lazy")(lambda: 3)) == 3
    assert maybe_evaluate(4) == 4


def test_lazy_pickles_and_deep_copies_as_itself(lib: Lib) -> None:
    value = _fn(lib, "lazy")(max, 1, 5)
    assert pickle.loads(pickle.dumps(value))() == 5
    assert copy.deepcopy(value) is value


# -- memoize and LRUCache -----------------------------------------------------------


def test_memoize_caches_by_arguments(lib: Lib) -> None:
    counter = _Counter()

    @_fn(lib, "memoize")()
    def square(x: int, y: int = 0) -> int:
        counter()
        return x * x + y

    assert square(3) == 9
    assert square(3) == 9
    assert square(3, y=1) == 10
    assert (square.hits, square.misses) == (1, 2)
    assert counter.calls == 2
    assert square.original_func(2) == 4
    square.clear()
    assert (square.hits, square.misses) == (0, 0)
    square(3)
    assert counter.calls == 4


def test_memoize_with_maxsize_and_keyfun(lib: Lib) -> None:
    counter = _Counter()

    @_fn(lib, "memoize")(maxsize=1, keyfun=lambda args, kwargs: args[0] % 2)
    def parity(x: int) -> int:
        counter()
        return x % 2

    assert parity(1) == 1
    assert parity(3) == 1  # same key
    assert parity(2) == 0  # evicts key 1
    assert parity(5) == 1
    assert counter.calls == 3


def test_lru_cache_drops_the_least_recently_used(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=2)
    cache["a"] = 1
    cache["b"] = 2
    assert cache["a"] == 1  # a is now the most recent
    cache["c"] = 3
    assert sorted(cache.keys()) == ["a", "c"]
    assert "b" not in cache
    assert len(cache) == 2


def test_lru_cache_overwrite_evicts_nothing(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=2)
    cache["a"] = 1
    cache["b"] = 2
    cache["b"] = 3
    assert dict(cache.items()) == {"a": 1, "b": 3}


def test_lru_cache_update_trims_to_the_limit(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=3)
    cache.update({str(n): n for n in range(5)})
    assert list(cache.keys()) == ["2", "3", "4"]
    assert list(cache.values()) == [2, 3, 4]
    assert cache.popitem() == ("4", 4)
    assert cache.popitem(last=False) == ("2", 2)


def test_lru_cache_without_limit_keeps_everything(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")()
    cache.update({n: n for n in range(100)})
    assert len(cache) == 100
    assert list(cache) == list(range(100))


def test_lru_cache_incr_keeps_a_string(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=2)
    cache["n"] = "1"
    assert cache.incr("n") == 2
    assert cache.incr("n", 5) == 7
    assert cache["n"] == "7"


def test_lru_cache_pickles(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=4)
    cache.update({"a": 1, "b": 2})
    copy_ = pickle.loads(pickle.dumps(cache))
    assert copy_.limit == 4
    assert dict(copy_.items()) == {"a": 1, "b": 2}
    copy_["c"] = 3


def test_lru_cache_survives_threads(lib: Lib) -> None:
    cache = _fn(lib, "LRUCache")(limit=50)

    def work(base: int) -> None:
        for n in range(500):
            cache[base + n] = n
            cache.get(base + n - 1)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


# -- reprs and promises -------------------------------------------------------------


def test_reprcall_and_reprkwargs(lib: Lib) -> None:
    reprcall = _fn(lib, "reprcall")
    assert reprcall("add", (2, 2), {"x": "y"}) == "add(2, 2, x='y')"
    assert reprcall("add", (2, 2)) == "add(2, 2)"
    assert reprcall("add", kwargs={"x": 1}) == "add(x=1)"
    assert reprcall("f") == "f()"
    assert _fn(lib, "reprkwargs")({"a": 1, "b": "c"}) == "a=1, b='c'"
    assert _fn(lib, "reprkwargs")({"a": 1}, sep=";", fmt="{0}:{1}") == "a:1"


def test_channel_promise_calls_its_contract_once(lib: Lib) -> None:
    counter = _Counter()
    promise = _fn(lib, "ChannelPromise")(counter)
    assert repr(promise).startswith("<promise: 0x")
    assert promise() == 1
    assert promise() == 1
    assert counter.calls == 1
    assert repr(promise) == "1"


def test_retry_over_time_is_there(lib: Lib) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise KeyError("once")
        return "ok"

    retry = _fn(lib, "retry_over_time")
    assert retry(flaky, KeyError, interval_start=0, interval_step=0) == "ok"


# -- kombu.utils.uuid -----------------------------------------------------------------


def test_uuid_is_a_random_uuid_string(lib: Lib) -> None:
    uuid = lib.attr("utils.uuid", "uuid")
    assert std_uuid.UUID(uuid()).version == 4
    assert uuid() != uuid()


def test_uuid_takes_the_generator(lib: Lib) -> None:
    fixed = std_uuid.UUID(int=7)
    assert lib.attr("utils.uuid", "uuid")(lambda: fixed) == str(fixed)


@pytest.mark.parametrize("module", ["common", "utils.uuid"])
def test_uuid_is_importable_from_kombus_places(lib: Lib, module: str) -> None:
    assert callable(lib.attr(module, "uuid"))
