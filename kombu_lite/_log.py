"""The package's loggers, all under ``kombu_lite``, which has a NullHandler.

A library should not print through logging's last-resort handler in an
application that never set logging up, so the ``kombu_lite`` logger gets a
:class:`logging.NullHandler` as soon as any module that logs is imported,
whichever way it was imported.
"""

from __future__ import annotations

import logging

__all__ = ["get_logger"]

_PACKAGE = logging.getLogger("kombu_lite")
if not any(type(handler) is logging.NullHandler for handler in _PACKAGE.handlers):
    _PACKAGE.addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name``, one of the ``kombu_lite.*`` loggers."""
    return logging.getLogger(name)
