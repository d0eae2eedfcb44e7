"""Publisher confirms and returns of one py-amqp channel: the bookkeeping.

Messages are tracked by our own delivery tags: py-amqp's
``basic_publish_confirm`` takes *any* ack as its own, so a late ack would
confirm the wrong message and a nack could pass as an ack.  A
``basic.return`` is matched to its publish when the publish's confirm
settles it; see :meth:`ConfirmBook.returned` for why not by arrival order.

The book holds no lock of its own: tags are taken under the connection's
publish lock, and acks, nacks and returns are recorded by the thread
reading frames.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kombu_lite.transport.base import ReturnedMessage

__all__ = ["ConfirmBook", "ReturnKey"]

#: What a ``basic.return`` is matched on: exchange and routing key as
#: published, and the body (the publisher's own bytes object, not a copy).
ReturnKey = tuple[str, str, bytes]


class _Return:
    """A ``basic.return`` not yet matched to the publish it returns."""

    __slots__ = ("bound", "key", "matched", "message")

    def __init__(self, bound: int, key: ReturnKey, message: ReturnedMessage) -> None:
        #: The highest delivery tag given out when it arrived: its own is
        #: not above (the message was written before its return came back).
        self.bound = bound
        self.key = key
        self.message = message
        self.matched = False


class ConfirmBook:
    """Delivery tags given out, outcomes received, returns waiting for both."""

    def __init__(self) -> None:
        self.next_tag = 0
        #: Tags written and not settled yet, in order.
        self.pending: deque[int] = deque()
        #: Settled tags not yet taken by their waiter: True for an ack.
        self.outcomes: dict[int, bool] = {}
        self._returned: dict[int, ReturnedMessage] = {}
        self._return_keys: dict[int, ReturnKey] = {}
        self._unmatched: dict[ReturnKey, deque[_Return]] = {}
        self._arrivals: deque[_Return] = deque()

    # -- publishing (under the connection's publish lock) ---------------------------

    def take_tag(self, key: ReturnKey | None) -> int:
        """The next delivery tag, pending from now; ``key`` for a mandatory one.

        Called before the write: the return may be read at once.
        """
        self.next_tag += 1
        tag = self.next_tag
        self.pending.append(tag)
        if key is not None:
            self._return_keys[tag] = key
        return tag

    def take_tags(self, keys: list[ReturnKey] | None, count: int) -> list[int]:
        """``count`` consecutive tags (with their keys when mandatory)."""
        first = self.next_tag + 1
        self.next_tag += count
        tags = list(range(first, first + count))
        self.pending.extend(tags)
        if keys is not None:
            self._return_keys.update(zip(tags, keys, strict=True))
        return tags

    # -- what the broker sends (in the reading thread) --------------------------------

    def settle(self, tag: int, multiple: bool, *, acked: bool) -> None:
        """Record a ``basic.ack`` or ``basic.nack`` of ``tag``.

        A return is matched before the outcome is stored: a waiter in
        another thread takes both as soon as it sees the outcome.
        """
        pending = self.pending
        outcomes = self.outcomes
        keys = self._return_keys
        if multiple:
            while pending and pending[0] <= tag:
                settled = pending.popleft()
                if keys:
                    self._match_return(settled, acked)
                outcomes[settled] = acked
        elif pending and pending[0] == tag:
            pending.popleft()
            if keys:
                self._match_return(tag, acked)
            outcomes[tag] = acked
        else:
            with contextlib.suppress(ValueError):
                pending.remove(tag)
                if keys:
                    self._match_return(tag, acked)
                outcomes[tag] = acked
        if self._arrivals:
            self._drop_stale_returns()

    def returned(self, key: ReturnKey, message: ReturnedMessage) -> None:
        """Keep a ``basic.return`` until the confirm of its message.

        Which message is this?  Not the oldest unconfirmed one: RabbitMQ
        confirms out of order (a routed persistent message after its disk
        write, a returned one at once).  What holds, per channel: the return
        of a message is sent while its publish is handled, so before any ack
        that settles it.  But acks are coalesced (one multiple ack for the
        settled prefix, then single acks), so the next ack may not cover it,
        or cover others too.  So returns wait here, and a mandatory message
        takes, when its ack settles it, the oldest waiting return with its
        exchange, routing key and body: its own return is always there by
        then.  Messages equal in all three are told apart by order only,
        which is harmless: whichever takes a return, the outcomes report the
        right number of each.
        """
        if not self.pending:
            return
        entry = _Return(self.next_tag, key, message)
        self._arrivals.append(entry)
        bucket = self._unmatched.get(key)
        if bucket is None:
            bucket = self._unmatched[key] = deque()
        bucket.append(entry)

    # -- the waiter --------------------------------------------------------------------

    def outcome(self, tag: int) -> tuple[bool, ReturnedMessage | None]:
        """Take ``tag``'s outcome (it must be in :attr:`outcomes`)."""
        return self.outcomes.pop(tag), self._returned.pop(tag, None)

    def forget_returns(self) -> None:
        """Drop every return waiting to be matched (the channel closed)."""
        # New objects rather than clear(): the reading thread may be using
        # the old ones.
        self._return_keys = {}
        self._unmatched = {}
        self._arrivals = deque()

    # -- internals ---------------------------------------------------------------------

    def _match_return(self, tag: int, acked: bool) -> None:
        """Give a settled ``mandatory`` message the return that is its own."""
        key = self._return_keys.pop(tag, None)
        # A nacked message was not returned (RabbitMQ acks a returned one).
        if key is None or not acked:
            return
        bucket = self._unmatched.get(key)
        if not bucket:
            return
        entry = bucket.popleft()
        if not bucket:
            self._unmatched.pop(key, None)
        entry.matched = True
        self._returned[tag] = entry.message

    def _drop_stale_returns(self) -> None:
        """Forget returns whose message is settled without claiming them.

        A return's message was still unsettled when the return arrived,
        with a tag no higher than the return's ``bound``; once no tag up to
        ``bound`` is pending, that message settled, so the return belonged
        to a message sent without confirms and nothing will claim it.
        """
        arrivals = self._arrivals
        pending = self.pending
        while arrivals:
            entry = arrivals[0]
            if not entry.matched:
                if pending and pending[0] <= entry.bound:
                    return
                # The oldest unmatched return of its key: its bucket's head
                # (buckets lose entries from the head only, in arrival order).
                bucket = self._unmatched.get(entry.key)
                if bucket:
                    bucket.popleft()
                    if not bucket:
                        self._unmatched.pop(entry.key, None)
            arrivals.popleft()
