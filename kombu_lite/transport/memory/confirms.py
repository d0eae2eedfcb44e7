"""Publisher confirms for one memory channel.

The memory broker decides a message's fate while ``basic_publish`` runs, so
each delivery tag's outcome is known at once; this ledger keeps it until the
publisher asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.exceptions import ConfirmTimeout, MessageNacked

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.transport.base import ReturnedMessage

__all__ = ["ConfirmLedger"]


class ConfirmLedger:
    """Delivery tags and outcomes of one channel in confirm mode."""

    __slots__ = ("_next_tag", "_outcomes", "channel_id")

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self._next_tag = 0
        self._outcomes: dict[int, tuple[bool, ReturnedMessage | None]] = {}

    def record(self, acked: bool, returned: ReturnedMessage | None = None) -> int:
        """Give the next delivery tag its outcome; return the tag."""
        self._next_tag += 1
        self._outcomes[self._next_tag] = (acked, returned)
        return self._next_tag

    def settle(
        self,
        delivery_tag: int,
        on_return: Callable[[ReturnedMessage], None] | None,
    ) -> ReturnedMessage | None:
        """Report ``delivery_tag``'s outcome, as RabbitMQ would.

        A ``basic.return`` goes to ``on_return`` first (RabbitMQ sends it
        before the ack); a nack raises :class:`MessageNacked`.
        """
        outcome = self._outcomes.pop(delivery_tag, None)
        if outcome is None:
            raise ConfirmTimeout(
                f"no publisher confirm for message {delivery_tag} on channel "
                f"{self.channel_id}: unknown delivery tag",
                delivery_tag=delivery_tag,
            )
        acked, returned = outcome
        if returned is not None and on_return is not None:
            on_return(returned)
        if not acked:
            raise MessageNacked(
                f"the broker refused message {delivery_tag} on channel "
                f"{self.channel_id} (basic.nack): a queue with "
                f"x-overflow=reject-publish is full",
                delivery_tag=delivery_tag,
            )
        return returned
