"""kombu's ``kombu.utils.functional``: the helpers kombu code imports.

:func:`retry_over_time` is :func:`kombu_lite.retry.retry_over_time`; the
rest are small, dependency-free helpers with kombu's names, signatures and
results.  ``LRUCache`` and ``memoize`` are thread-safe.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict, UserDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kombu_lite.retry import retry_over_time as retry_over_time

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "ChannelPromise",
    "LRUCache",
    "dictfilter",
    "fxrange",
    "fxrangemax",
    "is_list",
    "lazy",
    "maybe_evaluate",
    "maybe_list",
    "memoize",
    "reprcall",
    "reprkwargs",
    "retry_over_time",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_KEYWORD_MARK = object()
_NOT_YET = object()


class ChannelPromise(Generic[T]):
    """A value made on first call, then returned on every call (kombu's).

    Entities hold one in place of a channel until they first need it.
    """

    def __init__(self, contract: Callable[[], T]) -> None:
        self.__contract__ = contract
        self.__value__: object = _NOT_YET

    def __call__(self) -> T:
        if self.__value__ is _NOT_YET:
            self.__value__ = self.__contract__()
        return self.__value__  # type: ignore[return-value]

    def __repr__(self) -> str:
        if self.__value__ is _NOT_YET:
            return f"<promise: 0x{id(self.__contract__):x}>"
        return repr(self.__value__)


class LRUCache(UserDict[K, V]):
    """A dict that keeps at most ``limit`` keys, dropping the least recently used.

    Reading a key (``cache[key]``) makes it the most recently used; setting
    a key already there never evicts another.  ``limit=None`` (or 0) keeps
    everything.  Every method holds the cache's lock.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.mutex = threading.RLock()
        self.data: OrderedDict[K, V] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        with self.mutex:
            value = self.data.pop(key)
            self.data[key] = value
            return value

    def __setitem__(self, key: K, value: V) -> None:
        with self.mutex:
            data = self.data
            if key not in data and self.limit and len(data) >= self.limit:
                data.pop(next(iter(data)))
            data[key] = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several keys, then drop the oldest past ``limit``."""
        with self.mutex:
            data = self.data
            data.update(*args, **kwargs)
            if self.limit:
                for _ in range(len(data) - self.limit):
                    data.popitem(last=False)

    def popitem(self, last: bool = True) -> tuple[K, V]:
        """Remove and return the newest (``last=True``) or the oldest item."""
        with self.mutex:
            return self.data.popitem(last)

    def incr(self, key: K, delta: int = 1) -> int:
        """Add ``delta`` to a counter kept as a string, as memcached does."""
        with self.mutex:
            value: int = int(self.data.pop(key)) + delta  # type: ignore[call-overload]
            self[key] = str(value)  # type: ignore[assignment]
            return value

    def __iter__(self) -> Iterator[K]:
        return iter(list(self.data))

    def keys(self) -> list[K]:  # type: ignore[override]
        """The keys, oldest first (a snapshot)."""
        with self.mutex:
            return list(self.data)

    def values(self) -> list[V]:  # type: ignore[override]
        """The values, oldest first (a snapshot; reading does not refresh)."""
        with self.mutex:
            return list(self.data.values())

    def items(self) -> list[tuple[K, V]]:  # type: ignore[override]
        """The items, oldest first (a snapshot; reading does not refresh)."""
        with self.mutex:
            return list(self.data.items())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state.pop("mutex")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.mutex = threading.RLock()


def memoize(
    maxsize: int | None = None,
    keyfun: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
    Cache: type[LRUCache[Any, Any]] = LRUCache,  # noqa: N803 - kombu's name
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: cache a function's results by its arguments.

    The wrapper counts ``hits`` and ``misses``, and has ``clear()`` (which
    empties the cache and the counts) and ``original_func``.
    """

    def decorate(fun: Callable[..., T]) -> Callable[..., T]:
        mutex = threading.Lock()
        cache = Cache(limit=maxsize)

        @functools.wraps(fun)
        def memoized(*args: Any, **kwargs: Any) -> T:
            if keyfun is not None:
                key = keyfun(args, kwargs)
            else:
                key = (*args, _KEYWORD_MARK, *sorted(kwargs.items()))
            try:
                with mutex:
                    value: T = cache[key]
            except KeyError:
                value = fun(*args, **kwargs)
                memoized.misses += 1  # type: ignore[attr-defined]
                with mutex:
                    cache[key] = value
            else:
                memoized.hits += 1  # type: ignore[attr-defined]
            return value

        def clear() -> None:
            cache.clear()
            memoized.hits = memoized.misses = 0  # type: ignore[attr-defined]

        memoized.hits = memoized.misses = 0  # type: ignore[attr-defined]
        memoized.clear = clear  # type: ignore[attr-defined]
        memoized.original_func = fun  # type: ignore[attr-defined]
        return memoized

    return decorate


class lazy:  # noqa: N801 - kombu's name
    """A call held for later: evaluated by calling it, on every call.

    ``str()``, ``repr()``, ``==`` and ``!=`` evaluate it; a deep copy is
    the same object.
    """

    def __init__(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._fun = fun
        self._args = args
        self._kwargs = kwargs

    def __call__(self) -> Any:
        return self.evaluate()

    def evaluate(self) -> Any:
        """Call the function again and return its result."""
        return self._fun(*self._args, **self._kwargs)

    def __str__(self) -> str:
        return str(self())

    def __repr__(self) -> str:
        return repr(self())

    def __eq__(self, other: object) -> bool:
        return bool(self() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self() != other)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> lazy:
        memo[id(self)] = self
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self._fun,),
            {"_args": self._args, "_kwargs": self._kwargs},
        )


def maybe_evaluate(value: Any) -> Any:
    """Evaluate ``value`` if it is a :class:`lazy`, else return it as is."""
    if isinstance(value, lazy):
        return value.evaluate()
    return value


def is_list(
    obj: object,
    scalars: tuple[type, ...] | None = (Mapping, str),
    iters: tuple[type, ...] = (Iterable,),
) -> bool:
    """True if ``obj`` is iterable and not one of ``scalars`` (mappings, str)."""
    return isinstance(obj, iters) and not isinstance(obj, scalars or ())


def maybe_list(obj: Any, scalars: tuple[type, ...] | None = (Mapping, str)) -> Any:
    """``obj`` if it is a list-like (or None), else ``[obj]``."""
    return obj if obj is None or is_list(obj, scalars) else [obj]


def dictfilter(d: Mapping[K, V] | None = None, **kw: Any) -> dict[Any, Any]:
    """A new dict of ``d`` (and ``kw``) without the keys whose value is None."""
    items: Mapping[Any, Any] = kw if d is None else ({**d, **kw} if kw else d)
    return {key: value for key, value in items.items() if value is not None}


def fxrange(
    start: float = 1.0,
    stop: float | None = None,
    step: float = 1.0,
    repeatlast: bool = False,
) -> Iterator[float]:
    """``start, start+step, ...`` up to ``stop`` (for ever if no stop).

    With ``repeatlast`` the last value is repeated for ever after ``stop``.
    """
    cur = start * 1.0
    while True:
        if not stop or cur <= stop:
            yield cur
            cur += step
        elif repeatlast:
            yield cur - step
        else:
            return


def fxrangemax(
    start: float = 1.0,
    stop: float | None = None,
    step: float = 1.0,
    max: float = 100.0,  # noqa: A002 - kombu's name
) -> Iterator[float]:
    """Like :func:`fxrange` (capped at ``stop``) until the values sum to ``max``."""
    total, cur = 0.0, start * 1.0
    while total < max:
        yield cur
        cur = min(cur + step, stop) if stop else cur + step
        total += cur


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a repr must not fail a log line
        return object.__repr__(value)


def reprkwargs(kwargs: Mapping[str, Any], sep: str = ", ", fmt: str = "{0}={1}") -> str:
    """``'a=1, b=2'`` for ``{'a': 1, 'b': 2}``."""
    return sep.join(fmt.format(key, _safe_repr(value)) for key, value in kwargs.items())


def reprcall(
    name: str,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    sep: str = ", ",
) -> str:
    """``'name(1, 2, a=3)'``: how a call looks, for logs."""
    args = tuple(args or ())
    kwargs = kwargs or {}
    middle = sep if args and kwargs else ""
    return f"{name}({sep.join(map(_safe_repr, args))}{middle}{reprkwargs(kwargs, sep)})"
