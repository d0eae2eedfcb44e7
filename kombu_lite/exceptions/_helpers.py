"""Helpers of the exceptions package that need none of its classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, TypeVar

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["rebuild", "reraise"]

E = TypeVar("E", bound=BaseException)


def reraise(tp: type[E], value: E, tb: TracebackType | None = None) -> NoReturn:
    """Raise ``value`` again, with traceback ``tb`` if given (kombu's helper).

    ``tp`` is not used: it is there for kombu's (and ``six``'s) signature.
    """
    del tp
    if value.__traceback__ is not tb:
        raise value.with_traceback(tb)
    raise value


def rebuild(
    cls: type[BaseException], args: tuple[object, ...], state: dict[str, object]
) -> BaseException:
    """Unpickle an exception: ``args`` and attributes, without ``__init__``."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc
