"""The one check for misspelt keyword arguments, and its error.

Every public callable that takes keywords reports an unknown one the same
way: :class:`~kombu_lite.exceptions.UnknownArgument` naming the keyword
and the closest one it takes (:func:`difflib.get_close_matches`), raised
before anything is sent.  :func:`unknown_argument` builds the error,
:func:`check_keywords` checks a ``**kwargs`` mapping, and
:func:`checks_keywords` decorates a function with a fixed signature so
Python's own ``TypeError`` becomes that error; it costs nothing until a
call fails.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from kombu_lite.exceptions import ConfigurationError
from kombu_lite.exceptions._helpers import rebuild as _rebuild

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

__all__ = [
    "UnknownArgument",
    "check_keywords",
    "checks_keywords",
    "keywords_of",
    "unknown_argument",
]

P = ParamSpec("P")
R = TypeVar("R")


class UnknownArgument(ConfigurationError, TypeError):
    """A keyword argument the callable does not take (kombu ignores most).

    Raised before anything is sent, by every constructor and factory of
    the public API, ``Producer.publish`` and ``Connection``.  Also a
    :exc:`TypeError` (Python's own error for an unexpected keyword) and a
    :exc:`ValueError` (through :class:`ConfigurationError`), so code
    catching either keeps working.

    Attributes:
        owner: What was called, such as ``'Queue'`` or ``'Producer.publish'``.
        argument: The unknown keyword.
        suggestion: The closest keyword ``owner`` takes, or ``None``.
    """

    # Shown, and documented, where it is imported from.
    __module__ = "kombu_lite.exceptions"

    def __init__(
        self,
        message: str = "",
        *,
        owner: str | None = None,
        argument: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.owner = owner
        self.argument = argument
        self.suggestion = suggestion

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


def unknown_argument(
    owner: str, argument: str, known: Collection[str]
) -> UnknownArgument:
    """Return the error for ``argument``, which ``owner`` does not take."""
    close = difflib.get_close_matches(argument, list(known), n=1)
    suggestion = close[0] if close else None
    if suggestion is not None:
        hint = f"; did you mean {suggestion!r}?"
    else:
        hint = f"; known keyword arguments: {', '.join(sorted(known))}"
    return UnknownArgument(
        f"{owner}() got an unknown keyword argument {argument!r}{hint}",
        owner=owner,
        argument=argument,
        suggestion=suggestion,
    )


def check_keywords(owner: str, given: Iterable[str], known: Collection[str]) -> None:
    """Raise for the first of ``given`` (in order) that is not in ``known``.

    Raises:
        UnknownArgument: naming it and the closest known one.
    """
    for name in given:
        if name not in known:
            raise unknown_argument(owner, name, known)


def keywords_of(func: Callable[..., object]) -> tuple[str, ...]:
    """The names ``func`` takes as keywords (``self`` included, if any)."""
    code = func.__code__
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


def checks_keywords(
    owner: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function so an unknown keyword raises :class:`UnknownArgument`.

    ``owner`` names the callable in the message; ``None`` (for an
    ``__init__``) names the class of the instance it was called on.

    The function keeps its signature (for the type checker too).  A call
    that raises :exc:`TypeError` with a keyword the function does not take
    raises :class:`UnknownArgument` instead (from Python's error); any other
    ``TypeError`` propagates unchanged.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        # With **kwargs every keyword binds, and a TypeError is the body's.
        assert not func.__code__.co_flags & inspect.CO_VARKEYWORDS, func
        known = frozenset(keywords_of(func)) - {"self"}

        @functools.wraps(func)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except TypeError as exc:
                # An unknown keyword cannot bind, so the call failed there.
                for name in kwargs:
                    if name not in known:
                        named = owner or type(args[0]).__name__
                        raise unknown_argument(named, name, known) from exc
                raise

        return checked

    return decorate
