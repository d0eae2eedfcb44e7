"""Transports by name: ``amqp``/``pyamqp``/``amqps`` (RabbitMQ) and ``memory``.

Adapters are imported only when first asked for, so ``import kombu_lite``
does not import py-amqp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.exceptions import UnknownTransport

if TYPE_CHECKING:
    from kombu_lite.transport.base import Transport

__all__ = ["TRANSPORT_ALIASES", "resolve_transport"]

#: URL scheme or ``transport=`` name -> the adapter that serves it.
TRANSPORT_ALIASES: dict[str, str] = {
    "amqp": "pyamqp",
    "pyamqp": "pyamqp",
    "amqps": "pyamqp",
    "memory": "memory",
}


def resolve_transport(name: str) -> Transport:
    """Return a new transport instance for a scheme or alias.

    Raises:
        UnknownTransport: ``name`` is not one of :data:`TRANSPORT_ALIASES`.
    """
    kind = TRANSPORT_ALIASES.get(name)
    if kind == "pyamqp":
        from kombu_lite.transport.pyamqp import PyAmqpTransport

        return PyAmqpTransport()
    if kind == "memory":
        from kombu_lite.transport.memory import MemoryTransport

        return MemoryTransport()
    known = ", ".join(sorted(TRANSPORT_ALIASES))
    raise UnknownTransport(f"unknown transport {name!r}; known transports: {known}")
