"""A live py-amqp connection: channels, events, blocking, and closing.

It is what :class:`~.contract.ChannelConnection` says a channel needs;
the connect path that makes one is connect.py, its heartbeats are
heartbeat.py's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from amqp import exceptions as amqp_errors

from kombu_lite._log import get_logger
from kombu_lite.exceptions import (
    ConnectionBlocked,
    OperationalError,
    RpcTimeout,
)
from kombu_lite.transport.idle import IdleHooks
from kombu_lite.transport.pyamqp._mapping import ErrorContext, map_amqp_errors
from kombu_lite.transport.pyamqp.channel import PyAmqpChannel
from kombu_lite.transport.pyamqp.heartbeat import Heartbeat
from kombu_lite.transport.pyamqp.reader import FrameReader

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from kombu_lite.transport.base import ConnectionParameters
    from kombu_lite.transport.pyamqp._mapping import Closable

__all__ = ["PyAmqpConnection"]

_log = get_logger(__name__)
#: Seconds between two looks at the socket before publishes.
_POLL_INTERVAL = 0.02
#: Methods already buffered that drain_events reads (and queues) under one
#: hold of the read lock.  Bounded so that a thread waiting for a reply in
#: the same batch gets it after at most this many quick dispatches.
_BATCH = 128


class PyAmqpConnection:
    """One connection over py-amqp (a :class:`~.base.WireConnection`)."""

    def __init__(
        self,
        connection: Any,
        where: str,
        params: ConnectionParameters | None = None,
    ) -> None:
        self._conn = connection
        self.where = where
        self._broken = False
        #: The broker's reason while it blocks publishing, else None.
        self.blocked_reason: str | None = None
        self._blocked_timeout = params.blocked_connection_timeout if params else 60.0
        self._on_blocked = params.on_blocked if params else None
        self._on_unblocked = params.on_unblocked if params else None
        #: When :meth:`poll` looks at the socket again (``time.monotonic``).
        self.next_poll = 0.0
        connection.on_blocked = self._blocked
        connection.on_unblocked = self._unblocked
        #: Held while a confirmed publish takes its tag and writes its frames.
        self.publish_lock = threading.Lock()
        #: Reads frames for every thread that waits (see reader.py); writers
        #: are serialised by the connection's frame-writer lock.
        self.reader = FrameReader(
            connection, where, params.rpc_timeout if params else 30.0
        )
        #: Held while one thread reads one frame (never for a whole call).
        self.read_lock = self.reader.read_lock
        # Channel numbers are taken one thread at a time (py-amqp's own
        # allocation is not thread-safe); the open itself waits unlocked.
        self._open_lock = threading.Lock()
        connection.kl_reader = self.reader
        #: Where errors happened, for their texts (mapped in _mapping.py).
        self.errors = ErrorContext(where)
        #: Run by drain_events before it waits for the socket.
        self.idle_hooks = IdleHooks()
        self._heartbeat: Heartbeat | None = None
        interval = float(connection.heartbeat or 0)
        if interval > 0:
            self._heartbeat = Heartbeat(
                connection, where, interval, self._dead, self.reader.data_waiting
            )

    # -- connection.blocked ------------------------------------------------------

    def _blocked(self, reason: str) -> None:
        self.blocked_reason = str(reason or "blocked")
        self._notify_user(self._on_blocked, self.blocked_reason)

    def _unblocked(self) -> None:
        self.blocked_reason = None
        self.confirm_arrived()
        self._notify_user(self._on_unblocked)

    @staticmethod
    def _notify_user(callback: Any, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - logged; user code in the reader
            # Runs inside the frame reader: an error here must not break it.
            _log.exception("on_blocked/on_unblocked callback failed")

    def poll(self, *, force: bool = False) -> None:
        """Handle frames already waiting on the socket, without blocking.

        Called before each publish (at most every 20 ms), so that a
        ``connection.blocked`` or a channel close is seen by a connection
        that only ever writes.  Skipped when another thread is reading
        (that thread handles what arrives): only one thread at a time
        looks at the socket.
        """
        now = time.monotonic()
        if now < self.next_poll and not force:
            return
        self.next_poll = now + _POLL_INTERVAL
        with self._guard():
            self.reader.read_waiting()

    def before_publish(self) -> None:
        """Wait while the broker blocks publishing, up to the set timeout.

        Raises:
            ConnectionBlocked: still blocked after ``blocked_connection_timeout``;
                the message was not sent.
        """
        if time.monotonic() >= self.next_poll:
            self.poll()
        if self.blocked_reason is None:
            return
        limit = self._blocked_timeout
        deadline = None if limit is None else time.monotonic() + limit
        while self.blocked_reason is not None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ConnectionBlocked(
                    f"{self.where} blocks publishing ({self.blocked_reason}) and "
                    f"did not unblock within {limit}s: the message was not sent",
                    reply_text=self.blocked_reason,
                )
            self.wait_for_event(remaining, None)

    @property
    def generation(self) -> int:
        """Bumped after every read: pass it to :meth:`wait_for_event`."""
        return self.reader.generation

    def blocked_during_confirm(
        self, since: float | None, delivery_tag: int
    ) -> tuple[float | None, float | None]:
        """Bound a confirm wait by ``blocked_connection_timeout``.

        A broker that blocks the connection stops reading it: a message
        written just before the block waits, unread, for the unblock, and so
        does its confirm.  ``since`` is when this wait first saw the block
        (None: not yet).  Returns the new ``since`` and how long the wait may
        go on before the limit (None: no limit now).

        Raises:
            ConnectionBlocked: blocked for the whole timeout; the outcome of
                the message is unknown, so it must not be sent again.
        """
        if self.blocked_reason is None:
            return None, None
        now = time.monotonic()
        since = now if since is None else since
        limit = self._blocked_timeout
        if limit is None:
            return since, None
        left = since + limit - now
        if left <= 0:
            raise ConnectionBlocked(
                f"{self.where} blocks publishing ({self.blocked_reason}) and did "
                f"not unblock within {limit}s while message {delivery_tag} awaited "
                f"its confirm: the outcome is unknown (the broker holds it unread "
                f"and may enqueue it once unblocked), so it is not retried",
                reply_text=self.blocked_reason,
            )
        return since, left

    def drop_stalled(self) -> None:
        """A write timed out: drop the connection, which cannot be used again.

        Part of a frame may have gone out.  A ``connection.blocked`` still
        unread is read first, so that the error can name the block.
        """
        self._broken = True
        with contextlib.suppress(Exception):
            self.poll(force=True)  # a connection.blocked may be unread
        self.close()

    def _dead(self) -> None:
        # The heartbeat found the broker silent and shut the socket down.
        self._broken = True

    @property
    def heartbeat(self) -> float:
        """The negotiated heartbeat interval in seconds (0: off)."""
        return float(self._conn.heartbeat or 0)

    @property
    def is_connected(self) -> bool:
        """False once closed or found broken."""
        return not self._broken and bool(self._conn.connected)

    @property
    def server_properties(self) -> Mapping[str, object]:
        """The broker's ``connection.start`` properties."""
        return dict(self._conn.server_properties or {})

    def channel(self) -> PyAmqpChannel:
        """Open a channel.

        Raises:
            RpcTimeout: no ``channel.open-ok`` within ``rpc_timeout``.
        """
        conn = self._conn
        with self._guard():
            with self._open_lock:
                if conn.channels is None:
                    raise amqp_errors.RecoverableConnectionError(
                        "connection already closed"
                    )
                raw = conn.Channel(conn)  # takes a number, sends nothing
            raw.open()
            return PyAmqpChannel(self, raw)

    def drain_events(self, timeout: float | None = None) -> None:
        """Dispatch one event; TimeoutError when nothing came in time.

        A queued delivery (read by any thread meanwhile) is handed to its
        consumer first, in this thread and outside the read lock.  Else
        frames are read (or, while another thread reads, that thread's
        frames awaited) until a method arrives; a delivery is then handed
        out at once.  Only this method runs consumer callbacks, so they
        never nest inside a confirm wait or a synchronous call.
        """
        reader = self.reader
        # The common case on a busy consumer: a delivery of the last batch
        # read waits, and nothing else is needed to hand it out.
        if reader.has_queued and reader.hand_out():
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            seen = reader.generation
            if reader.has_queued:
                if reader.hand_out():
                    return
                continue
            if self.idle_hooks:
                # Nothing left to hand out: the end of a batch (batched acks).
                with self._guard():
                    self.idle_hooks.run()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0 and not first:
                raise TimeoutError(f"nothing arrived from {self.where} in {timeout}s")
            first = False
            try:
                completed = reader.step(
                    seen,
                    None if remaining is None else max(remaining, 0.0),
                    _BATCH,
                )
            except BaseException:
                # Mapped only when something failed: a context manager around
                # every event costs more than the event on a fast consumer.
                with self._guard():
                    raise
            if completed and not reader.has_queued:
                return

    def wait_for_event(
        self,
        timeout: float | None,
        channel: Closable | None,
        seen: int | None = None,
    ) -> None:
        """Read and dispatch what arrives, for up to about ``timeout`` seconds.

        If another thread is reading, wait for it to read something instead
        of reading concurrently.  ``seen`` is :attr:`generation` as it was
        before the caller looked at what it waits for (then nothing read
        meanwhile is missed).
        """
        step = 1.0 if timeout is None else max(min(timeout, 1.0), 0.0)
        reader = self.reader
        try:
            reader.step(reader.generation if seen is None else seen, step)
        except BaseException:
            with self._guard(channel):
                raise

    def confirm_arrived(self) -> None:
        """Wake threads waiting for confirms that another thread read."""
        self.reader.wake()

    @contextlib.contextmanager
    def _guard(self, channel: Closable | None = None) -> Iterator[None]:
        try:
            with map_amqp_errors(self.errors, channel):
                yield
        except RpcTimeout:
            raise  # one channel's call: the connection is fine
        except OperationalError:
            self._broken = True
            raise

    def close(self) -> None:
        """Close the connection; never raises."""
        self._broken = True
        if self._heartbeat is not None:
            self._heartbeat.stop()
        # The peer may be gone already: closing must not raise.  The wait
        # for close-ok is bounded by rpc_timeout, and holds no lock: a
        # consumer thread reading meanwhile reads the close-ok for it.
        with contextlib.suppress(Exception):
            self._conn.close()
        with contextlib.suppress(Exception):
            self._conn.collect()
        # Threads still waiting find the connection closed.
        self.reader.wake()
