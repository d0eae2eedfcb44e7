"""kombu's ``kombu.utils.debug``: quick debug logging, and :class:`Logwrapped`."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType

__all__ = ["Logwrapped", "setup_logging"]

#: What ``setup_logging()`` turns on: connecting, reconnecting and the
#: transports' channel events.
DEFAULT_LOGGERS = ("kombu_lite.connection", "kombu_lite.transport")

#: The handler :func:`setup_logging` added to each logger, by logger name.
_HANDLERS: dict[str, logging.Handler] = {}


def setup_logging(
    loglevel: int | None = logging.DEBUG, loggers: Iterable[str] | None = None
) -> None:
    """Print the records of ``loggers`` at ``loglevel`` and above on stderr.

    ``loggers`` defaults to kombu_lite's connection and transport loggers.
    Each logger gets one :class:`logging.StreamHandler`, however often this
    is called (kombu adds another, and prints every line once more, on each
    call); a later call only changes the level.
    """
    for name in loggers or DEFAULT_LOGGERS:
        logger = logging.getLogger(name)
        handler = _HANDLERS.get(name)
        if handler is None or handler not in logger.handlers:
            handler = _HANDLERS[name] = logging.StreamHandler()
            logger.addHandler(handler)
        if loglevel is not None:
            logger.setLevel(loglevel)


class Logwrapped:
    """``instance`` with every method call logged at DEBUG before it runs.

    The record reads ``ident`` (formatted with the instance, if given)
    followed by ``method(arg, ..., key=value)``.  Attributes that are not
    callable are returned as they are; ``with`` enters the instance.

    Args:
        instance: The object to wrap.
        logger: A logger or a logger name; by default
            ``kombu_lite.utils.debug`` (kombu fails without one).
        ident: A prefix, such as ``'[{0!r}] '``.
    """

    def __init__(
        self,
        instance: Any,
        logger: logging.Logger | str | None = None,
        ident: str | None = None,
    ) -> None:
        self.instance = instance
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or __name__)
        self.logger = logger
        self.ident = ident

    def __getattr__(self, key: str) -> Any:
        method = getattr(self.instance, key)
        if not callable(method):
            return method
        return self._wrap(method)

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def logged(*args: Any, **kwargs: Any) -> Any:
            if self.logger.isEnabledFor(logging.DEBUG):
                prefix = self.ident.format(self.instance) if self.ident else ""
                arguments = [repr(arg) for arg in args]
                arguments += [f"{key}={value!r}" for key, value in kwargs.items()]
                name = getattr(method, "__name__", repr(method))
                self.logger.debug("%s%s(%s)", prefix, name, ", ".join(arguments))
            return method(*args, **kwargs)

        return logged

    def __enter__(self) -> Logwrapped:
        self.instance.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        result: bool | None = self.instance.__exit__(exc_type, exc_val, exc_tb)
        return result

    def __repr__(self) -> str:
        return repr(self.instance)

    def __dir__(self) -> list[str]:
        return dir(self.instance)
