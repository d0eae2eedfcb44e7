"""kombu's ``kombu.utils.uuid``: :func:`uuid`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

__all__ = ["uuid"]


def uuid(_uuid: Callable[[], UUID] = uuid4) -> str:
    """Return a new random UUID (version 4) as a string."""
    return str(_uuid())
