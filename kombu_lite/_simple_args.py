"""What :class:`~kombu_lite.SimpleQueue` checks of its arguments.

The entity options it takes (``queue_opts``, ``exchange_opts``) and the
serializers its ``put`` may send (only those its own ``get`` decodes).
Kept apart from :mod:`kombu_lite.simple`, which is about the queue.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.serialization import TRUSTED_CONTENT_TYPES
from kombu_lite.serialization import registry as _serializers

__all__ = ["options", "readable", "refuse_unreadable"]

# The keyword options each entity takes (everything but what SimpleQueue sets).
_QUEUE_OPTIONS: Final = frozenset(inspect.signature(Queue).parameters) - {
    "name",
    "exchange",
    "routing_key",
    "channel",
}
_EXCHANGE_OPTIONS: Final = frozenset(inspect.signature(Exchange).parameters) - {
    "name",
    "channel",
}


def readable(content_type: str, accept: frozenset[str]) -> bool:
    """Whether a consumer with ``accept`` decodes ``content_type``."""
    return content_type in accept or content_type in TRUSTED_CONTENT_TYPES


def refuse_unreadable(
    simple: object,
    name: str,
    accept: frozenset[str],
    serializer: str | None,
    content_type: object,
) -> None:
    """Raise if ``get`` would refuse to decode what ``put`` sends this way.

    Raises:
        ConfigurationError: naming ``simple``'s class, the queue ``name``
            and what to add to ``accept``.
    """
    if isinstance(content_type, str) and content_type:
        what = f"content_type {content_type!r}"
        token = content_type
    else:
        # The automatic choice (serializer=None) sends bytes and str as
        # trusted types; anything else with the default serializer.
        content_type = _serializers.content_type_of(serializer)
        token = serializer or "json"
        default = " (the default for bodies other than bytes and str)"
        default = default if serializer is None else ""
        what = f"serializer {token!r}{default} ({content_type})"
    if readable(content_type, accept):
        return
    raise ConfigurationError(
        f"{type(simple).__name__} {name!r}: {what} is not in its accept list "
        f"({', '.join(sorted(accept)) or 'nothing'}), so get() could not decode "
        f"what put() sends; add {token!r} to accept="
    )


def options(
    name: str, defaults: Mapping[str, Any], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``defaults`` updated with ``given`` (``name``: queue_opts or exchange_opts).

    Raises:
        ConfigurationError: ``given`` is not a mapping, or has an option
            the entity does not take.
    """
    known = _QUEUE_OPTIONS if name == "queue_opts" else _EXCHANGE_OPTIONS
    if given is not None and not isinstance(given, Mapping):
        raise ConfigurationError(
            f"{name} must be a mapping, not {type(given).__name__}"
        )
    unknown = set(given or ()) - known
    if unknown:
        raise ConfigurationError(
            f"unknown option {min(unknown)!r} in {name}; known options: "
            f"{', '.join(sorted(known))}"
        )
    return {**defaults, **(given or {})}
