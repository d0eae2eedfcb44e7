"""Entities: :class:`Exchange`, :class:`Queue` and :class:`Binding` (kombu's path).

Entities are values: they compare equal when they would declare the same
thing, hash consistently with that, pickle, and have readable reprs.  An
entity may be *bound* to a channel (``exchange(channel)`` returns a bound
copy); its broker methods (``declare``, ``delete``, ``bind_to``...) then use
that channel, or the ``channel=`` argument when given.

Unknown keyword arguments are errors (kombu silently ignores
``Exchange('x', durible=False)``), and every value is checked when the
entity is built, before anything is sent.
"""

from __future__ import annotations

from kombu_lite.entity.base import (
    DELIVERY_MODES as DELIVERY_MODES,
)
from kombu_lite.entity.base import (
    PERSISTENT_DELIVERY_MODE as PERSISTENT_DELIVERY_MODE,
)
from kombu_lite.entity.base import (
    TRANSIENT_DELIVERY_MODE as TRANSIENT_DELIVERY_MODE,
)
from kombu_lite.entity.base import maybe_delivery_mode as maybe_delivery_mode
from kombu_lite.entity.exchange import Binding as Binding
from kombu_lite.entity.exchange import Exchange as Exchange
from kombu_lite.entity.exchange import binding as binding
from kombu_lite.entity.queue import Queue as Queue

__all__ = [
    "DELIVERY_MODES",
    "PERSISTENT_DELIVERY_MODE",
    "TRANSIENT_DELIVERY_MODE",
    "Binding",
    "Exchange",
    "Queue",
    "binding",
    "maybe_delivery_mode",
]
