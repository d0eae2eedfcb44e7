"""kombu's ``kombu.log``: loggers, log levels, and :class:`LogMixin`.

kombu_lite's own loggers are all under ``kombu_lite``; that logger has a
:class:`logging.NullHandler`, so nothing is printed until the application
sets logging up (:func:`setup_logging` is the quick way).
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cached_property
from logging.handlers import WatchedFileHandler
from typing import IO, Any

from kombu_lite.utils.functional import maybe_evaluate

__all__ = [
    "LOG_LEVELS",
    "Log",
    "LogMixin",
    "get_logger",
    "get_loglevel",
    "setup_logging",
]

#: Level names to numbers and numbers to names (``'INFO'`` <-> 20).
LOG_LEVELS: dict[str | int, str | int] = {}
LOG_LEVELS.update(logging.getLevelNamesMapping())
LOG_LEVELS.update(
    (number, logging.getLevelName(number))
    for number in logging.getLevelNamesMapping().values()
)


def get_logger(logger: str | logging.Logger) -> logging.Logger:
    """The logger ``logger`` names (or ``logger`` itself), with a handler.

    A logger without handlers gets a :class:`logging.NullHandler`, as in
    kombu, so a library logging through it never prints through Python's
    last-resort handler.
    """
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def get_loglevel(level: str | int) -> int:
    """The number of a level name (``'DEBUG'`` -> 10); numbers as they are.

    Raises:
        KeyError: no level has that name.
    """
    if isinstance(level, str):
        number = LOG_LEVELS[level]
        assert isinstance(number, int)
        return number
    return level


def setup_logging(
    loglevel: str | int | None = None, logfile: str | IO[str] | None = None
) -> logging.Logger:
    """Log to ``logfile`` (a path or a stream; stderr by default) from the root.

    Only if the root logger has no handler yet: then a handler is added
    and the level set (``'ERROR'`` by default).  Otherwise nothing
    changes.  Returns the root logger.
    """
    root = logging.getLogger()
    if not root.handlers:
        target = logfile or sys.__stderr__
        handler: logging.Handler
        if isinstance(target, str):
            handler = WatchedFileHandler(target)
        else:
            handler = logging.StreamHandler(target)
        root.addHandler(handler)
        root.setLevel(get_loglevel(loglevel or "ERROR"))
    return root


def _safe(kind: str | None, value: Any) -> Any:
    try:
        if kind == "s":
            return str(value)
        if kind == "r":
            return repr(value)
    except Exception:  # noqa: BLE001 - a bad __str__ must not fail a log line
        return object.__repr__(value)
    return value


def _conversions(fmt: str) -> list[str | None]:
    """The conversion letter of each ``%`` in ``fmt`` (``None``: not a plain one)."""
    parts = fmt.split("%")
    return [
        part[0] if part and parts[index] else None
        for index, part in enumerate(parts[1:])
    ]


class LogMixin:
    """Adds ``debug``/``info``/``warn``/``error``/``critical`` to a class.

    Messages go to the logger named :attr:`logger_name` (the class name by
    default), prefixed with ``'<logger_name> - '``.  ``error`` and
    ``critical`` add the current traceback unless told not to
    (``exc_info=False``); the environment variable ``DISABLE_TRACEBACKS``
    turns tracebacks off everywhere.  Arguments that are
    :class:`~kombu_lite.utils.functional.lazy` are evaluated only if the
    level is enabled.
    """

    def debug(self, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, *args, **kwargs)

    def info(self, *args: Any, **kwargs: Any) -> None:
        self.log(logging.INFO, *args, **kwargs)

    def warn(self, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING, *args, **kwargs)

    def error(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self.log(logging.ERROR, *args, **kwargs)

    def critical(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self.log(logging.CRITICAL, *args, **kwargs)

    def annotate(self, text: str) -> str:
        """``text`` prefixed with the logger name."""
        return f"{self.logger_name} - {text}"

    def log(self, severity: int, *args: Any, **kwargs: Any) -> None:
        """Log at ``severity``: ``(format, *values)`` or words joined by spaces."""
        if os.environ.get("DISABLE_TRACEBACKS"):
            kwargs.pop("exc_info", None)
        if not self.logger.isEnabledFor(severity):
            return
        if len(args) > 1 and isinstance(args[0], str):
            fmt = args[0]
            values = [maybe_evaluate(arg) for arg in args[1:]]
            kinds = _conversions(fmt)
            safe = [
                _safe(kinds[index] if index < len(kinds) else None, value)
                for index, value in enumerate(values)
            ]
            self.logger.log(
                severity, self.annotate(fmt.replace("%r", "%s")), *safe, **kwargs
            )
        else:
            text = " ".join(str(_safe("s", arg)) for arg in args)
            self.logger.log(severity, self.annotate(text), **kwargs)

    def get_logger(self) -> logging.Logger:
        """The logger to use: :func:`get_logger` of :attr:`logger_name`."""
        return get_logger(self.logger_name)

    def is_enabled_for(self, level: str | int) -> bool:
        """Whether the logger would log at ``level`` (a name or a number)."""
        return self.logger.isEnabledFor(self.get_loglevel(level))

    def get_loglevel(self, level: str | int) -> int:
        """:func:`get_loglevel`."""
        return get_loglevel(level)

    @cached_property
    def logger(self) -> logging.Logger:
        """The logger, looked up once."""
        return self.get_logger()

    @property
    def logger_name(self) -> str:
        """The logger's name: the class name unless overridden."""
        return type(self).__name__


class Log(LogMixin):
    """A :class:`LogMixin` for the logger ``name`` (or the given ``logger``)."""

    def __init__(self, name: str, logger: logging.Logger | None = None) -> None:
        self._logger_name = name
        self._logger = logger

    def get_logger(self) -> logging.Logger:
        """The given logger, or the one named ``name``."""
        if self._logger is not None:
            return self._logger
        return super().get_logger()

    @property
    def logger_name(self) -> str:
        """The name given."""
        return self._logger_name
