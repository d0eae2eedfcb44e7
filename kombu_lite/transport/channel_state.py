"""The life of a channel, for both transports: one state, its moves in one table.

A channel is open, then (after ``confirm.select``) open with publisher
confirms, and ends closed: by the application, by the broker (a channel
error, which the channel keeps), or, on ``memory://`` only, dropped with its
connection, where it reads as open until the connection's loss is noticed
(a socket connection cannot know sooner).  Every change of state goes
through :meth:`ChannelLifecycle.move`, which looks it up in
:data:`TRANSITIONS`; a move the table lacks is a bug in the transport.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kombu_lite.exceptions import ChannelError

__all__ = ["TRANSITIONS", "ChannelEvent", "ChannelLifecycle", "ChannelState"]


class ChannelState(enum.Enum):
    """Where a channel is in its life."""

    OPEN = "open"
    #: Open, with publisher confirms on.
    CONFIRMING = "confirming"
    #: Closed by the application or the broker; never open again.
    CLOSED = "closed"
    #: Its connection went away under it (memory:// only).
    DROPPED = "dropped"


class ChannelEvent(enum.Enum):
    """What moves a channel from one state to another."""

    SELECT_CONFIRMS = "confirm.select"
    CLOSE = "close"
    DROP = "connection lost"


_OPEN, _CONFIRMING = ChannelState.OPEN, ChannelState.CONFIRMING
_CLOSED, _DROPPED = ChannelState.CLOSED, ChannelState.DROPPED

#: (state, event) -> the next state.  Closing is idempotent, and a closed
#: channel is not dropped again.
TRANSITIONS: dict[tuple[ChannelState, ChannelEvent], ChannelState] = {
    (_OPEN, ChannelEvent.SELECT_CONFIRMS): _CONFIRMING,
    (_CONFIRMING, ChannelEvent.SELECT_CONFIRMS): _CONFIRMING,
    (_OPEN, ChannelEvent.CLOSE): _CLOSED,
    (_CONFIRMING, ChannelEvent.CLOSE): _CLOSED,
    (_DROPPED, ChannelEvent.CLOSE): _CLOSED,
    (_CLOSED, ChannelEvent.CLOSE): _CLOSED,
    (_OPEN, ChannelEvent.DROP): _DROPPED,
    (_CONFIRMING, ChannelEvent.DROP): _DROPPED,
    (_DROPPED, ChannelEvent.DROP): _DROPPED,
    (_CLOSED, ChannelEvent.DROP): _CLOSED,
}


class ChannelLifecycle:
    """One channel's state, why it closed, and the broker's error if any.

    ``reason`` and ``error`` only change together with the state (in
    :meth:`close`), so another thread never sees a closed channel without
    its reason.
    """

    __slots__ = ("error", "reason", "state")

    def __init__(self) -> None:
        self.state = ChannelState.OPEN
        #: Why the channel closed (None while open).
        self.reason: str | None = None
        #: The broker's error that closed it, if it was one.
        self.error: ChannelError | None = None

    def __repr__(self) -> str:
        return f"<ChannelLifecycle {self.state.value} reason={self.reason!r}>"

    @property
    def usable(self) -> bool:
        """True while the channel takes calls (open, with or without confirms)."""
        state = self.state
        return state is _OPEN or state is _CONFIRMING

    @property
    def confirming(self) -> bool:
        """True while open with publisher confirms on."""
        return self.state is _CONFIRMING

    def move(self, event: ChannelEvent) -> ChannelState:
        """Apply ``event``; return the new state.

        Raises:
            RuntimeError: the table has no such move (a transport bug).
        """
        try:
            state = TRANSITIONS[self.state, event]
        except KeyError as exc:
            raise RuntimeError(
                f"a {self.state.value} channel cannot take {event.value!r}"
            ) from exc
        self.state = state
        return state

    def close(
        self,
        reason: str | None = None,
        *,
        error: ChannelError | None = None,
        replace: bool = False,
    ) -> None:
        """Close: keep the first ``reason`` (any later one if ``replace``)."""
        if error is not None:
            self.error = error
        if reason is not None and (replace or self.reason is None):
            self.reason = reason
        self.move(ChannelEvent.CLOSE)
