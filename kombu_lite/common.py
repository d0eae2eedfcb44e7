"""kombu-compatible helpers: :func:`maybe_declare` and :func:`uuid`.

``maybe_declare`` goes through the connection's
:class:`~kombu_lite.channel.DeclareCache`, reached as ``channel.connection``
(a :class:`~kombu_lite.channel.ChannelOwner`): nothing here imports the
connection.
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from kombu_lite.channel import Channel
from kombu_lite.retry import RetryPolicy

if TYPE_CHECKING:
    from kombu_lite.channel import ChannelOwner
    from kombu_lite.entity.exchange import Exchange
    from kombu_lite.entity.queue import Queue

__all__ = ["maybe_declare", "uuid"]


def uuid() -> str:
    """Return a new random UUID as a string."""
    return str(_uuid.uuid4())


def maybe_declare(
    entity: Exchange | Queue,
    channel: Channel | ChannelOwner | None = None,
    retry: bool = False,
    **retry_policy: Any,
) -> bool:
    """Declare ``entity`` unless it was declared on this connection already.

    The cache key is every declared setting (a queue's bindings included),
    so a second ``Queue('q', ex, 'k2')`` is declared and bound even after
    ``Queue('q', ex, 'k1')`` (kombu keys by name only and drops the second
    binding).  The cache is cleared on every reconnect.  Entities the broker
    may delete by itself (auto-delete, exclusive, expiring, server-named)
    are declared every time.

    Returns:
        True if a declare was sent, False if the cache said it was done.
    """
    if channel is None:
        chan = entity.channel
    elif isinstance(channel, Channel):
        chan = channel
    else:
        chan = channel.default_channel
    connection = chan.connection
    if not retry:
        return connection.declare_cache.ensure_declared(entity, chan)

    def declare_with_retries() -> None:
        policy = RetryPolicy.from_mapping(retry_policy)
        holder: dict[str, Channel] = {"channel": chan}

        class _Revive:
            def revive(self, new_channel: Channel) -> None:
                holder["channel"] = new_channel

        def declare() -> None:
            entity.declare(channel=holder["channel"])

        options = {field.name: getattr(policy, field.name) for field in fields(policy)}
        connection.ensure(_Revive(), declare, **options)()

    return connection.declare_cache.ensure_declared(entity, chan, declare_with_retries)
