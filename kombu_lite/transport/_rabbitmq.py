"""Values AMQP can carry but RabbitMQ refuses: the limits both transports keep.

The core checks these before anything is sent (a per-message or queue TTL
over the limit is a :class:`~kombu_lite.exceptions.ConfigurationError`),
and both transports refuse a non-finite float in a field table the same
way, with the same text (:func:`non_finite_field`).
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["MAX_TTL_MS", "non_finite_detail", "non_finite_field"]

#: The longest TTL RabbitMQ takes, in milliseconds (ten years): for a
#: message's ``expiration`` and a queue's ``x-message-ttl`` and
#: ``x-expires``.  Longer ones are refused with 406 ``value_too_large``
#: (measured on RabbitMQ 3.10; releases before 3.8 stopped at 2**32 - 1).
MAX_TTL_MS: Final = 315_360_000_000


def non_finite_detail(value: float) -> str:
    """Why a field holding ``value`` (NaN or infinite) is refused."""
    return (
        f"holds {value!r}, a float that is not finite: RabbitMQ cannot read it "
        "and drops the whole connection"
    )


def non_finite_field(table: object) -> tuple[object, float] | None:
    """Return ``(name, value)`` for the first field holding a NaN or infinity.

    ``table`` is read as py-amqp reads a field table: through ``items()``,
    with ``dict`` values as nested tables and ``list`` or ``tuple`` values
    as arrays.  ``name`` is the name of the field in the innermost table
    that holds the value (an array's items have no names of their own).
    """
    items = getattr(table, "items", None)
    if not callable(items):
        return None
    for name, value in items():
        found = _search(name, value)
        if found is not None:
            return found
    return None


def _search(name: object, value: object) -> tuple[object, float] | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (name, value)
    if isinstance(value, dict):
        return non_finite_field(value)
    if isinstance(value, list | tuple):
        for item in value:
            found = _search(name, item)
            if found is not None:
                return found
    return None
